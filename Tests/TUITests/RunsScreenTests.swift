import Foundation
import Testing
import Training
@testable import TUI

/// The runs screen on fixed rows: keys (cursor, sort, filter, marks, compare, refusals, the delete
/// question) and whole-screen snapshots.
@Suite struct RunsScreenTests {
    func press(_ state: RunsState, _ keys: Key...) -> (RunsState, [RunsAction]) {
        var s = state
        var actions: [RunsAction] = []
        for k in keys { (s, actions) = handleRunsKey(k, state: s, windowHeight: 30) }
        return (s, actions)
    }

    var start: RunsState { RunsState(runs: RunsSample.runs) }
    var ids: [String] { RunsSample.runs.map(\.id) }

    @Test func cursorStartsOnTheNewestAndMovesWithinTheRows() {
        #expect(start.selected?.id == ids[4])
        #expect(press(start, .up, .up).0.selected?.id == ids[2])
        #expect(press(start, .down).0.cursor == 4, "stops at the last row")
        #expect(press(start, .home).0.cursor == 0 && press(start, .home, .up).0.cursor == 0)
    }

    @Test func sortCyclesFieldsAndReverses() {
        let (byAccuracy, _) = press(start, .character("s"))
        #expect(byAccuracy.sort == .accuracy)
        #expect(byAccuracy.visible.map(\.id) == [ids[2], ids[0], ids[1], ids[3], ids[4]], "best first, none last")
        #expect(press(byAccuracy, .character("S")).0.visible.map(\.id) == [ids[3], ids[1], ids[0], ids[2], ids[4]])
    }

    @Test func filterTypedAtThePromptKeepsMatchingRowsAndEscClearsIt() {
        let (typing, _) = press(start, .character("/"), .character("c"), .character("i"), .character("f"))
        #expect(typing.filterInput?.text == "cif" && typing.filter.isEmpty)
        let (filtered, _) = press(typing, .enter)
        #expect(filtered.filterInput == nil && filtered.visible.map(\.id) == [ids[1], ids[3], ids[4]])
        #expect(press(filtered, .escape).0.filter.isEmpty, "Esc clears the filter before it leaves")
        let (none, _) = press(start, .character("/"), .character("z"), .enter)
        #expect(none.visible.isEmpty && none.messageIsError)
        #expect(press(start, .escape).1 == [.back])
    }

    @Test func spaceMarksInOrderAndCompareNeedsTwo() {
        let (one, _) = press(start, .home, .character(" "))
        #expect(one.marked == [ids[0]] && one.cursor == 1, "space marks and moves on")
        let (refused, actions) = press(one, .character("c"))
        #expect(actions.isEmpty && refused.messageIsError && refused.message?.contains("two or more") == true)
        let (two, _) = press(one, .down, .character(" "))
        #expect(two.marked == [ids[0], ids[2]])
        #expect(press(two, .character("c")).1 == [.compare([RunsSample.runs[0].session, RunsSample.runs[2].session])])
        // Space again unmarks.
        #expect(press(two, .up, .character(" ")).0.marked == [ids[0]])
    }

    @Test func openResumeAttachFollowTheStatus() {
        let finished = press(start, .home).0, interrupted = press(start, .home, .down).0
        let running = press(start, .up).0, new = start
        #expect(press(finished, .enter).1 == [.open(RunsSample.runs[0].session)])
        #expect(press(running, .enter).1 == [.attach(RunsSample.runs[3].session)], "Enter on a live run follows it")
        #expect(press(interrupted, .character("r")).1 == [.resume(RunsSample.runs[1].session)])
        for (state, why) in [(finished, "finished"), (running, "attach"), (new, "no checkpoint")] {
            let (s, actions) = press(state, .character("r"))
            #expect(actions.isEmpty && s.messageIsError && s.message?.contains(why) == true, "\(s.message ?? "")")
        }
        #expect(press(running, .character("a")).1 == [.attach(RunsSample.runs[3].session)])
        let (notLive, actions) = press(finished, .character("a"))
        #expect(actions.isEmpty && notLive.message?.contains("nothing to attach") == true)
    }

    @Test func deleteAsksAndOnlyYesDeletesAndNeverARunningRun() {
        let (asking, none) = press(start, .home, .character("d"))
        #expect(none.isEmpty && asking.confirmingDelete == ids[0])
        #expect(press(asking, .character("y")).1 == [.delete(RunsSample.runs[0].session)])
        let (kept, keptActions) = press(asking, .character("n"))
        #expect(keptActions.isEmpty && kept.confirmingDelete == nil && kept.message == "kept \(ids[0])")
        let (refused, refusedActions) = press(start, .up, .character("d"))
        #expect(refusedActions.isEmpty && refused.confirmingDelete == nil)
        #expect(refused.messageIsError && refused.message?.contains("running (pid 48213)") == true)
    }

    @Test func aNewListingKeepsTheCursorOnItsRunAndDropsMarksOfDeletedRuns() {
        var s = press(start, .home, .character(" "), .character(" ")).0   // marks 0 and 1, cursor on 2
        s.replaceRuns(Array(RunsSample.runs.dropFirst()))
        #expect(s.marked == [ids[1]] && s.selected?.id == ids[2])
    }

    func app(_ width: Int, _ height: Int, caps: TerminalCapabilities = .full, keys: [Key] = []) -> RunsApp {
        let app = RunsApp(store: SessionStore(root: URL(fileURLWithPath: "/home/me/Sessions")), capabilities: caps,
                          width: width, height: height, list: { RunsSample.runs })
        for k in keys { app.handle(key: k) }
        return app
    }

    @Test(arguments: Snapshot.sizes) func runsScreen(width: Int, height: Int) {
        let screen = app(width, height, keys: [.up, .up, .character(" "), .up, .up, .character(" ")]).render()
        Snapshot.check(screen, named: "runs")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func runsScreenPlainASCIIAskingToDelete(width: Int, height: Int) {
        Snapshot.check(app(width, height, caps: .plainASCII, keys: [.home, .character("d")]).render(), named: "runs-delete-ascii")
    }

    @Test func helpListsEveryKey() {
        let text = app(100, 30, keys: [.character("?")]).render().lines.joined(separator: "\n")
        for binding in runsKeyBindings { #expect(text.contains(binding.action), "help lacks \(binding.key)") }
    }

    @Test func thePickersDatasetStepOpensTheRunsScreen() {
        let state = SetupState(datasets: SetupTests.listings, models: ["mycnn"])
        #expect(handleSetupKey(.character("r"), state: state, windowHeight: 30).1 == [.showRuns])
        var onModel = state
        onModel.step = .model
        #expect(!handleSetupKey(.character("r"), state: onModel, windowHeight: 30).1.contains(.showRuns))
        #expect(setupKeyBindings.contains { $0.key == "r" })
    }
}
