import Testing
import Training
@testable import TUI

@Suite struct ScreenTests {
    static let sizes = [(80, 24), (120, 40)]

    func app(_ width: Int, _ height: Int, _ caps: TerminalCapabilities = .full) -> App {
        let app = App(capabilities: caps, width: width, height: height)
        for e in Sample.events { app.handle(event: e) }
        return app
    }

    @Test(arguments: sizes) func dashboardFillsTheWindow(width: Int, height: Int) {
        let g = app(width, height).render()
        #expect(g.width == width && g.height == height)
        #expect(g.lines[0].contains("resnet20") && g.lines[0].contains("epoch 2/10") && g.lines[0].contains("ETA 5m12s"))
        #expect(g.lines[0].hasSuffix(" RUNNING "))
        for title in ["Loss", "Accuracy", "Learning rate", "Per-class accuracy", "Test images"] { #expect(g.text.contains(title), "\(title)") }
        #expect(g.lines[height - 1].contains("? help"))
        #expect(g.text.contains("T-shirt") && g.text.contains("95.0%"))
        #expect(g.text.contains("▲"))   // the manual LR change
        // Every panel lies inside the window and panels do not overlap.
        let layout = DashboardLayout(width: width, height: height, classCount: 10, focus: .loss)
        let rects = Array(layout.panels.values)
        for (i, a) in rects.enumerated() {
            #expect(a.intersection(g.bounds) == a)
            for b in rects[(i + 1)...] { #expect(a.intersection(b).isEmpty) }
        }
    }

    @Test func largeWindowShowsEveryPanelAndSmallOneTheFocusedOne() {
        #expect(DashboardLayout(width: 120, height: 40, classCount: 10, focus: .loss).panels.count == 6)
        let small = DashboardLayout(width: 80, height: 24, classCount: 10, focus: .loss)
        #expect(small.panels[.confusion] == nil && small.panels[.images] != nil)
        let focused = DashboardLayout(width: 80, height: 24, classCount: 10, focus: .confusion)
        #expect(focused.panels[.confusion].map { $0.height >= 13 } == true)
        let g = app(120, 40).render()
        #expect(g.text.contains("Confusion") && g.text.contains(" 89  11"))
    }

    @Test func headerStaysReadableAt80Columns() {
        let g = app(80, 24).render()
        #expect(g.lines[0].contains("step 50/100") && g.lines[1].contains("lr 0.05"))
    }

    @Test(arguments: sizes) func misclassifiedBrowser(width: Int, height: Int) {
        let a = app(width, height)
        a.handle(key: .character("m"))
        a.handle(key: .character("o"))  // by test index
        a.handle(key: .right)
        let g = a.render()
        #expect(g.width == width && g.height == height)
        #expect(g.text.contains("Misclassified 2/11, by index") && g.text.contains("filter: all"))
        #expect(g.text.contains("true:      Trouser") && g.text.contains("predicted: Pullover ✗"))
        #expect(g.text.contains("loss 2.900, p(true) 5.5%"))
        #expect(g.text.contains("78.0%") && g.text.contains("* Trouser"))
        #expect(g.text.contains("✗Pullover") || g.text.contains("✗Pullo"))
        #expect(g.lines[height - 1].contains("esc back"))
    }

    @Test func browserEnteredFromAConfusionCellShowsThatCell() {
        let a = app(120, 40)
        for k: Key in [.tab, .tab, .tab, .tab, .down, .down, .right, .right, .right, .enter] { a.handle(key: k) }
        let g = a.render()
        #expect(g.text.contains("Misclassified 1/1") && g.text.contains("filter: true = Pullover, predicted = Dress"))
        a.handle(key: .character("c")); a.handle(key: .character("c"))
        #expect(a.render().text.contains("filter: predicted = Trouser"))
    }

    @Test func emptyBrowserExplainsWhy() {
        let a = App(capabilities: .full, width: 80, height: 24)
        a.handle(event: .started(Sample.run))
        a.handle(key: .character("m"))
        #expect(a.render().text.contains("no evaluation yet"))
        let d = App(capabilities: .full, width: 80, height: 24)
        d.handle(event: .started(Sample.run))
        #expect(d.render().text.contains("after the first evaluation") && d.render().text.contains("waiting for data"))
    }

    @Test func tooSmallScreenNamesTheFailingDimension() {
        let a = app(70, 20)
        let g = a.render()
        let row = g.lines.firstIndex { $0.contains("Terminal too small: 70x20, need 80x24") }
        #expect(row != nil)
        if let row {
            let x = Array(g.lines[row]).firstIndex(of: "7")!
            #expect(g[x, row].foreground == .red && g[x + 3, row].foreground == .red)   // 70 and 20
        }
        let wideEnough = App(capabilities: .full, width: 90, height: 10).render()
        let r2 = wideEnough.lines.firstIndex { $0.contains("90x10") }!
        let x2 = Array(wideEnough.lines[r2]).firstIndex(of: "9")!
        #expect(wideEnough[x2, r2].foreground == .default && wideEnough[x2 + 3, r2].foreground == .red)
        #expect(App(capabilities: .full, width: 10, height: 1).render().lines == ["Terminal t"])
        a.handle(key: .character("q"))
        #expect(a.render().text.contains("quit? y = quit"))
    }

    @Test(arguments: sizes) func noColourAndASCIIModes(width: Int, height: Int) {
        for screen: [Key] in [[], [.character("m")], [.character("?")], [.tab, .tab, .tab, .tab]] {
            let a = app(width, height, .plainASCII)
            for k in screen { a.handle(key: k) }
            let g = a.render()
            #expect(g.cells.allSatisfy { $0.foreground == .default && $0.background == .default }, "\(screen)")
            #expect(g.lines.joined().unicodeScalars.allSatisfy { $0.isASCII }, "\(screen): \(g.text)")
        }
        let eight = app(width, height, .basic)
        eight.handle(key: .character("m"))
        #expect(eight.render().cells.allSatisfy {
            if case .indexed = $0.foreground { return false }
            if case .indexed = $0.background { return false }
            return true
        })
    }

    @Test func helpOverlayListsEveryKey() {
        let a = app(120, 40)
        a.handle(key: .character("?"))
        let g = a.render()
        for binding in keyBindings { #expect(g.text.contains(binding.key) && g.text.contains(binding.action), "\(binding.key)") }
        a.handle(key: .escape)
        #expect(!a.render().text.contains("any key closes"))
    }

    @Test func statusLineShowsPromptAndQuitQuestion() {
        let a = app(80, 24)
        a.handle(key: .character("l"))
        for c in "0.02" { a.handle(key: .character(c)) }
        #expect(a.render().lines[23].hasPrefix(" new learning rate (now 0.05): 0.02"))
        #expect(a.handle(key: .enter) == [.setLearningRate(0.02)])
        #expect(a.render().lines[23].contains("learning rate → 0.02"))
        a.handle(key: .character("q"))
        #expect(a.render().lines[23].contains("y = quit"))
        #expect(a.handle(key: .character("y")) == [.stop] && a.shouldQuit)
    }

    @Test func keyCodesMapToKeys() {
        #expect(TerminalPainter.characterKey(27) == .escape && TerminalPainter.characterKey(127) == .backspace)
        #expect(TerminalPainter.characterKey(13) == .enter && TerminalPainter.characterKey(0x71) == .character("q"))
        #expect(TerminalPainter.functionKey(0o403) == .up && TerminalPainter.functionKey(0o541) == .backTab)
    }

    @Test func anImageFoldersFirstDecodingShowsInTheHeaderUntilTheFirstStep() {
        let app = App(capabilities: .full, width: 100, height: 30)
        _ = app.handle(event: .stateChanged(.starting))
        _ = app.handle(event: .decoding(DecodingProgress(done: 25_000, total: 50_000, seconds: 7.4)))
        let g = app.render()
        #expect(g.lines[1].contains("decoding pictures: 25000 of 50000 (50%), 7.4 s (cached for the next start)"), "\(g.text)")
        #expect(g.lines[1].contains("█"), "the bar is half full:\n\(g.text)")
        _ = app.handle(event: .step(StepEvent(epoch: 1, step: 1, stepsPerEpoch: 10, globalStep: 1, totalSteps: 10, etaSeconds: nil)))
        #expect(!app.render().lines[1].contains("decoding"))
    }
}
