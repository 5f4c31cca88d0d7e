import Testing
import Training
@testable import TUI

/// The pages (1 overview, 2 layers, 3 health, 4 misclassified), the layers page's watch commands, and the
/// overview's layout rules: legible pictures, a learning-rate strip, epochs on the x axis.
@Suite struct PagesTests {
    static let sizes = [(80, 24), (90, 27), (100, 30), (120, 40), (132, 43), (160, 48)]

    func app(_ width: Int = 80, _ height: Int = 24, events: [TrainingEvent] = Sample.events) -> App {
        let app = App(capabilities: .full, width: width, height: height)
        for e in events { app.handle(event: e) }
        return app
    }

    @Test func numberKeysSwitchPagesAndTheFooterShowsThem() {
        let model = Sample.model
        var s = UIState()
        for (key, screen) in [("2", ScreenID.layers), ("3", .health), ("4", .misclassified), ("1", .dashboard)] {
            (s, _) = handleKey(.character(Character(key)), state: s, model: model)
            #expect(s.screen == screen, "\(key)")
        }
        let a = app()
        for page in ["2", "3", "4", "1"] {
            a.handle(key: .character(Character(page)))
            let footer = a.render().lines[23]
            #expect(footer.contains("1 overview") && footer.contains("2 layers") && footer.contains("3 health")
                    && footer.contains("4 misclassified") && footer.contains("? help"), "\(page): \(footer)")
        }
    }

    @Test func browserReturnsToThePageItWasOpenedFrom() {
        let model = Sample.model
        var s = UIState()
        (s, _) = handleKey(.character("3"), state: s, model: model)
        (s, _) = handleKey(.character("m"), state: s, model: model)
        #expect(s.screen == .misclassified)
        (s, _) = handleKey(.character("m"), state: s, model: model)
        #expect(s.screen == .health)
        (s, _) = handleKey(.character("4"), state: s, model: model)
        (s, _) = handleKey(.escape, state: s, model: model)
        #expect(s.screen == .health)
    }

    @Test func theLayersPageWatchesOnlyWhileOpen() {
        let model = Sample.model
        var s = UIState()
        var actions: [UIAction]
        (s, actions) = handleKey(.character("2"), state: s, model: model)
        #expect(actions == [.send(.watchLayer(LayerWatch(layer: "conv1", testIndex: 0)))])
        (s, actions) = handleKey(.down, state: s, model: model)
        #expect(actions == [.send(.watchLayer(LayerWatch(layer: "bn1", testIndex: 0)))])
        (s, actions) = handleKey(.character("]"), state: s, model: model)
        #expect(actions == [.send(.watchLayer(LayerWatch(layer: "bn1", testIndex: 1)))])
        (s, actions) = handleKey(.character("["), state: s, model: model)
        (s, actions) = handleKey(.character("["), state: s, model: model)   // wraps to the last image
        let images = layerImages(model)
        #expect(actions == [.send(.watchLayer(LayerWatch(layer: "bn1", testIndex: images[images.count - 1].testIndex)))])
        (s, actions) = handleKey(.character("x"), state: s, model: model)   // scale: same layer and image, no command
        #expect(actions.isEmpty && s.layers.perChannelScale)
        (s, actions) = handleKey(.character("?"), state: s, model: model)   // help over the page keeps watching
        #expect(actions.isEmpty)
        (s, actions) = handleKey(.escape, state: s, model: model)
        (s, actions) = handleKey(.character("1"), state: s, model: model)
        #expect(actions == [.send(.watchLayer(nil))])
        (s, actions) = handleKey(.character("3"), state: s, model: model)
        #expect(actions.isEmpty)
        // Leaving for the browser stops too; coming back from it takes the browser's image.
        (s, _) = handleKey(.character("2"), state: s, model: model)
        (s, actions) = handleKey(.character("m"), state: s, model: model)
        #expect(actions == [.send(.watchLayer(nil))])
        (s, _) = handleKey(.right, state: s, model: model)
        (s, actions) = handleKey(.character("2"), state: s, model: model)
        // The browser's second image by loss (its default order) is test image 107.
        #expect(actions == [.send(.watchLayer(LayerWatch(layer: "bn1", testIndex: 107)))])
        // Quitting stops the engine; no watch command goes with it.
        (s, actions) = handleKey(.interrupt, state: s, model: model)
        #expect(actions == [.send(.stop), .quit])
    }

    @Test func noWatchForASessionReadFromFilesOrWithoutATree() {
        var history = Sample.model
        history.isHistory = true
        let (_, a1) = handleKey(.character("2"), state: UIState(), model: history)
        #expect(a1.isEmpty)
        var run = Sample.run
        run.layers = []
        let bare = DashboardModel.folding([.started(run), .stateChanged(.running)])
        let (_, a2) = handleKey(.character("2"), state: UIState(), model: bare)
        #expect(a2.isEmpty)
        for model in [history, bare] {
            let app = App(capabilities: .full, width: 80, height: 24)
            app.show(history: model)
            app.handle(key: .character("2"))
            let g = app.render()
            #expect(g.text.contains("needs a live run") && (model.isHistory || g.text.contains("no layer tree")), "\(g.text)")
        }
    }

    @Test func theEngineIsToldWhenTheRunEndsWhileWatching() {
        let a = app()
        #expect(a.handle(key: .character("2")) == [.watchLayer(LayerWatch(layer: "conv1", testIndex: 0))])
        #expect(a.handle(event: .finished(testAccuracy: 0.9)) == [.watchLayer(nil)])
    }

    @Test func layerKeysMoveThroughTheTreeAndChannels() {
        let a = app()
        a.handle(key: .character("2"))
        for _ in 0..<Sample.layerIndex("layer1.0.conv1") { a.handle(key: .down) }
        a.handle(event: .layerView(Sample.layerView(filters: Sample.filters(layer: "layer1.0.conv1", inputs: 16))))
        #expect(a.ui.layers.layer == Sample.layerIndex("layer1.0.conv1"))
        var g = a.render()
        #expect(g.text.contains("layer1.0.conv1 (Conv2d) 16x14x14 on image #0") && g.text.contains("ch 0-7/16, page 1/2"))
        a.handle(key: .right)
        g = a.render()
        #expect(g.text.contains("ch 8-15/16, page 2/2") && g.text.contains("#15"))
        a.handle(key: .right)   // stays on the last page
        #expect(a.ui.layers.channelPage == 1)
        a.handle(key: .character("o"))
        #expect(a.render().text.contains("by mean") && a.ui.layers.channelPage == 0)
        a.handle(key: .character("."))
        #expect(a.render().text.contains("output 1/16"))
        a.handle(key: .end)
        #expect(a.ui.layers.layer == Sample.layers.count - 1)
        a.handle(key: .pageUp)
        #expect(a.ui.layers.layer == Sample.layers.count - 11)
    }

    @Test func aVectorOutputIsAStripAndZeroChannelsDoNotCrash() {
        let a = app()
        a.handle(key: .character("2"))
        a.handle(key: .end)
        var fc = Sample.layerView(layer: "fc", channels: 10, size: 1, filters: Sample.filters())
        fc.values = (0..<10).map { Float($0) - 3 }
        fc.minimum = -3; fc.maximum = 6
        a.handle(event: .layerView(fc))
        let g = a.render()
        #expect(g.text.contains("top: Boot 6.00  Bag 5.00"))
        a.handle(event: .layerView(LayerView(layer: "fc", testIndex: 0, globalStep: 1, shape: [0, 1, 1], values: [],
                                             minimum: 0, maximum: 0, mean: 0, zeroFraction: 0, filters: nil)))
        #expect(a.render().text.contains("no channels"))
        for caps in [TerminalCapabilities.plainASCII, .basic] {
            let b = App(capabilities: caps, width: 80, height: 24)
            for e in Sample.events { b.handle(event: e) }
            b.handle(key: .character("2"))
            b.handle(event: .layerView(Sample.layerView(layer: "conv1", signed: false)))
            let t = b.render()
            if caps == .plainASCII { #expect(t.lines.joined().unicodeScalars.allSatisfy { $0.isASCII }) }
            #expect(t.cells.allSatisfy { if case .indexed = $0.foreground { return false }; return true })
        }
    }

    @Test func healthTableScrollsWithTheCursorAndAnAnomalyShows() {
        let a = app(80, 24)
        a.handle(key: .character("3"))
        let rows = HealthScreen.rows(a.model)
        #expect(rows.count == Sample.parameterLayers.count + Sample.rectifiers.count)
        #expect(rows.first?.layer == "conv1" && rows[2].layer == "relu" && rows.last?.layer == "fc")
        for _ in 0..<30 { a.handle(key: .down) }
        #expect(a.ui.healthCursor == rows.count - 1)
        var g = a.render()
        #expect(g.text.contains("fc") && g.text.contains("\(rows.count)/\(rows.count) rows") && !g.text.contains(" conv1 "))
        a.handle(event: .anomaly(Sample.anomaly))
        a.handle(event: .stateChanged(.paused))
        g = a.render()
        #expect(g.text.contains("NaN/Inf at step 151 (epoch 2) in layer layer2.0.conv2"))
        #expect(g.lines[23].contains("NaN/Inf in layer2.0.conv2"))
        a.handle(key: .character("1"))
        #expect(a.render().lines[23].contains("in layer2.0.conv2"))
    }

    @Test func transientMessagesClearOnceTheyNoLongerHold() {
        let a = app()
        a.handle(key: .character("p"))
        #expect(a.render().lines[23].contains("pausing…"))
        a.handle(event: .stateChanged(.paused))
        #expect(!a.render().lines[23].contains("pausing…"))
        a.handle(key: .character("p"))
        #expect(a.ui.message == "resuming…")
        a.handle(event: .step(Sample.step(151)))
        #expect(a.ui.message == "resuming…")
        a.handle(event: .stateChanged(.running))
        #expect(a.ui.message == nil && !a.render().lines[23].contains("resuming"))
        a.handle(key: .character("s"))
        a.handle(event: .checkpointSaved(path: "ckpt", globalStep: 151))
        #expect(a.ui.message == nil)
    }

    @Test func everyPageFillsEveryWindowFrom80x24To160x48() {
        for width in stride(from: 80, through: 160, by: 16) {
            for height in stride(from: 24, through: 48, by: 6) {
                for page in ["1", "2", "3", "4"] {
                    for caps in [TerminalCapabilities.full, .plainASCII] {
                        let a = App(capabilities: caps, width: width, height: height)
                        for e in Sample.events { a.handle(event: e) }
                        a.handle(key: .character(Character(page)))
                        a.handle(event: .layerView(Sample.layerView(layer: "conv1", signed: false)))
                        let g = a.render()
                        #expect(g.width == width && g.height == height)
                        #expect(g.lines[height - 1].contains("? help") && g.lines[0].contains("RUNNING"), "\(width)x\(height) page \(page)")
                        if page == "2" { #expect(g.text.contains("#0") && g.text.contains("zeros"), "\(width)x\(height)") }
                        if page == "3" { #expect(g.text.contains("layer1.0.conv1"), "\(width)x\(height)") }
                    }
                }
            }
        }
    }

    // MARK: - Overview layout rules

    @Test(arguments: sizes) func testPicturesAreAtLeastHalfTheirPixels(width: Int, height: Int) {
        let model = Sample.model
        for focus in DashboardPanel.allCases {
            let layout = DashboardLayout(model: model, width: width, height: height, focus: focus)
            guard let rect = layout.panels[.images] else { continue }
            let tiles = model.preview.map { ImageGrid.Tile(image: HalfBlockImage($0), caption: "", isCorrect: nil) }
            let grid = ImageGrid(tiles: tiles, minScale: DashboardLayout.minimumImageScale).layout(in: rect.inset(1))
            #expect(grid != nil, "\(width)x\(height) \(focus)")
            if let grid { #expect(grid.cell.width >= 14 && grid.cell.height >= 7, "\(width)x\(height) \(focus): \(grid.cell)") }
        }
        // The images panel shows at the default focus at every size, and the browser's strip keeps the rule.
        #expect(DashboardLayout(model: model, width: width, height: height, focus: .loss).panels[.images] != nil)
        let a = app(width, height)
        a.handle(key: .character("m"))
        a.handle(key: .character("o"))  // by test index: the first is a Trouser
        let g = a.render()
        // The strip's first picture: 7 rows of 14 drawn cells above its caption.
        let caption = g.lines.lastIndex { $0.contains("✗Trouser ") }
        #expect(caption != nil)
        if let caption {
            let x = Array(g.lines[caption]).firstIndex(of: "✗")!
            #expect(g.allCells(in: Rect(x: x, y: caption - 7, width: 14, height: 7)) { $0.character != " " }, "\(g.text)")
        }
        // 32x32 pictures need 16x8.
        let big = DashboardLayout(width: width, height: height, classCount: 10, focus: .loss, imageSize: (32, 32))
        if let rect = big.panels[.images] { #expect(rect.height >= 8 + 3 && rect.width >= 16 + 2) }
    }

    @Test(arguments: sizes) func theLearningRateIsAStripUntilItChanges(width: Int, height: Int) {
        let constant = DashboardModel.folding(Sample.events(changingLearningRate: false))
        #expect(!constant.learningRateIsChanging && Sample.model.learningRateIsChanging)
        let strip = DashboardLayout(model: constant, width: width, height: height, focus: .loss).panels[.learningRate]!
        let grown = DashboardLayout(model: Sample.model, width: width, height: height, focus: .loss).panels[.learningRate]!
        #expect(strip.height <= 4 && grown.height > 4 && grown.height >= (height - 3) / 4, "\(strip) \(grown)")
        let g = app(width, height, events: Sample.events(changingLearningRate: false)).render()
        #expect(g.text.contains("Learning rate, constant"))
    }

    @Test func chartAxesCountEpochsAndMarkTheTestPoints() {
        let g = app(100, 30).render()
        let layout = DashboardLayout(model: Sample.model, width: 100, height: 30, focus: .loss)
        for panel in [DashboardPanel.loss, .accuracy, .learningRate] {
            let inside = layout.panels[panel]!.inset(1)
            let axis = String(Array(g.lines[inside.maxY - 1])[inside.x..<inside.maxX])
            let labels = axis.split(separator: " ").map(String.init).filter { !$0.contains("▲") }
            #expect(axis.contains("epoch") && labels.contains("1.5") && labels.contains("1"), "\(panel): \(axis)")
            #expect(!labels.contains("150") && !labels.contains("1.00"), "\(panel): \(axis)")
        }
        // The one evaluation (step 100 = epoch 1) is marked in both charts.
        let marks = g.lines.joined().filter { $0 == "●" }.count
        #expect(marks == 2)
    }
}
