import Foundation
import Testing
import Training
@testable import TUI

/// The comparison: runs read from real session files, keys, the curves on each axis, the recipe fields
/// that differ, per-class accuracy from the events file, and whole-screen snapshots.
@Suite struct CompareTests {
    func app(_ width: Int, _ height: Int, caps: TerminalCapabilities = .full, keys: [Key] = []) throws -> (URL, CompareApp) {
        let (root, runs) = try RunsSample.comparedRuns()
        let app = CompareApp(runs: runs, capabilities: caps, width: width, height: height, canGoBack: true)
        for k in keys { app.handle(key: k) }
        return (root, app)
    }

    @Test(arguments: Snapshot.sizes) func comparison(width: Int, height: Int) throws {
        let (root, app) = try app(width, height)
        defer { try? FileManager.default.removeItem(at: root) }
        Snapshot.check(app.render(), named: "compare")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func comparisonPlainASCIIWithoutColourByWallTime(width: Int, height: Int) throws {
        let (root, app) = try app(width, height, caps: .plainASCII, keys: [.character("t")])
        defer { try? FileManager.default.removeItem(at: root) }
        let grid = app.render()
        Snapshot.check(grid, named: "compare-ascii-time")
        // Without colour each run's curve is drawn with its own mark.
        let charts = grid.lines.dropFirst(2).map { String($0.prefix(width - 40)) }.joined()
        for mark in RunMarks.ascii.prefix(3) { #expect(charts.contains(mark), "no \(mark) in the charts") }
    }

    /// A live run's metrics move only at its checkpoints; its events file's step records carry the curves on.
    @Test func aLiveRunsCurvesFollowItsEventsFileBetweenCheckpoints() throws {
        let (root, runs) = try RunsSample.comparedRuns()
        defer { try? FileManager.default.removeItem(at: root) }
        var run = runs[2]
        let before = run.records.count
        let lastStep = run.records.last { $0.kind == .step }?.globalStep ?? 0
        let old = #"{"v":1,"type":"record","time":1,"epoch":1,"step":1,"global_step":1,"loss":9,"accuracy":0.1,"images_per_second":1,"lr":0.1}"#
        let new = #"{"v":1,"type":"record","time":2,"epoch":3,"step":5,"global_step":\#(lastStep + 5),"loss":0.25,"accuracy":0.9,"images_per_second":100,"lr":0.1}"#
        try Data((old + "\n" + new + "\n").utf8).write(to: run.session.eventsURL)
        let changed = run.reload()
        #expect(changed)
        #expect(run.records.count == before + 1, "only the record beyond the metrics is added")
        let added = try #require(run.records.last)
        #expect(added.kind == .step && added.globalStep == lastStep + 5 && added.loss == 0.25)
    }

    @Test func theRunsTableShowsResultsAndOnlyTheRecipeFieldsThatDiffer() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        let screen = CompareScreen(runs: app.runs, ui: app.ui, canGoBack: true, width: 100, height: 30, caps: .full)
        let rows = Dictionary(screen.tableRows().map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
        #expect(rows["status"] == ["finished", "finished", "interrupted"])
        #expect(rows["epochs"] == ["3/3", "3/3", "2/3"])
        #expect(rows["lr"] == ["0.01", "0.05", "0.1"])
        #expect(rows["schedule"] == ["constant", "constant", "cosine:warmup=1"])
        #expect(rows["model"] == nil && rows["batch_size"] == nil && rows["seed"] == nil, "equal fields are left out")
        #expect(rows["s/epoch"] == ["14s", "15s", "23s"], "the mean of the epochs' seconds")
    }

    @Test func perClassComesFromTheLastEvaluationInTheEventsFile() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        let first = try #require(app.runs[0].perClass)
        #expect(first.epoch == 3 && first.perClassAccuracy.count == 10)
        #expect(app.runs[2].perClass == nil)
        let text = app.render().lines.joined(separator: "\n")
        #expect(text.contains("- run 3: no evaluation in its events.jsonl"))
    }

    @Test func aGrowingEventsFileIsReadFromWhereItWasAndAPartialLineWaits() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        var run = app.runs[0]
        let url = run.session.eventsURL
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        let line = "{\"v\":1,\"time\":1,\"type\":\"evaluation\",\"epoch\":4,\"per_class_accuracy\":[0.5,0.5]}\n"
        let bytes = Data(line.utf8)
        try handle.write(contentsOf: bytes.prefix(30))   // half a line: not read yet
        let afterHalf = run.reload()
        #expect(afterHalf && run.perClass?.epoch == 3)
        try handle.write(contentsOf: bytes.dropFirst(30))
        try handle.close()
        let afterWhole = run.reload()
        #expect(afterWhole && run.perClass?.epoch == 4 && run.perClass?.perClassAccuracy == [0.5, 0.5])
        let again = run.reload()
        #expect(!again, "nothing changed, nothing read")
        // Truncated (a resume cuts the file back): read again from the start.
        try Data((line.replacingOccurrences(of: "\"epoch\":4", with: "\"epoch\":1")).utf8).write(to: url)
        let afterTruncation = run.reload()
        #expect(afterTruncation && run.perClass?.epoch == 1)
    }

    @Test func newMetricsOfALiveRunAreReadOnTheNextRefresh() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        let unchanged = app.refresh()
        #expect(!unchanged)
        let url = app.runs[2].session.metricsJSONLURL
        var text = try String(contentsOf: url, encoding: .utf8)
        text += "{\"kind\":\"epoch\",\"epoch\":3,\"global_step\":60,\"lr\":0.1,\"test_accuracy\":0.9,\"test_loss\":0.3,\"seconds\":20}\n"
        try Data(text.utf8).write(to: url)
        let grown = app.refresh()
        #expect(grown && app.runs[2].epochsDone == 3 && app.runs[2].bestTestAccuracy == 0.9)
    }

    @Test func axisTogglesHideRunsAndLeave() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        app.handle(key: .character("s"))
        #expect(app.ui.axis == .step)
        app.handle(key: .character("t"))
        #expect(app.ui.axis == .time)
        app.handle(key: .character("t"))
        #expect(app.ui.axis == .epoch)
        app.handle(key: .character("2"))
        #expect(app.ui.hidden == [1] && app.render().lines[1].contains("2 103000 (hidden)"))
        app.handle(key: .character("9"))
        #expect(app.ui.message == "no run 9: the runs are 1-3")
        app.handle(key: .escape)
        #expect(app.isDone && !app.quits, "Esc goes back to the runs screen")
        let (root2, fromCommand) = try self.app(100, 30)
        defer { try? FileManager.default.removeItem(at: root2) }
        fromCommand.handle(key: .character("q"))
        #expect(fromCommand.isDone && fromCommand.quits)
    }

    @Test func wallTimeSpreadsEachEpochsSecondsOverItsSteps() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        let run = app.runs[0]   // epochs of 13.2, 14.4 and 15.6 seconds, 20 steps each, a record every 5
        let time = RunCurves(run, axis: .time), epoch = RunCurves(run, axis: .epoch), step = RunCurves(run, axis: .step)
        #expect(epoch.trainLoss.map(\.x).prefix(5) == [0.25, 0.5, 0.75, 1, 1.25])
        #expect(step.trainLoss.map(\.x).prefix(2) == [5, 10])
        let t = time.trainLoss.map(\.x)
        #expect(abs(t[0] - 13.2 / 4) < 1e-9 && abs(t[3] - 13.2) < 1e-9 && abs(t[4] - (13.2 + 14.4 / 4)) < 1e-9)
        #expect(abs((time.testAccuracy.last?.x ?? 0) - (13.2 + 14.4 + 15.6)) < 1e-9)
    }

    @Test func shortLabelsDropWhatEveryIDShares() {
        #expect(RunMarks.labels(["20261124-101500-mycnn-fashion-mnist", "20261124-103000-mycnn-fashion-mnist"])
                == ["101500", "103000"])
        #expect(RunMarks.labels(["20261124-101500-mycnn-mnist", "20261125-101500-resnet-mnist"])
                == ["20261124-101500-mycnn", "20261125-101500-resnet"])
        #expect(RunMarks.labels(["a", "a"]) == ["a", "a"])
    }

    @Test func loadRefusesOneRunTheSameRunTwiceAndTooMany() throws {
        let (root, app) = try app(100, 30)
        defer { try? FileManager.default.removeItem(at: root) }
        let one = app.runs[0].session
        #expect(throws: TrainingError.self) { try CompareApp.load([one]) }
        do { _ = try CompareApp.load([one, one]); Issue.record("the same run twice was accepted") } catch {
            #expect("\(error)".contains("two different runs"))
        }
        let nine = (0..<9).map { Session(id: "r\($0)", url: root.appendingPathComponent("r\($0)")) }
        do { _ = try CompareApp.load(nine); Issue.record("nine runs were accepted") } catch {
            #expect("\(error)".contains("at most 8"))
        }
    }
}
