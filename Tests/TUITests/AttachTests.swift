import Foundation
import Testing
import Training
@testable import TUI

/// A viewer attached to another process's run: keys as in a run of its own, but leaving never stops the run.
@Suite struct AttachTests {
    static var attached: DashboardModel {
        var model = Sample.model
        model.isAttached = true
        return model
    }

    func press(_ keys: [Key], model: DashboardModel) -> (UIState, [UIAction]) {
        var s = UIState()
        var all: [UIAction] = []
        for k in keys {
            let (n, a) = handleKey(k, state: s, model: model)
            s = n; all += a
        }
        return (s, all)
    }

    @Test func qDAndCtrlCLeaveTheRunGoing() {
        #expect(Self.attached.isTrainingLive)
        #expect(press([.character("q")], model: Self.attached).1 == [.quit])
        #expect(press([.character("d")], model: Self.attached).1 == [.quit])
        #expect(press([.interrupt], model: Self.attached).1 == [.quit])
        // The other keys send what they send in a run of this process.
        #expect(press([.character("p")], model: Self.attached).1 == [.send(.pause)])
        #expect(press([.character("s")], model: Self.attached).1 == [.send(.saveCheckpoint)])
        // A live run of this process detaches by stopping at a checkpoint, for a background process to resume.
        #expect(Sample.model.isTrainingLive)
        #expect(press([.character("d")], model: Sample.model).1 == [.send(.stop), .detach])
        // A run that has ended has nothing to detach: d says so and does nothing.
        var ended = Sample.model
        ended.apply(.finished(testAccuracy: 0.9))
        let (own, none) = press([.character("d")], model: ended)
        #expect(none.isEmpty && own.messageIsError && own.message?.contains("nothing to detach") == true)
    }

    @Test func anInterruptedRunSaysSoAndTakesNoCommands() {
        var model = Self.attached
        model.apply(.stateChanged(.interrupted))
        #expect(!model.isTrainingLive)
        let (s, actions) = press([.character("p")], model: model)
        #expect(actions.isEmpty && s.message == "training was interrupted; nothing to pause")
        let app = App(capabilities: .full, width: 200, height: 40)
        app.attach()
        for event in Sample.events { app.handle(event: event) }
        app.handle(event: .stateChanged(.interrupted))
        let grid = app.render()
        #expect(grid.lines[0].contains("INTERRUPTED"))
        #expect(grid.lines[grid.height - 1].contains("interrupted: the run's process is gone"))
    }

    @Test func theStatusLineOffersDetachAndShowsARefusal() {
        let app = App(capabilities: .full, width: 160, height: 40)
        app.attach()
        for event in Sample.events { app.handle(event: event) }
        let grid = app.render()
        #expect(grid.lines[grid.height - 1].contains("d detach") && !grid.lines[grid.height - 1].contains("q quit"))
        app.showError("this run has no control endpoint yet")
        #expect(app.render().lines[grid.height - 1].contains("this run has no control endpoint yet"))
    }

    @Test func aRestartedFoldStaysAttachedAndStartsEmpty() {
        let app = App(capabilities: .full, width: 120, height: 40)
        app.attach()
        for event in Sample.events { app.handle(event: event) }
        app.handle(key: .character("3"))
        app.restartFold()
        #expect(app.model.isAttached && app.model.run == nil && app.model.trainLoss.points.isEmpty)
        #expect(app.ui.screen == .health, "the page stays")
    }
}
