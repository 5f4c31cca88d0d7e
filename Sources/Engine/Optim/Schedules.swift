import Foundation

// Per-epoch schedules: constant, StepLR, MultiStepLR. Rates are Doubles like PyTorch's `param_group['lr']`
// and rounded to Float only when handed to the optimizer.

/// Keeps one learning rate; `override` replaces it.
public final class ConstantSchedule: LearningRateSchedule {
    private var rate: Double

    public init(learningRate: Double) { rate = learningRate }

    public var learningRate: Float { Float(rate) }
    public func stepBatch() -> Float { learningRate }
    public func stepEpoch(metric: Float?) -> Float { learningRate }
    public func override(learningRate: Float) { rate = Double(learningRate) }
    public var state: [String: Double] { ["lr": rate] }
    public func restore(_ state: [String: Double]) throws { rate = try value("lr", in: state, schedule: "constant schedule") }
}

/// Multiplies the rate by `gamma` at chosen epochs: every `stepSize` epochs (PyTorch `StepLR`) or at each
/// milestone (PyTorch `MultiStepLR`; a milestone listed twice decays twice). Stepped by `stepEpoch`.
///
/// The rate is `anchorRate * gamma^(decays(epoch) - anchorDecays)`: the anchor starts at the base rate with
/// no decays, and `override` moves it to the new rate at the current epoch, so later decays multiply it.
public final class EpochDecaySchedule: LearningRateSchedule {
    public enum Rule: Equatable, Sendable {
        /// StepLR: decay after every `stepSize` epochs.
        case every(Int)
        /// MultiStepLR: decay when the epoch count reaches each milestone (sorted, repeats allowed).
        case milestones([Int])
    }

    public let rule: Rule
    public let gamma: Double
    public private(set) var epoch = 0
    private var anchorRate: Double
    private var anchorDecays = 0
    private var rate: Double

    public init(baseLearningRate: Double, rule: Rule, gamma: Double) throws {
        let name = "schedule"
        switch rule {
        case .every(let size) where size < 1:
            throw EngineError.invalidArgument(layer: name, message: "step size \(size) must be at least 1 epoch")
        case .milestones(let ms) where ms.isEmpty || ms.contains(where: { $0 < 1 }):
            throw EngineError.invalidArgument(layer: name, message: "milestones \(ms) must be a non-empty list of epochs >= 1")
        default: break
        }
        guard gamma > 0 else { throw EngineError.invalidArgument(layer: name, message: "gamma \(gamma) must be positive") }
        if case .milestones(let ms) = rule { self.rule = .milestones(ms.sorted()) } else { self.rule = rule }
        self.gamma = gamma
        anchorRate = baseLearningRate
        rate = baseLearningRate
    }

    /// How many decays have happened after `epoch` epochs.
    func decays(after epoch: Int) -> Int {
        switch rule {
        case .every(let size): return epoch / size
        case .milestones(let ms): return ms.reduce(0) { $0 + ($1 <= epoch ? 1 : 0) }
        }
    }

    private func rate(at epoch: Int) -> Double {
        var r = anchorRate
        for _ in 0..<max(0, decays(after: epoch) - anchorDecays) { r *= gamma }  // PyTorch multiplies step by step
        return r
    }

    public var learningRate: Float { Float(rate) }
    public func stepBatch() -> Float { learningRate }

    public func stepEpoch(metric: Float?) -> Float {
        epoch += 1
        rate = rate(at: epoch)
        return learningRate
    }

    public func override(learningRate: Float) {
        rate = Double(learningRate)
        anchorRate = rate
        anchorDecays = decays(after: epoch)
    }

    public var state: [String: Double] {
        ["epoch": Double(epoch), "anchor_lr": anchorRate, "anchor_decays": Double(anchorDecays), "lr": rate]
    }

    public func restore(_ state: [String: Double]) throws {
        let name = "step schedule"
        let epoch = try counter("epoch", in: state, schedule: name), anchorRate = try value("anchor_lr", in: state, schedule: name)
        let anchorDecays = try counter("anchor_decays", in: state, schedule: name), rate = try value("lr", in: state, schedule: name)
        self.epoch = epoch
        self.anchorRate = anchorRate
        self.anchorDecays = anchorDecays
        self.rate = rate
    }
}
