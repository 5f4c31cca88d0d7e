import Foundation
import Testing
@testable import Engine

/// Largest |got - want| / max(|want|, floor), where the floor is a tenth of the tensor's largest |want|:
/// an element that crosses zero is the difference of terms of the tensor's scale, so its rounding error
/// is one of that scale, not of its own.
func maxRelativeError(_ got: ArraySlice<Float>, _ want: ArraySlice<Float>) -> Float {
    let floor = max(0.1 * want.reduce(0) { max($0, abs($1)) }, 1e-30)
    return zip(got, want).reduce(0) { worst, pair in max(worst, abs(pair.0 - pair.1) / max(abs(pair.1), floor)) }
}

struct OptimizerTests {
    static let configs = ["sgd_plain", "sgd_momentum_wd", "sgd_nesterov", "sgd_dampening", "adam", "adam_wd", "adamw_wd"]

    /// The optimizer PyTorch ran for `config` (see scripts/fixtures/optim.py), over `parameters`.
    static func makeOptimizer(_ config: String, _ parameters: [Parameter]) throws -> any Optimizer {
        switch config {
        case "sgd_plain": return try SGD(parameters: parameters, learningRate: 0.1)
        case "sgd_momentum_wd": return try SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
        case "sgd_nesterov":
            return try SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-3, nesterov: true)
        case "sgd_dampening": return try SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9, dampening: 0.1)
        case "adam": return try Adam(parameters: parameters, learningRate: 0.01)
        case "adam_wd": return try Adam(parameters: parameters, learningRate: 0.01, weightDecay: 0.05)
        case "adamw_wd": return try Adam.adamW(parameters: parameters, learningRate: 0.01, weightDecay: 0.01)
        default: throw EngineError.invalidArgument(layer: "test", message: "unknown config \(config)")
        }
    }

    /// The fixture's two parameters at their initial values.
    static func initialParameters(_ fixture: Fixture, _ config: String) throws -> [Parameter] {
        try (0..<2).map { i in
            let e = try fixture.entry("\(config).p\(i).init")
            let p = Parameter(shape: e.shape)
            for (j, v) in e.values.enumerated() { p.value[j] = v }
            return p
        }
    }

    /// Loads step `step`'s gradients and learning rate, as the fixture's loop did before `opt.step()`.
    static func prepareStep(_ step: Int, _ fixture: Fixture, _ config: String,
                            _ parameters: [Parameter], _ optimizer: any Optimizer) throws {
        optimizer.learningRate = try fixture.entry("\(config).lr").values[step]
        for (i, p) in parameters.enumerated() {
            let grads = try fixture.entry("\(config).p\(i).grad").values
            let n = p.count
            for j in 0..<n { p.grad?[j] = grads[step * n + j] }
        }
    }

    /// Every step of every config against PyTorch. PyTorch's vectorised CPU kernels fuse some multiply-adds
    /// (lerp_, add_ with alpha); we do not, so a value may differ in its last bit: the bound is 1e-6 relative
    /// (to a tenth of the tensor's scale for elements near zero, see `maxRelativeError`); the worst is printed.
    @Test(arguments: configs)
    func matchesPyTorchEveryStep(config: String) throws {
        let fixture = try Fixture("optim")
        let parameters = try Self.initialParameters(fixture, config)
        let optimizer = try Self.makeOptimizer(config, parameters)
        let steps = try fixture.entry("\(config).lr").values.count
        var worst: Float = 0
        for step in 0..<steps {
            try Self.prepareStep(step, fixture, config, parameters, optimizer)
            optimizer.step()
            for (i, p) in parameters.enumerated() {
                let want = try fixture.entry("\(config).p\(i).after").values[(step * p.count)..<((step + 1) * p.count)]
                let err = maxRelativeError(p.value.array[...], want)
                worst = max(worst, err)
                #expect(err <= 1e-6, "\(config) step \(step + 1) parameter \(i): relative error \(err)")
            }
        }
        // The moments after the last step equal torch's optimizer.state.
        let state = Dictionary(optimizer.stateEntries(), uniquingKeysWith: { a, _ in a })
        for (key, want) in fixture.entries where key.hasPrefix("\(config).state.") {
            let name = String(key.dropFirst("\(config).state.".count))
            let got = try #require(state[name], "\(config): optimizer state lacks '\(name)'")
            #expect(got.shape == want.shape)
            let err = maxRelativeError(got.values[...], want.values[...])
            #expect(err <= 1e-6, "\(config) state \(name): relative error \(err)")
        }
        #expect(state["step"]?.values == [Float(steps)])
        print("optim \(config): worst relative error over \(steps) steps \(worst)")
    }

    /// Save mid-run (through a safetensors blob), restore into a fresh optimizer over copied parameters,
    /// continue both: every later step is bit-identical.
    @Test(arguments: ["sgd_nesterov", "sgd_dampening", "adam_wd", "adamw_wd"])
    func stateRoundTrip(config: String) throws {
        let fixture = try Fixture("optim")
        let parameters = try Self.initialParameters(fixture, config)
        let optimizer = try Self.makeOptimizer(config, parameters)
        for step in 0..<10 {
            try Self.prepareStep(step, fixture, config, parameters, optimizer)
            optimizer.step()
        }
        let blob = try Safetensors.encode(optimizer.stateEntries())
        let copies = parameters.map { p in
            let c = Parameter(shape: p.shape)
            c.value.copy(from: p.value)
            return c
        }
        let restored = try Self.makeOptimizer(config, copies)
        try restored.loadState(try Safetensors.decode(blob, file: "mid-run").entries, file: "mid-run")
        for step in 10..<25 {
            try Self.prepareStep(step, fixture, config, parameters, optimizer)
            try Self.prepareStep(step, fixture, config, copies, restored)
            optimizer.step()
            restored.step()
            for (a, b) in zip(parameters, copies) { #expect(a.value.array == b.value.array, "\(config) step \(step + 1)") }
        }
    }

    @Test func loadStateRejectsMissingAndMisshapenEntries() throws {
        let parameters = [Parameter(shape: [3, 4]), Parameter(shape: [5])]
        let adam = try Adam(parameters: parameters)
        var entries = Dictionary(adam.stateEntries(), uniquingKeysWith: { a, _ in a })
        entries["exp_avg_sq.1"] = nil
        #expect(throws: EngineError.checkpoint(file: "ckpt", message: "missing optimizer state 'exp_avg_sq.1'")) {
            try adam.loadState(entries, file: "ckpt")
        }
        entries["exp_avg_sq.1"] = Safetensors.Entry(shape: [4], values: [0, 0, 0, 0])
        #expect(throws: EngineError.checkpoint(
            file: "ckpt", message: "optimizer state 'exp_avg_sq.1' has shape [4], parameter 1 has [5]")) {
            try adam.loadState(entries, file: "ckpt")
        }
        let sgd = try SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9)
        #expect(throws: EngineError.self) { try sgd.loadState([:], file: "ckpt") }
    }

    @Test func rejectsBadHyperparameters() {
        let parameters = [Parameter(shape: [2])]
        #expect(throws: EngineError.invalidArgument(layer: "SGD", message: "nesterov needs momentum > 0 and dampening 0")) {
            try SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true)
        }
        #expect(throws: EngineError.self) { try Adam(parameters: parameters, beta1: 1.0) }
        #expect(throws: EngineError.self) { try SGD(parameters: parameters, learningRate: -1) }
    }

    @Test func keepsTrainableParametersAndZeroesGradients() throws {
        let weight = Parameter(shape: [3]), buffer = Parameter(shape: [3], kind: .buffer)
        weight.grad?.fill(2)
        let sgd = try SGD(parameters: [weight, buffer], learningRate: 0.5)
        #expect(sgd.parameters.count == 1)
        sgd.step()
        #expect(weight.value.array == [-1, -1, -1])
        sgd.zeroGradients()
        #expect(weight.grad?.array == [0, 0, 0])
    }
}
