import Foundation
import Testing
@testable import Engine

struct ScheduleTests {
    /// Steps `schedule` as the fixture script stepped PyTorch's and compares every rate (the one before any
    /// step first). The fixture holds PyTorch's Double rates rounded to Float, as our `learningRate` is.
    func expectMatches(_ name: String, _ schedule: any LearningRateSchedule, byBatch: Bool = false,
                       metrics: [Float]? = nil) throws {
        let fixture = try Fixture("optim")
        let want = try fixture.entry("\(name).lr").values
        var got = [schedule.learningRate]
        for i in 0..<(want.count - 1) {
            got.append(byBatch ? schedule.stepBatch() : schedule.stepEpoch(metric: metrics?[i]))
        }
        for (i, (g, w)) in zip(got, want).enumerated() {
            #expect(abs(g - w) <= 1e-6 * abs(w), "\(name) after \(i) steps: \(g), PyTorch \(w)")
        }
    }

    @Test func stepLRMatchesPyTorch() throws {
        try expectMatches("steplr", try ScheduleSpec.parse("step:3:0.5").makeSchedule(baseLearningRate: 0.1, epochs: 35, batchesPerEpoch: 7))
    }

    @Test func multiStepLRMatchesPyTorch() throws {
        let schedule = try ScheduleSpec.parse("multistep:5,12,20:0.3").makeSchedule(baseLearningRate: 0.1, epochs: 35, batchesPerEpoch: 7)
        try expectMatches("multisteplr", schedule)
    }

    /// 10 epochs of 4 batches, 2 warm-up epochs: PyTorch's SequentialLR(LinearLR, CosineAnnealingLR).
    @Test func warmupCosineMatchesPyTorch() throws {
        let spec = try ScheduleSpec.parse("cosine:warmup=2:min=0.0005:start=0.1")
        let schedule = try spec.makeSchedule(baseLearningRate: 0.05, epochs: 10, batchesPerEpoch: 4)
        #expect(schedule.stepEpoch(metric: 1) == schedule.learningRate)  // per batch only
        try expectMatches("cosine", schedule, byBatch: true)
        #expect(schedule.stepBatch() == 0.0005)  // past the end it stays at the minimum
    }

    @Test func plateauMinMatchesPyTorch() throws {
        let fixture = try Fixture("optim")
        let metrics = try fixture.entry("plateau_min.metric").values
        let spec = try ScheduleSpec.parse("plateau:mode=min:factor=0.5:patience=2:threshold=0.01:threshold_mode=rel:cooldown=2:min=0.01")
        try expectMatches("plateau_min", try spec.makeSchedule(baseLearningRate: 0.1, epochs: 1, batchesPerEpoch: 1), metrics: metrics)
    }

    @Test func plateauMaxMatchesPyTorch() throws {
        let fixture = try Fixture("optim")
        let metrics = try fixture.entry("plateau_max.metric").values
        let spec = try ScheduleSpec.parse("plateau:mode=max:factor=0.94:patience=1:threshold=1e-3:cooldown=1:min=0.0088:eps=1e-4")
        try expectMatches("plateau_max", try spec.makeSchedule(baseLearningRate: 0.01, epochs: 1, batchesPerEpoch: 1), metrics: metrics)
    }

    @Test func plateauIgnoresEpochsWithoutMetric() throws {
        let schedule = try ReduceLROnPlateau(baseLearningRate: 0.1, options: { var o = ReduceLROnPlateau.Options(); o.patience = 0; return o }())
        _ = schedule.stepEpoch(metric: 1)
        for _ in 0..<5 { #expect(schedule.stepEpoch(metric: nil) == 0.1) }
        #expect(schedule.stepEpoch(metric: 2) == Float(0.1 * 0.1))
    }

    // MARK: - Parsing

    @Test func parsesSpecs() throws {
        #expect(try ScheduleSpec.parse("constant") == .constant)
        #expect(try ScheduleSpec.parse("step:10:0.5") == .step(epochs: 10, gamma: 0.5))
        #expect(try ScheduleSpec.parse("Step:10") == .step(epochs: 10, gamma: 0.1))
        #expect(try ScheduleSpec.parse("multistep:30,60:0.1") == .multiStep(milestones: [30, 60], gamma: 0.1))
        #expect(try ScheduleSpec.parse("cosine:warmup=5:min=0.0005")
                == .warmupCosine(warmupEpochs: 5, minLearningRate: 0.0005, startFactor: 0.1))
        #expect(try ScheduleSpec.parse("cosine") == .warmupCosine(warmupEpochs: 0, minLearningRate: 0, startFactor: 0.1))
        var seed000 = ReduceLROnPlateau.Options()
        seed000.factor = 0.94
        seed000.patience = 1
        seed000.minLearningRate = 1e-6
        #expect(try ScheduleSpec.parse("plateau:factor=0.94:patience=1:min=1e-6") == .plateau(seed000))
        for text in ["constant", "step:10:0.5", "multistep:30,60:0.1", "cosine:warmup=5:min=0.0005",
                     "plateau:mode=max:factor=0.94:patience=1:min=1e-6:threshold_mode=abs:cooldown=3:eps=1e-9"] {
            let spec = try ScheduleSpec.parse(text)
            #expect(try ScheduleSpec.parse(spec.description) == spec, "\(text) -> \(spec)")
        }
    }

    @Test(arguments: [
        ("", "unknown schedule ''"),
        ("linear:5", "unknown schedule 'linear'"),
        ("constant:3", "constant takes no fields"),
        ("step", "step takes 1 or 2 fields, got 0"),
        ("step:x:0.5", "step size 'x' is not a whole number >= 1"),
        ("step:0", "step size '0' is not a whole number >= 1"),
        ("step:10:-1", "gamma '-1' is not a number >= 0"),
        ("step:10:0", "gamma must be positive"),
        ("multistep:30,,60", "milestone '' is not a whole number >= 1"),
        ("cosine:warmup=five", "warmup 'five' is not a whole number >= 0"),
        ("cosine:warmup", "field 'warmup' is not key=value"),
        ("cosine:warm=5", "unknown key 'warm'; known: warmup, min, start"),
        ("cosine:start=0", "start factor 0.0 must lie in (0, 1]"),
        ("plateau:factor=1.5", "factor 1.5 must lie in (0, 1)"),
        ("plateau:mode=up", "mode 'up' is not min or max"),
        ("plateau:patience=1:patience=2", "key 'patience' given twice"),
    ])
    func rejectsBadSpecs(text: String, problem: String) {
        do {
            let spec = try ScheduleSpec.parse(text)
            Issue.record("'\(text)' parsed as \(spec)")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("schedule '\(text)': \(problem) (expected "), "\(message)")
        }
    }

    @Test func rejectsCosineWarmupLongerThanRun() throws {
        let spec = try ScheduleSpec.parse("cosine:warmup=5")
        #expect(throws: EngineError.self) { try spec.makeSchedule(baseLearningRate: 0.1, epochs: 5, batchesPerEpoch: 10) }
    }

    // MARK: - Manual override

    @Test func stepOverrideKeepsDecayingFromTheNewRate() throws {
        let schedule = try EpochDecaySchedule(baseLearningRate: 0.1, rule: .every(3), gamma: 0.5)
        for _ in 0..<4 { _ = schedule.stepEpoch(metric: nil) }  // epoch 4: 0.05
        #expect(schedule.learningRate == 0.05)
        schedule.override(learningRate: 0.2)
        #expect(schedule.learningRate == 0.2)
        #expect(schedule.stepBatch() == 0.2)
        #expect(schedule.stepEpoch(metric: nil) == 0.2)  // epoch 5
        #expect(schedule.stepEpoch(metric: nil) == 0.1)  // epoch 6: the next decay halves the new rate
        for _ in 0..<3 { _ = schedule.stepEpoch(metric: nil) }
        #expect(schedule.learningRate == 0.05)  // epoch 9
    }

    @Test func multiStepOverrideKeepsLaterMilestones() throws {
        let schedule = try EpochDecaySchedule(baseLearningRate: 1, rule: .milestones([2, 4]), gamma: 0.1)
        for _ in 0..<3 { _ = schedule.stepEpoch(metric: nil) }
        schedule.override(learningRate: 0.5)
        #expect(schedule.stepEpoch(metric: nil) == Float(0.5 * 0.1))
        #expect(schedule.stepEpoch(metric: nil) == Float(0.5 * 0.1))
    }

    @Test func cosineOverrideRescalesTheRestOfTheCurve() throws {
        let reference = try WarmupCosineSchedule(baseLearningRate: 0.05, minLearningRate: 0.0005, warmupSteps: 8, totalSteps: 40, startFactor: 0.1)
        let schedule = try WarmupCosineSchedule(baseLearningRate: 0.05, minLearningRate: 0.0005, warmupSteps: 8, totalSteps: 40, startFactor: 0.1)
        for _ in 0..<20 {
            _ = reference.stepBatch()
            _ = schedule.stepBatch()
        }
        let scale = 0.01 / Double(reference.learningRate)
        schedule.override(learningRate: 0.01)
        #expect(schedule.learningRate == 0.01)
        for _ in 20..<40 {
            let want = Double(reference.stepBatch()) * scale
            let got = Double(schedule.stepBatch())
            #expect(abs(got - want) <= 1e-6 * want)
        }
        #expect(abs(Double(schedule.learningRate) - 0.0005 * scale) <= 1e-9)  // ends at the scaled minimum
    }

    @Test func cosineOverrideAtAZeroEndBecomesTheFloor() throws {
        let schedule = try WarmupCosineSchedule(baseLearningRate: 0.1, minLearningRate: 0, warmupSteps: 0, totalSteps: 4, startFactor: 1)
        for _ in 0..<4 { _ = schedule.stepBatch() }
        #expect(schedule.learningRate == 0)
        schedule.override(learningRate: 0.001)
        #expect(schedule.stepBatch() == 0.001)
    }

    @Test func plateauOverrideKeepsCounters() throws {
        var options = ReduceLROnPlateau.Options()
        options.factor = 0.5
        options.patience = 1
        let schedule = try ReduceLROnPlateau(baseLearningRate: 0.1, options: options)
        _ = schedule.stepEpoch(metric: 1.0)
        _ = schedule.stepEpoch(metric: 1.0)  // one bad epoch
        schedule.override(learningRate: 0.3)
        #expect(schedule.badEpochs == 1 && schedule.best == 1.0)
        #expect(schedule.stepEpoch(metric: 1.0) == 0.15)  // second bad epoch: reduces the new rate
    }

    // MARK: - Checkpoint state

    /// Runs 12 epochs of 3 batches with an override at epoch 4, saves the state at epoch 7, restores it into a
    /// fresh schedule from the same spec, and continues both: the rates are identical.
    @Test(arguments: ["constant", "step:3:0.5", "multistep:2,5,9:0.3", "cosine:warmup=2:min=0.0005",
                      "plateau:factor=0.5:patience=1:cooldown=1:min=0.001"])
    func stateRoundTrip(text: String) throws {
        let spec = try ScheduleSpec.parse(text)
        let metrics: [Float] = [1, 0.9, 0.95, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.7, 0.75, 0.76]
        let schedule = try spec.makeSchedule(baseLearningRate: 0.1, epochs: 12, batchesPerEpoch: 3)
        var fresh: (any LearningRateSchedule)?
        for epoch in 0..<12 {
            if epoch == 4 { schedule.override(learningRate: schedule.learningRate * 1.5) }
            if epoch == 7 {
                let restored = try spec.makeSchedule(baseLearningRate: 0.1, epochs: 12, batchesPerEpoch: 3)
                try restored.restore(schedule.state)
                #expect(restored.learningRate == schedule.learningRate)
                fresh = restored
            }
            for _ in 0..<3 {
                let a = schedule.stepBatch()
                if let fresh { #expect(fresh.stepBatch() == a, "\(text) epoch \(epoch)") }
            }
            let a = schedule.stepEpoch(metric: metrics[epoch])
            if let fresh { #expect(fresh.stepEpoch(metric: metrics[epoch]) == a, "\(text) epoch \(epoch)") }
        }
        #expect(fresh != nil)
    }

    @Test func restoreRejectsStateOfAnotherSchedule() throws {
        let step = try ScheduleSpec.parse("step:3").makeSchedule(baseLearningRate: 0.1, epochs: 10, batchesPerEpoch: 2)
        let cosine = try ScheduleSpec.parse("cosine").makeSchedule(baseLearningRate: 0.1, epochs: 10, batchesPerEpoch: 2)
        #expect(throws: EngineError.self) { try step.restore(cosine.state) }
        var broken = step.state
        broken["epoch"] = -3
        #expect(throws: EngineError.self) { try step.restore(broken) }
    }
}
