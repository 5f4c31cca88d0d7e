import Data
import Foundation
import Testing
import Training
@testable import TUI

/// The pickers on fixed data: no dataset files, no model building, no timing thread.
@Suite struct SetupTests {
    static let listings: [DatasetListing] = {
        let json = """
            [{"name": "fashion-mnist", "found": false, "path": null, "train": null, "test": null, "shape": [1, 28, 28],
              "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
              "how_to_get": "apt install dataset-fashion-mnist"},
             {"name": "mnist", "found": true, "path": "/data/mnist", "train": 60000, "test": 10000, "shape": [1, 28, 28],
              "classes": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], "how_to_get": null}]
            """
        return (try? JSONDecoder().decode([DatasetListing].self, from: Data(json.utf8))) ?? []
    }()

    static let summaryLines = (1...60).map { "layer \($0)" }

    func setup(_ width: Int = 100, _ height: Int = 30, caps: TerminalCapabilities = .full) -> SetupApp {
        // Two threads, as --threads 2: the default follows the machine's processors, and the recipe shows it.
        var base = TrainingOverrides()
        base.threads = 2
        let app = SetupApp(capabilities: caps, width: width, height: height, datasets: Self.listings,
                           models: ["mycnn", "resnet-2-2-2", "vgg11"], estimator: nil, base: base,
                           summarize: { config, _ in ["\(config.model) summary"] + Self.summaryLines })
        app.setEstimates([
            "mycnn|1x28x28|10": ModelEstimate(parameters: 421_642, macs: 12_345_678, stepSeconds: 0.05, batchSize: 100),
            "resnet-2-2-2|1x28x28|10": ModelEstimate(parameters: 270_000, macs: 40_000_000),
            "vgg11|1x28x28|10": ModelEstimate(error: "unsupportedInput: it is built for 32x32 images"),
        ])
        return app
    }

    func press(_ app: SetupApp, _ keys: Key...) { for k in keys { app.handle(key: k) } }

    @Test func datasetPickerListsFoundOnesFirstAndMissingOnesGreyedWithHowToGetThem() {
        let app = setup()
        #expect(app.state.datasets.map(\.name) == ["mnist", "fashion-mnist"])
        let g = app.render()
        #expect(g.lines[0].contains("1 Dataset") && g.lines[0].contains("4 Summary"))
        let missing = g.lines.firstIndex { $0.contains("fashion-mnist") && $0.contains("missing") } ?? 0
        #expect(missing > 0 && g.lines[missing].contains("apt install dataset-fashion-mnist"))
        let x = g.lines[missing].distance(from: g.lines[missing].startIndex, to: g.lines[missing].range(of: "fashion")!.lowerBound)
        #expect(g[x, missing].attributes.contains(.dim))
        #expect(g.text.contains("60000") && g.text.contains("found in /data/mnist"))
        // A missing dataset cannot be chosen; it says how to get it.
        press(app, .down, .enter)
        #expect(app.state.step == .dataset && app.state.messageIsError && app.state.message?.contains("apt install") == true)
        press(app, .up, .enter)
        #expect(app.state.step == .model)
    }

    @Test func aMissingDatasetsLongHowToGetWrapsWhole() {
        let how = "cnntui download cifar10 fetches it, or place cifar-10-binary.tar.gz or its extracted "
            + "cifar-10-batches-bin directory in /usr/share/datasets/cifar10 or ~/.cache/cnntui/cifar10"
        let json = """
            [{"name": "cifar10", "found": false, "path": null, "train": null, "test": null, "shape": [3, 32, 32],
              "classes": ["airplane"], "how_to_get": "\(how)"}]
            """
        let listings = (try? JSONDecoder().decode([DatasetListing].self, from: Data(json.utf8))) ?? []
        let app = SetupApp(capabilities: .full, width: 80, height: 24, datasets: listings, models: ["mycnn"], estimator: nil,
                           summarize: { _, _ in [] })
        let g = app.render()
        let detail = g.lines.filter { $0.contains("missing.") || $0.contains("extracted") || $0.contains("~/.cache") }
            .map { $0.replacingOccurrences(of: "│", with: " ").trimmingCharacters(in: .whitespaces) }
        #expect(detail.joined(separator: " ").hasSuffix(how), "\(g.text)")
        // The list row may end in "…"; the detail rows below it carry the text whole.
        #expect(!detail.contains { $0.contains("…") }, "\(g.text)")
    }

    @Test func modelPickerShowsCountsAndMeasuredSecondsPerEpoch() {
        let app = setup()
        press(app, .enter)
        let g = app.render()
        let row = g.lines.first { $0.contains("mycnn") } ?? ""
        // 60000 images at batch 100 = 600 steps of 0.05 s.
        #expect(row.contains("421,642") && row.contains("12,345,678") && row.contains("30s"))
        #expect(g.lines.first { $0.contains("resnet-2-2-2") }?.contains("270,000") == true)
        #expect(g.lines.first { $0.contains("vgg11") }?.contains("n/a: it is built") == true)
        #expect(g.text.contains("measured on this machine") && g.text.contains("2 training steps"))
        let legend = g.lines.filter { $0.contains("measured on this machine") || $0.contains("times batches per epoch") }
        // Each legend line fits an 80-column window (panel borders included).
        #expect(legend.count == 2 && legend.allSatisfy { $0.dropLast(1).reversed().drop { $0 == " " }.count <= 78 })
        // A model that cannot take the images is refused with the reason.
        press(app, .down, .down)
        #expect(app.render().text.contains("cannot take these images: unsupportedInput: it is built for 32x32 images"))
        press(app, .enter)
        #expect(app.state.step == .model && app.state.message?.contains("32x32") == true)
        press(app, .home, .enter)
        #expect(app.state.step == .recipe)
    }

    /// Spec files of ./models/ follow the zoo, with their counts; a broken one shows its line.
    @Test func modelPickerListsSpecFilesWithTheirCounts() {
        let app = SetupApp(capabilities: .full, width: 120, height: 30, datasets: Self.listings,
                           models: ["mycnn", "models/tiny.cnn", "models/broken.cnn"], estimator: nil)
        app.setEstimates([
            "mycnn|1x28x28|10": ModelEstimate(parameters: 421_642, macs: 12_345_678),
            "models/tiny.cnn|1x28x28|10": ModelEstimate(parameters: 24_670, macs: 10_148_672),
            "models/broken.cnn|1x28x28|10": ModelEstimate(error: "models/broken.cnn: line 3: conv expects 32 input channels, the layer before gives 16"),
        ])
        press(app, .enter)
        let g = app.render()
        let tiny = g.lines.first { $0.contains("models/tiny.cnn") } ?? ""
        #expect(tiny.contains("24,670") && tiny.contains("10,148,672"))
        #expect(g.lines.first { $0.contains("models/broken.cnn") }?.contains("n/a: line 3: conv expects 32") == true)
    }

    @Test func recipeIsPrefilledFromTheSeedAndEditable() throws {
        let app = setup()
        press(app, .enter, .enter)
        let c = try #require(app.state.config)
        #expect(c.model == "mycnn" && c.dataset == "mnist" && c.epochs == 10 && c.batchSize == 100)
        #expect(c.optimizer == .adam && c.learningRate == 0.01)
        var g = app.render()
        #expect(g.text.contains("Learning rate   0.01") && g.text.contains("Continue: layer summary"))
        #expect(g.text.contains("none (no mirror; the dataset's default)"), "digits are never mirrored or cropped: \(g.text)")
        // A bad number: a message, nothing changes, the field stays open.
        press(app, .down, .down, .down, .enter, .end)
        for ch in "x" { app.handle(key: .character(ch)) }
        press(app, .enter)
        #expect(app.state.config?.learningRate == 0.01 && app.state.messageIsError && app.state.editing != nil)
        press(app, .escape)
        #expect(app.state.editing == nil && app.state.step == .recipe)
        // A good one replaces the value and marks it as changed.
        press(app, .enter)
        for _ in 0..<10 { app.handle(key: .backspace) }
        for ch in "0.0005" { app.handle(key: .character(ch)) }
        press(app, .enter)
        #expect(app.state.config?.learningRate == 0.0005 && app.state.editing == nil)
        g = app.render()
        #expect(g.text.contains("Learning rate   0.0005 *"))
        // Left/right cycle the optimizer.
        press(app, .up, .right)
        #expect(app.state.config?.optimizer == .adamw)
        // An impossible schedule is refused by the resolver with its reason.
        press(app, .down, .down, .enter)
        for _ in 0..<20 { app.handle(key: .backspace) }
        for ch in "bogus" { app.handle(key: .character(ch)) }
        press(app, .enter)
        #expect(app.state.config?.schedule == "constant" && app.state.messageIsError)
    }

    @Test func summaryScrollsThenEnterStarts() throws {
        let app = setup(100, 30)
        press(app, .enter, .enter, .tab)
        #expect(app.state.step == .summary)
        var g = app.render()
        #expect(g.text.contains("mycnn summary") && g.text.contains("lines 1-"))
        press(app, .pageDown)
        g = app.render()
        #expect(!g.text.contains("mycnn summary") && app.state.summaryScroll > 0)
        press(app, .end)
        #expect(app.render().text.contains("layer 60"))
        press(app, .escape)
        #expect(app.state.step == .recipe && app.chosen == nil)
        press(app, .tab, .enter)
        let chosen = try #require(app.chosen)
        #expect(chosen.model == "mycnn" && chosen.dataset == "mnist")
    }

    @Test func quitAndHelp() {
        let app = setup()
        press(app, .character("?"))
        #expect(app.render().text.contains("Keys (any key closes)"))
        press(app, .character("x"))
        #expect(!app.state.showingHelp && !app.shouldQuit)
        press(app, .interrupt)
        #expect(app.shouldQuit && app.chosen == nil)
    }

    @Test func tooSmallWindowSaysWhatItNeeds() {
        let g = setup(60, 20).render()
        #expect(g.text.contains("Terminal too small: 60x20, need 80x24"))
    }

    @Test(arguments: [(80, 24), (120, 40)])
    func everyStepRendersInPlainASCIIWithoutColour(width: Int, height: Int) {
        let app = setup(width, height, caps: .plainASCII)
        for keys: [Key] in [[], [.enter], [.enter], [.tab]] {
            for k in keys { app.handle(key: k) }
            let g = app.render()
            #expect(g.width == width && g.height == height)
            let ascii = g.text.unicodeScalars.allSatisfy { $0.isASCII }
            #expect(ascii, "step \(app.state.step)")
            #expect(g.cells.allSatisfy { $0.foreground == .default && $0.background == .default })
            // The selection is marked by a character, not only by reverse video or colour.
            if app.state.step != .summary { #expect(g.lines.contains { $0.hasPrefix("|>") }, "step \(app.state.step)") }
        }
        #expect(app.state.step == .summary)
    }

    // Whole-screen snapshots of each step (files in Snapshots/, see Snapshot.swift).
    @Test(arguments: Snapshot.sizes) func everyStepAsAWholeScreen(width: Int, height: Int) {
        let app = setup(width, height)
        Snapshot.check(app.render(), named: "setup-dataset")
        press(app, .enter)
        Snapshot.check(app.render(), named: "setup-model")
        press(app, .enter)
        Snapshot.check(app.render(), named: "setup-recipe")
        press(app, .tab)
        Snapshot.check(app.render(), named: "setup-summary")
    }
}

@Suite struct HistoryTests {
    @Test func finishedSessionShowsItsHistoryFromTheMetrics() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-history-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = SessionStore(root: root)
        let config = TrainingConfig(model: "mycnn", dataset: "fashion-mnist", epochs: 2, batchSize: 100, optimizer: .adam,
                                    learningRate: 0.01)
        let session = try store.create(config: config)
        let lines = [
            #"{"kind":"step","epoch":1,"step":10,"global_step":10,"lr":0.01,"loss":1.5,"accuracy":0.5}"#,
            #"{"kind":"epoch","epoch":1,"global_step":20,"lr":0.01,"train_loss":1.0,"train_accuracy":0.6,"test_loss":0.8,"test_accuracy":0.7,"images_per_second":900,"seconds":2.2}"#,
            #"{"kind":"lr","epoch":2,"global_step":25,"lr":0.0005,"lr_change":"manual"}"#,
            #"{"kind":"step","epoch":2,"step":10,"global_step":30,"lr":0.0005,"loss":0.6,"accuracy":0.8}"#,
            #"{"kind":"epoch","epoch":2,"global_step":40,"lr":0.0005,"train_loss":0.5,"train_accuracy":0.8,"test_loss":0.45,"test_accuracy":0.84,"images_per_second":950,"seconds":2.1}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(to: session.metricsJSONLURL, atomically: true, encoding: .utf8)
        let model = try SessionHistory.model(of: session)
        #expect(model.isHistory && !model.isTrainingLive)
        #expect(model.run?.stepsPerEpoch == 20 && model.lastStep?.globalStep == 40 && model.lastStep?.epoch == 2)
        #expect(model.lastEvaluation?.testAccuracy == 0.84 && model.bestTestAccuracy == 0.84)
        #expect(model.manualLearningRateChanges == [25] && model.currentLearningRate == 0.0005)

        let app = App(capabilities: .full, width: 120, height: 40)
        app.show(history: model)
        let g = app.render()
        #expect(g.lines[0].contains("mycnn on fashion-mnist") && g.lines[0].contains("epoch 2/2"))
        #expect(g.lines[1].contains("test 84.0%") && g.lines[1].contains("lr 0.0005"))
        #expect(g.text.contains("not kept in the metrics"))
        // Nothing to pause or change; q leaves without asking.
        #expect(app.handle(key: .character("p")).isEmpty)
        #expect(app.handle(key: .character("l")).isEmpty && app.ui.learningRateInput == nil)
        #expect(app.handle(key: .character("q")).isEmpty && app.shouldQuit)
    }

    @Test func imageFoldersShowPicturesPerClassAugmentationAndMeasuredStatistics() throws {
        let json = """
            [{"name": "signs", "found": true, "path": "/data/signs", "train": 150, "test": 38, "shape": [3, 32, 32],
              "classes": ["stop", "yield"], "how_to_get": null, "train_per_class": [120, 30], "test_per_class": [30, 8],
              "held_out_test": {"fraction": 0.2, "seed": 0}}]
            """
        let listings = try JSONDecoder().decode([DatasetListing].self, from: Data(json.utf8))
        #expect(SetupScreen.perClassLines(listings[0]) == [
            "train pictures per class: stop 120, yield 30 (largest/smallest 4.0x)",
            "no test/ folder: 20 % of train/ held out for testing, seed 0"])
        let app = SetupApp(capabilities: .full, width: 120, height: 40, datasets: listings, models: ["mycnn"], estimator: nil)
        for key in [Key.enter, .enter] { app.handle(key: key) }
        var g = app.render()
        #expect(g.text.contains("crop (pad 4 + random crop, no mirror; the dataset's default); --augment crop+flip mirrors photos"))
        #expect(g.text.contains("Image size      auto   auto: the pictures' own side if they share one up to 64, else 32"))
        #expect(g.text.contains("Resize          ◀ stretch ▶"))
        #expect(g.text.contains("mean / std      measured on the training pictures when they are first decoded"))
        var state = app.state
        state.folderReport = ImageFolderReport(side: 32, resize: .crop, trainPerClass: [120, 30], testPerClass: [30, 8],
                                               skipped: [SkippedPicture(path: "train/stop/x.png", reason: "zero-byte image file")],
                                               heldOutTest: .standard, mean: [0.5, 0.25, 0.125], std: [0.2, 0.2, 0.2])
        g = SetupScreen(state: state, width: 120, height: 40, caps: .full, busyModel: nil).render()
        #expect(g.text.contains("mean / std      mean 0.500 0.250 0.125, std 0.200 0.200 0.200 (measured on the training pictures)"))
        #expect(g.text.contains("skipped         1 unreadable picture(s), e.g. train/stop/x.png"))
        #expect(g.text.contains("Image size      auto (32)"))
    }

    @Test func anImageFoldersSizeAndResizeAreFieldsOfTheRecipe() throws {
        let json = """
            [{"name": "signs", "found": true, "path": "/data/signs", "train": 150, "test": 38, "shape": [3, 32, 32],
              "classes": ["stop", "yield"], "how_to_get": null, "train_per_class": [120, 30], "test_per_class": [30, 8]}]
            """
        let listings = try JSONDecoder().decode([DatasetListing].self, from: Data(json.utf8))
        let app = SetupApp(capabilities: .full, width: 120, height: 40, datasets: listings, models: ["mycnn"], estimator: nil)
        for key in [Key.enter, .enter] { app.handle(key: key) }
        #expect(app.state.recipeFields.last == .resize && app.state.recipeRowCount == RecipeField.allCases.count + 1)
        // Down to the image size, type 48.
        for _ in 0..<RecipeField.imageSize.rawValue { app.handle(key: .down) }
        app.handle(key: .enter)
        for key in [Key.backspace, .backspace, .backspace, .backspace, .character("4"), .character("8"), .enter] { app.handle(key: key) }
        #expect(app.state.config?.imageSize == 48 && app.state.overrides.imageSize == 48)
        // Out of range: refused, nothing changed.
        app.handle(key: .enter)
        for key in [Key.backspace, .backspace, .character("2"), .enter] { app.handle(key: key) }
        #expect(app.state.messageIsError && app.state.message?.contains("4 to 1024") == true && app.state.config?.imageSize == 48)
        app.handle(key: .escape)
        // The resize rule steps with left/right.
        app.handle(key: .down)
        app.handle(key: .right)
        #expect(app.state.config?.resize == .crop)
        app.handle(key: .right)
        #expect(app.state.config?.resize == .stretch)
        // A dataset that is not a folder has no such rows: continue follows the seed.
        let plain = SetupApp(capabilities: .full, width: 100, height: 30, datasets: SetupTests.listings, models: ["mycnn"],
                             estimator: nil)
        for key in [Key.enter, .enter] { plain.handle(key: key) }
        #expect(plain.state.recipeFields == Array(RecipeField.allCases.prefix(6)) && plain.state.recipeRowCount == 7)
    }
}
