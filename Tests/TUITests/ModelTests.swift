import Testing
import Training
@testable import TUI

@Suite struct ModelTests {
    @Test func foldsASampleRun() {
        let m = Sample.model
        #expect(m.run?.model == "resnet20" && m.state == .running)
        #expect(m.lastStep?.globalStep == 150 && m.progress == 0.15)
        #expect(m.trainLoss.points.count == 15 && m.trainAccuracy.points.count == 15)
        #expect(m.lastRecord?.globalStep == 150)
        #expect(m.testLoss.points == [ChartPoint(x: 100, y: Double(Float(0.45)))])
        #expect(m.testAccuracy.last?.y == Double(Float(0.85)) && m.bestTestAccuracy == 0.85)
        #expect(m.manualLearningRateChanges == [120])
        #expect(m.currentLearningRate == 0.05)
        #expect(m.notice == "learning rate set to 0.05 at step 120")
        #expect(m.perClassAccuracy.count == 10 && m.confusion[0][0] == 90 && m.misclassified.count == 11)
        #expect(m.classNames == Sample.classNames && m.className(42) == "42")
    }

    /// The train curves are the step records as they came, one point each; step events only move the progress.
    @Test func trainCurvesAreTheRecordsAsTheyAre() {
        var m = DashboardModel()
        m.apply(.step(Sample.step(9)))
        #expect(m.trainLoss.isEmpty && m.lastStep?.globalStep == 9)
        m.apply(.record(Sample.record(10, loss: 1, accuracy: 0.25, lr: 0.1)))
        m.apply(.step(Sample.step(15)))
        m.apply(.record(Sample.record(20, loss: 2, accuracy: 0.5, lr: 0.05)))
        #expect(m.trainLoss.points == [ChartPoint(x: 10, y: 1), ChartPoint(x: 20, y: 2)])
        #expect(m.trainAccuracy.points == [ChartPoint(x: 10, y: 0.25), ChartPoint(x: 20, y: 0.5)])
        #expect(m.learningRate.points.map(\.x) == [10, 20] && m.currentLearningRate == 0.05)
        #expect(m.lastRecord?.loss == 2)
    }

    @Test func lifecycleEvents() {
        var m = DashboardModel.folding([.started(Sample.run), .stateChanged(.paused)])
        #expect(m.state == .paused && m.learningRate.points == [ChartPoint(x: 0, y: Double(Float(0.1)))])
        m.apply(.checkpointSaved(path: "/tmp/s1/ckpt.safetensors", globalStep: 7))
        #expect(m.lastCheckpoint == "/tmp/s1/ckpt.safetensors" && m.notice?.contains("step 7") == true)
        m.apply(.learningRateChanged(0.01, globalStep: 9, manual: false))
        #expect(m.manualLearningRateChanges.isEmpty && m.notice?.hasSuffix("(schedule)") == true)
        m.apply(.finished(testAccuracy: 0.9))
        #expect(m.state == .finished && m.finalTestAccuracy == 0.9)
        m.apply(.failed(message: "NaN loss"))
        #expect(m.state == .failed && m.failure == "NaN loss" && m.notice == "training failed: NaN loss")
    }

    @Test func historiesStayBounded() {
        var s = BoundedSeries(capacity: 64)
        for i in 1...10_000 { s.append(x: Double(i), y: Double(i) * 2) }
        #expect(s.stored.count < 64 && s.stored.count >= 32)
        #expect(s.bucketSize == 256)
        let p = s.points
        #expect(p.first!.x < 300 && p.last!.x == 10_000 - Double((10_000 % 256) - 1) / 2)
        // Averages of a line stay on the line.
        #expect(p.allSatisfy { abs($0.y - 2 * $0.x) < 1e-9 })
        // Stored x values are evenly spaced once downsampled.
        let gaps = Set(zip(s.stored, s.stored.dropFirst()).map { $1.x - $0.x })
        #expect(gaps == [256])
        var m = DashboardModel()
        for i in 1...100 { m.apply(.learningRateChanged(0.1, globalStep: i, manual: true)) }
        #expect(m.manualLearningRateChanges.count == m.maxMarks && m.manualLearningRateChanges.last == 100)
    }
}

@Suite struct KeyTests {
    let model = Sample.model

    func press(_ keys: [Key], from state: UIState = UIState(), model: DashboardModel? = nil) -> (UIState, [UIAction]) {
        var s = state
        var all: [UIAction] = []
        for k in keys {
            let (n, a) = handleKey(k, state: s, model: model ?? self.model)
            s = n; all += a
        }
        return (s, all)
    }

    @Test func quitNeedsConfirmation() {
        #expect(press([.character("q"), .character("y")]).1 == [.send(.stop), .quit])
        let (s, a) = press([.character("q"), .character("n")])
        #expect(a.isEmpty && !s.confirmingQuit && s.message == "quit cancelled")
        #expect(press([.character("q")]).0.confirmingQuit)
        // Ctrl-C quits the same way without asking, also from a prompt.
        #expect(press([.interrupt]).1 == [.send(.stop), .quit])
        #expect(press([.character("l"), .character("1"), .interrupt]).1 == [.send(.stop), .quit])
        // A run that has ended quits at once and has nothing to stop.
        var done = model
        done.apply(.finished(testAccuracy: 0.9))
        #expect(press([.character("q")], model: done).1 == [.quit])
        #expect(press([.interrupt], model: done).1 == [.quit])
        let (ended, none) = press([.character("l")], model: done)
        #expect(none.isEmpty && ended.learningRateInput == nil && ended.messageIsError)
    }

    @Test func pauseFollowsTheTrainingState() {
        #expect(press([.character("p")]).1 == [.send(.pause)])
        #expect(press([.character(" ")]).1 == [.send(.pause)])
        var paused = model
        paused.apply(.stateChanged(.paused))
        #expect(press([.character("p")], model: paused).1 == [.send(.resume)])
        var done = model
        done.apply(.finished(testAccuracy: 0.9))
        let (s, a) = press([.character("p")], model: done)
        #expect(a.isEmpty && s.messageIsError)
    }

    @Test func learningRatePromptAcceptsOnlyValidNumbers() {
        let typed = { (text: String) -> [Key] in [.character("l")] + text.map { .character($0) } + [.enter] }
        #expect(press(typed("0.01")).1 == [.send(.setLearningRate(0.01))])
        #expect(press(typed(" 1e-3 ")).1 == [.send(.setLearningRate(0.001))])
        for bad in ["abc", "-1", "0", "nan", "inf", "", "20", "0.1.2"] {
            let (s, a) = press(typed(bad))
            #expect(a.isEmpty, "\(bad)")
            #expect(s.messageIsError && s.message?.hasPrefix("not a learning rate") == true && s.learningRateInput != nil)
        }
        let (s, a) = press([.character("l"), .character("5"), .escape])
        #expect(a.isEmpty && s.learningRateInput == nil)
        // Keys typed into the prompt are text, not commands.
        #expect(press([.character("l"), .character("q"), .character("s")]).0.learningRateInput?.text == "qs")
    }

    @Test func saveHelpAndBrowser() {
        #expect(press([.character("s")]).1 == [.send(.saveCheckpoint)])
        let help = press([.character("?")]).0
        #expect(help.showingHelp)
        let closed = press([.character("q")], from: help)
        #expect(!closed.0.showingHelp && !closed.0.confirmingQuit)
        #expect(press([.character("m")]).0.screen == .misclassified)
        #expect(press([.character("m"), .character("m")]).0.screen == .dashboard)
        #expect(press([.character("m"), .escape]).0.screen == .dashboard)
    }

    @Test func focusAndConfusionCellOpenTheBrowser() {
        #expect(press([.tab]).0.focus == .accuracy)
        #expect(press([.backTab]).0.focus == .images)
        let (s, _) = press([.tab, .tab, .tab, .tab, .down, .down, .right, .enter])
        #expect(s.screen == .misclassified && s.browser.filter == .cell(trueClass: 2, predictedClass: 1))
        // Cursor stops at the matrix edges.
        let edge = press([.tab, .tab, .tab, .tab] + Array(repeating: Key.up, count: 3) + Array(repeating: .left, count: 3)).0
        #expect(edge.confusionCursor == (0, 0))
        let perClass = press([.tab, .tab, .tab, .down, .enter]).0
        #expect(perClass.browser.filter == .trueClass(1))
    }

    @Test func browserFiltersAndMoves() {
        let open = press([.character("m")]).0
        #expect(open.browser.items(in: model).count == 11)
        let moved = press([.right, .right, .left, .end], from: open).0
        #expect(moved.browser.selected == 10)
        let t = press([.character("t"), .character("t"), .character("t"), .character("t"), .character("t"),
                       .character("t"), .character("t")], from: open).0
        #expect(t.browser.filter == .trueClass(6) && t.browser.items(in: model).map(\.testIndex) == [200, 106])  // by loss
        let c = press([.character("c")], from: open).0
        #expect(c.browser.filter == .predictedClass(0) && c.browser.items(in: model).map(\.testIndex) == [200, 109])
        #expect(press([.character("a")], from: c).0.browser.filter == .all)
        var last = open
        for _ in 0..<10 { last = press([.character("t")], from: last).0 }
        #expect(press([.character("t")], from: last).0.browser.filter == .all)
    }
}
