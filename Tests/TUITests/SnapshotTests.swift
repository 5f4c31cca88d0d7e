import Testing
import Training
@testable import TUI

/// Every dashboard screen as a whole-screen snapshot at each of `Snapshot.sizes` (the pickers' snapshots
/// are in SetupTests). The sample run is fixed, so any change in these files is a change of layout.
@Suite struct DashboardSnapshotTests {
    func app(_ width: Int, _ height: Int, keys: [Key] = []) -> App {
        let app = App(capabilities: .full, width: width, height: height)
        for e in Sample.events { app.handle(event: e) }
        for k in keys { app.handle(key: k) }
        return app
    }

    @Test(arguments: Snapshot.sizes) func overview(width: Int, height: Int) {
        Snapshot.check(app(width, height).render(), named: "dashboard")
    }

    @Test(arguments: Snapshot.sizes) func focusedConfusionMatrix(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.tab, .tab, .tab, .tab]).render(), named: "dashboard-confusion")
    }

    @Test(arguments: Snapshot.sizes) func learningRatePrompt(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("l"), .character("0"), .character(".")]).render(),
                       named: "dashboard-lr-prompt")
    }

    @Test(arguments: Snapshot.sizes) func quitConfirmation(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("q")]).render(), named: "dashboard-quit")
    }

    @Test(arguments: Snapshot.sizes) func help(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("?")]).render(), named: "dashboard-help")
    }

    @Test(arguments: Snapshot.sizes) func misclassifiedBrowser(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("m"), .right]).render(), named: "misclassified")
    }

    @Test(arguments: Snapshot.sizes) func plainASCIIWithoutColour(width: Int, height: Int) {
        let app = App(capabilities: .plainASCII, width: width, height: height)
        for e in Sample.events { app.handle(event: e) }
        Snapshot.check(app.render(), named: "dashboard-ascii")
    }

    @Test func tooSmallWindow() {
        Snapshot.check(app(70, 20).render(), named: "too-small")
    }
}
