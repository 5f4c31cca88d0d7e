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

    @Test(arguments: Snapshot.sizes + [(132, 43)]) func overview(width: Int, height: Int) {
        Snapshot.check(app(width, height).render(), named: "dashboard")
    }

    @Test(arguments: [(80, 24), (132, 43)]) func overviewWithAConstantLearningRate(width: Int, height: Int) {
        let app = App(capabilities: .full, width: width, height: height)
        for e in Sample.events(changingLearningRate: false) { app.handle(event: e) }
        Snapshot.check(app.render(), named: "dashboard-constant-lr")
    }

    /// The layers page on `layer` with the engine's view of it for the first test image.
    func layersPage(_ width: Int, _ height: Int, layer: String, view: LayerView, keys: [Key] = [],
                    capabilities: TerminalCapabilities = .full) -> App {
        let app = App(capabilities: capabilities, width: width, height: height)
        for e in Sample.events { app.handle(event: e) }
        app.handle(key: .character("2"))
        for _ in 0..<Sample.layerIndex(layer) { app.handle(key: .down) }
        app.handle(event: .layerView(view))
        for k in keys { app.handle(key: k) }
        return app
    }

    @Test(arguments: Snapshot.sizes) func layersPageSignedConvolution(width: Int, height: Int) {
        let view = Sample.layerView(filters: Sample.filters(layer: "layer1.0.conv1", outputs: 16, inputs: 16))
        Snapshot.check(layersPage(width, height, layer: "layer1.0.conv1", view: view).render(), named: "layers-signed")
    }

    @Test(arguments: Snapshot.sizes) func layersPageRectifierWithTheFirstFilters(width: Int, height: Int) {
        let view = Sample.layerView(layer: "layer1.0.relu1", signed: false)
        Snapshot.check(layersPage(width, height, layer: "layer1.0.relu1", view: view).render(), named: "layers-relu")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func layersPageRGBFiltersPerChannelSorted(width: Int, height: Int) {
        let view = Sample.layerView(layer: "conv1", signed: true, filters: Sample.filters(inputs: 3))
        let app = layersPage(width, height, layer: "conv1", view: view, keys: [.character("x"), .character("o")])
        Snapshot.check(app.render(), named: "layers-rgb-sorted")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func layersPageVectorOutput(width: Int, height: Int) {
        var view = Sample.layerView(layer: "fc", channels: 10, size: 1)
        view.values = (0..<10).map { Float($0 % 4) * 1.5 - 2 }
        view.minimum = -2; view.maximum = 2.5
        Snapshot.check(layersPage(width, height, layer: "fc", view: view).render(), named: "layers-vector")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func layersPagePlainASCII(width: Int, height: Int) {
        let view = Sample.layerView(layer: "layer1.0.relu1", signed: false)
        Snapshot.check(layersPage(width, height, layer: "layer1.0.relu1", view: view, capabilities: .plainASCII).render(),
                       named: "layers-ascii")
    }

    @Test(arguments: Snapshot.sizes) func healthPage(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("3"), .down, .down]).render(), named: "health")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func healthPageWithAnAnomaly(width: Int, height: Int) {
        let app = app(width, height, keys: [.character("3")])
        app.handle(event: .anomaly(Sample.anomaly))
        app.handle(event: .stateChanged(.paused))
        Snapshot.check(app.render(), named: "health-anomaly")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func healthPagePlainASCII(width: Int, height: Int) {
        let app = App(capabilities: .plainASCII, width: width, height: height)
        for e in Sample.events { app.handle(event: e) }
        app.handle(key: .character("3"))
        Snapshot.check(app.render(), named: "health-ascii")
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

    @Test(arguments: Snapshot.sizes) func misclassifiedByTestIndex(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("m"), .character("o")]).render(), named: "misclassified-by-index")
    }

    @Test(arguments: Snapshot.sizes) func leastSureCorrect(width: Int, height: Int) {
        Snapshot.check(app(width, height, keys: [.character("m"), .character("u")]).render(), named: "least-sure")
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
