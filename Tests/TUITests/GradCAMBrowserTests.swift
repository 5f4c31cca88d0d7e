import Foundation
import Testing
import Training
@testable import TUI

/// Grad-CAM in the misclassified browser: the keys, and the browser with a map on as whole-screen snapshots.
@Suite struct GradCAMBrowserTests {
    static let setup = CAMSetup(
        layers: [CAMLayer(path: "relu", type: "ReLU", shape: [16, 28, 28]),
                 CAMLayer(path: "layer1", type: "Sequential", shape: [32, 14, 14]),
                 CAMLayer(path: "layer2", type: "Sequential", shape: [64, 7, 7])],
        defaultLayer: 2, weights: "epoch 3, step 100", globalStep: 100)

    /// A blob of heat around (cx, cy) on the 28x28 picture.
    static func heat(cx: Float, cy: Float) -> [Float] {
        (0..<28 * 28).map { i in
            let (x, y) = (Float(i % 28) - cx, Float(i / 28) - cy)
            return (-(x * x + y * y) / 60).exp
        }
    }

    func browser(_ width: Int, _ height: Int, keys: [Key], capabilities: TerminalCapabilities = .full,
                 withMap: Bool = true) -> App {
        let app = App(capabilities: capabilities, width: width, height: height)
        for e in Sample.events { app.handle(event: e) }
        app.handle(key: .character("m"))
        app.handle(explanation: .ready(Self.setup))
        for k in keys { app.handle(key: k) }
        if withMap, let key = app.ui.browser.camKey(in: app.model) {
            let map = CAMMap(layer: Self.setup.layers[key.layer], classIndex: key.classIndex, cam: [],
                             map: Self.heat(cx: 10, cy: 12), height: 28, width: 28)
            app.handle(explanation: .map(key, map, weights: Self.setup.weights))
        }
        return app
    }

    @Test func gTogglesAndTheMapFollowsLayerAndClass() throws {
        let model = Sample.model
        var (s, _) = handleKey(.character("m"), state: UIState(), model: model)
        #expect(!s.browser.gradCAM)
        (s, _) = handleKey(.character("g"), state: s, model: model)
        #expect(s.browser.gradCAM)
        #expect(s.browser.camKey(in: model) == nil, "no map before the explainer tells its stages")
        var withSetup = model
        withSetup.apply(.ready(Self.setup))
        let image = try #require(s.browser.selectedItem(in: withSetup))
        #expect(s.browser.camKey(in: withSetup) == CAMKey(testIndex: image.testIndex, layer: 2, classIndex: image.predictedClass))
        // [ goes to earlier stages and wraps around to the last; ] goes back.
        (s, _) = handleKey(.character("["), state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup)?.layer == 1)
        (s, _) = handleKey(.character("["), state: s, model: withSetup)
        (s, _) = handleKey(.character("["), state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup)?.layer == 2)
        (s, _) = handleKey(.character("]"), state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup)?.layer == 0)
        // v: the true class, again: the predicted one.
        (s, _) = handleKey(.character("v"), state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup)?.classIndex == image.trueClass)
        (s, _) = handleKey(.character("v"), state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup)?.classIndex == image.predictedClass)
        // The next image keeps the layer and class; g again turns the map off.
        (s, _) = handleKey(.right, state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup)?.testIndex != image.testIndex)
        #expect(s.browser.camKey(in: withSetup)?.layer == 0)
        (s, _) = handleKey(.character("g"), state: s, model: withSetup)
        #expect(s.browser.camKey(in: withSetup) == nil)
        // [ and v turn it on.
        (s, _) = handleKey(.character("v"), state: s, model: withSetup)
        #expect(s.browser.gradCAM)
        #expect(keyBindings.contains { $0.key == "g" } && keyBindings.contains { $0.key == "[ / ]" }
                && keyBindings.contains { $0.key == "v" })
    }

    /// New weights empty the maps; a map computed with the old ones is not shown.
    @Test func mapsBelongToTheirWeights() {
        var model = Sample.model
        model.apply(.ready(Self.setup))
        let key = CAMKey(testIndex: 1, layer: 2, classIndex: 3)
        let map = CAMMap(layer: Self.setup.layers[2], classIndex: 3, cam: [], map: [0.5], height: 1, width: 1)
        model.apply(.map(key, map, weights: Self.setup.weights))
        #expect(model.explanations.maps[key] == map)
        var next = Self.setup
        next.globalStep = 200
        next.weights = "epoch 4, step 200"
        model.apply(.ready(next))
        #expect(model.explanations.maps.isEmpty)
        model.apply(.map(key, map, weights: Self.setup.weights))
        #expect(model.explanations.maps.isEmpty)
    }

    @Test(arguments: Snapshot.sizes) func browserWithGradCAM(width: Int, height: Int) {
        Snapshot.check(browser(width, height, keys: [.character("g")]).render(), named: "gradcam")
    }

    @Test(arguments: Snapshot.sizes) func browserWithGradCAMForTheTrueClassAtAnEarlierLayer(width: Int, height: Int) {
        Snapshot.check(browser(width, height, keys: [.character("g"), .character("["), .character("v")]).render(),
                       named: "gradcam-true-earlier")
    }

    @Test(arguments: [(80, 24)]) func browserWithGradCAMComputing(width: Int, height: Int) {
        Snapshot.check(browser(width, height, keys: [.character("g")], withMap: false).render(), named: "gradcam-computing")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func browserWithGradCAMInPlainASCII(width: Int, height: Int) {
        Snapshot.check(browser(width, height, keys: [.character("g")], capabilities: .plainASCII).render(),
                       named: "gradcam-ascii")
    }
}

private extension Float {
    var exp: Float { Float(Foundation.exp(Double(self))) }
}
