import Testing
import Training
@testable import TUI

/// The form on `l`: the learning rate and what else the run can steer, Tab between fields, Enter applies.
@Suite struct SteeringFormTests {
    /// The sample run with rules: SGD under a constant schedule (every field), or Adam under cosine (lr, weight decay).
    static func model(optimizer: TrainingConfig.OptimizerKind = .sgd, schedule: String = "constant") -> DashboardModel {
        var run = Sample.run
        run.momentum = 0.9
        run.weightDecay = 5e-4
        run.steering = SteeringRules(optimizer: optimizer, schedule: schedule, trainImages: 12_800, dropLast: false)
        var m = DashboardModel()
        m.apply(.started(run))
        m.apply(.stateChanged(.running))
        return m
    }

    func press(_ keys: [Key], model: DashboardModel = Self.model()) -> (UIState, [UIAction]) {
        var s = UIState()
        var all: [UIAction] = []
        for k in keys {
            let (n, a) = handleKey(k, state: s, model: model)
            s = n; all += a
        }
        return (s, all)
    }

    func typed(_ text: String) -> [Key] { text.map { .character($0) } }

    @Test func tabMovesBetweenTheRunsFieldsAndEnterAppliesWhatWasFilled() {
        let open = press([.character("l")]).0
        #expect(open.steeringForm?.fields == [.learningRate, .momentum, .weightDecay, .batchSize])
        let keys: [Key] = [.character("l")] + typed("0.01") + [.tab] + typed("0.5") + [.tab, .tab] + typed("32") + [.enter]
        let (s, actions) = press(keys)
        #expect(actions == [.send(.setLearningRate(0.01)), .send(.set(.momentum, 0.5)), .send(.set(.batchSize, 32))])
        #expect(s.steeringForm == nil && !s.messageIsError)
        #expect(s.message == "learning rate → 0.01, momentum → 0.5, batch size → 32 (next epoch)")
        // Shift-Tab goes back, wrapping: from the learning rate to the batch size.
        #expect(press([.character("l"), .backTab]).0.steeringForm?.focusedField == .batchSize)
        // Only the weight decay, the rate left empty.
        #expect(press([.character("l"), .tab, .tab] + typed("1e-4") + [.enter]).1 == [.send(.set(.weightDecay, 1e-4))])
        #expect(press([.character("l"), .enter]).0.message == "nothing changed")
    }

    @Test func aBadValueAppliesNothingAndShowsItsField() {
        let (s, actions) = press([.character("l")] + typed("0.01") + [.tab] + typed("1.5") + [.enter])
        #expect(actions.isEmpty && s.messageIsError)
        #expect(s.message?.hasPrefix("momentum: momentum must be in [0, 1)") == true)
        #expect(s.steeringForm?.focusedField == .momentum && s.steeringForm?.inputs[0].text == "0.01")
        let (t, none) = press([.character("l"), .tab, .tab, .tab] + typed("big") + [.enter])
        #expect(none.isEmpty && t.message == "batch size: not a number: \"big\"")
        let (u, cancelled) = press([.character("l")] + typed("0.5") + [.escape])
        #expect(cancelled.isEmpty && u.steeringForm == nil && u.message == "nothing changed")
    }

    @Test func fieldsFollowTheOptimizerAndSchedule() {
        let adam = Self.model(optimizer: .adam, schedule: "cosine:warmup=1")
        #expect(press([.character("l")], model: adam).0.steeringForm?.fields == [.learningRate, .weightDecay])
        // A run that says nothing about steering (an older engine's description) gets the learning rate alone.
        #expect(press([.character("l")], model: Sample.model).0.steeringForm?.fields == [.learningRate])
    }

    @Test func changesAreMarkedAndShown() {
        var m = Self.model()
        m.apply(.hyperparameterChanged(.momentum, 0.5, globalStep: 40))
        m.apply(.learningRateChanged(0.02, globalStep: 20, manual: true))
        #expect(m.steeredValues[.momentum] == 0.5 && m.steeredValues[.batchSize] == 128)
        #expect(m.manualChangeMarks == [20, 40] && m.hyperparameterChanges == [40])
        m.apply(.hyperparameterChanged(.batchSize, 64, globalStep: 50))
        #expect(m.notice == "batch size set to 64 at step 50 (from the next epoch)")
        // The status line shows the focused field with its value now, and the others behind Tab.
        let ui = press([.character("l"), .tab], model: m).0
        var grid = CellGrid(width: 100, height: 1)
        Chrome.renderStatus(into: &grid, area: Rect(x: 0, y: 0, width: 100, height: 1), model: m, ui: ui,
                            capabilities: .plainASCII)
        let line = grid.lines.joined()
        #expect(line.contains("new momentum (now 0.5): ") && line.contains("Tab: learning rate, weight decay, batch size"))
    }
}
