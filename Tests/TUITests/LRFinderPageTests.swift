import Foundation
import Testing
import Training
@testable import TUI

/// The learning-rate finder over the recipe screen: its keys as state in, state and actions out, and its screen.
@Suite struct LRFinderPageTests {
    /// A made-up sweep of 100 batches from 1e-7 to 10: flat, a descent around 1e-3, then divergence at batch 90.
    static let sweep: [LRFinderPoint] = {
        let settings = LRFinderSettings()
        var curve = LRFinderCurve(iterations: settings.iterations)
        for i in 0..<settings.iterations {
            let rate = Float(settings.learningRate(at: i))
            let x = log10(Double(rate))
            let descent = 1.9 / (1 + exp(-2.2 * (x + 3.5)))
            let blowUp = x > -0.8 ? pow(10, 2.5 * (x + 0.8)) - 1 : 0
            let wiggle = 0.03 * sin(Double(i) * 1.7)
            if curve.add(learningRate: rate, loss: Float(2.3 - descent + blowUp + wiggle)) != nil { break }
        }
        return curve.points
    }()

    static var finished: LRFinderResult {
        LRFinderResult(points: sweep, stop: .diverged, suggestions: LRSuggestions.suggest(sweep, iterations: 100))
    }

    static func recipeState() throws -> SetupState {
        var s = SetupKeyTests.start()
        (s, _) = press(s, .enter, .enter)
        #expect(s.step == .recipe && s.config != nil)
        return s
    }

    static func press(_ state: SetupState, _ keys: Key...) -> (SetupState, [SetupAction]) {
        var s = state
        var all: [SetupAction] = []
        for key in keys {
            let (next, actions) = handleSetupKey(key, state: s, windowHeight: 30)
            s = next
            all += actions
        }
        return (s, all)
    }

    @Test func theMadeUpSweepDivergesAndHasTwoDistinctSuggestions() {
        #expect(Self.sweep.count > 60 && Self.sweep.count < 100)
        let result = Self.finished
        let valley = result.suggestion(.valley)?.learningRate ?? 0, steep = result.suggestion(.steep)?.learningRate ?? 0
        #expect(valley > 1e-5 && valley < 1e-1 && steep > 1e-5 && steep < 1e-1 && valley != steep)
    }

    @Test func fStartsTheSweepAndEnterPutsThePickIntoTheRecipe() throws {
        var s = try Self.recipeState()
        let config = try #require(s.config)
        var actions: [SetupAction]
        (s, actions) = Self.press(s, .character("f"))
        #expect(actions == [.startFinder(config)] && s.finder?.isRunning == true && s.finder?.recipeLearningRate == 0.01)

        // While it sweeps: points arrive; Enter has nothing to take yet and says so.
        for point in Self.sweep.prefix(30) { s.finder?.apply(.point(point)) }
        (s, actions) = Self.press(s, .enter)
        #expect(actions.isEmpty && s.finder?.points.count == 30 && s.messageIsError)
        #expect(s.message?.contains("still sweeping") == true)

        // Finished: valley is picked first; right and tab switch between the two, left goes back.
        s.finder?.apply(.finished(Self.finished))
        #expect(s.finder?.chosen?.rule == .valley)
        (s, _) = Self.press(s, .right)
        #expect(s.finder?.chosen?.rule == .steep)
        (s, _) = Self.press(s, .tab)
        #expect(s.finder?.chosen?.rule == .valley)
        (s, _) = Self.press(s, .left)
        #expect(s.finder?.chosen?.rule == .steep)

        // Enter: the steep rate becomes the recipe's learning rate, as an override the form marks as set.
        let steep = try #require(Self.finished.suggestion(.steep)).learningRate
        (s, actions) = Self.press(s, .enter)
        #expect(actions == [.stopFinder] && s.finder == nil && s.step == .recipe)
        #expect(s.overrides.learningRate == steep && s.config?.learningRate == steep)
        #expect(RecipeField.learningRate.isSet(in: s.overrides) && s.recipeCursor == RecipeField.learningRate.rawValue)
        #expect(s.message?.contains("steep") == true && !s.messageIsError)
        // Nothing else of the recipe changed.
        var expected = config
        expected.learningRate = steep
        #expect(s.config == expected)
    }

    @Test func escCancelsTheSweepAndLeavesTheRecipeAlone() throws {
        var s = try Self.recipeState()
        let config = s.config
        var actions: [SetupAction]
        (s, _) = Self.press(s, .character("f"))
        s.finder?.apply(.point(Self.sweep[0]))
        (s, actions) = Self.press(s, .escape)
        #expect(actions == [.stopFinder] && s.finder == nil && s.step == .recipe && s.config == config)
        #expect(s.message?.contains("cancelled") == true)
        // Esc again is the recipe's own: back to the model step.
        (s, _) = Self.press(s, .escape)
        #expect(s.step == .model)
    }

    @Test func qQuitsAndHelpListsTheKeyWhileTheFinderIsOpen() throws {
        var s = try Self.recipeState()
        (s, _) = Self.press(s, .character("f"))
        var actions: [SetupAction]
        (s, actions) = Self.press(s, .character("?"))
        #expect(s.showingHelp && actions.isEmpty && s.finder != nil)
        (s, _) = Self.press(s, .down)
        #expect(!s.showingHelp && s.finder != nil)
        (_, actions) = Self.press(s, .character("q"))
        #expect(actions == [.quit])
        #expect(setupKeyBindings.contains { $0.key == "f" && $0.action.contains("learning rate") })
    }

    @Test func aFailedOrTooShortSweepOffersNothingToTake() throws {
        var s = try Self.recipeState()
        (s, _) = Self.press(s, .character("f"))
        var failed = s
        failed.finder?.apply(.failed(message: "--dataset: 'mnist': not found"))
        (failed, _) = Self.press(failed, .enter)
        #expect(failed.finder?.failure != nil && failed.messageIsError && failed.message?.contains("no suggestion") == true)
        let short = Array(Self.sweep.prefix(12))
        s.finder?.apply(.finished(LRFinderResult(points: short, stop: .notFinite, suggestions: LRSuggestions.suggest(short, iterations: 100))))
        (s, _) = Self.press(s, .enter)
        #expect(s.finder != nil && s.messageIsError && s.message?.contains("no suggestion") == true)
    }

    // MARK: - Screens

    /// The app on the recipe step with the finder open, fed `points` and perhaps the end.
    func finderApp(_ width: Int, _ height: Int, caps: TerminalCapabilities = .full, points: Int, finished: Bool) -> SetupApp {
        let app = SetupApp(capabilities: caps, width: width, height: height, datasets: SetupTests.listings,
                           models: SetupKeyTests.models, estimator: nil, summarize: { _, _ in [] },
                           startFinder: { _ in nil })
        for key in [Key.enter, .enter, .character("f")] { app.handle(key: key) }
        app.receiveFinderEvents([.started(LRFinderSettings())] + Self.sweep.prefix(points).map { .point($0) }
                                + (finished ? [.finished(Self.finished)] : []))
        return app
    }

    @Test(arguments: Snapshot.sizes) func theFinderAsAWholeScreen(width: Int, height: Int) {
        Snapshot.check(finderApp(width, height, points: 40, finished: false).render(), named: "lr-finder-sweeping")
        let done = finderApp(width, height, points: 0, finished: true)
        Snapshot.check(done.render(), named: "lr-finder-done")
        done.handle(key: .right)
        Snapshot.check(done.render(), named: "lr-finder-steep")
    }

    @Test(arguments: [(80, 24), (160, 48)]) func theFinderWithoutColourInASCII(width: Int, height: Int) {
        let app = finderApp(width, height, caps: .plainASCII, points: 0, finished: true)
        let g = app.render()
        Snapshot.check(g, named: "lr-finder-ascii")
        #expect(g.cells.allSatisfy { $0.foreground == .default && $0.background == .default })
        #expect(g.lines.allSatisfy { line in line.unicodeScalars.allSatisfy { $0.isASCII } })
        // The picked suggestion is marked by characters: the row's ">" and its letter in reverse video on the curve.
        #expect(g.lines.contains { $0.hasPrefix("|> V valley") })
        let onCurve = g.lines.indices.filter { !g.lines[$0].contains("valley") }.flatMap { y in (0..<g.width).filter { g[$0, y].character == "V" && g[$0, y].attributes.contains(.reverse) } }
        #expect(onCurve.count == 1)
    }

    @Test func theChartIsLabelledInLearningRateOnALogScale() throws {
        let g = finderApp(100, 30, points: 0, finished: true).render()
        let axis = g.lines.first { $0.contains("1e-7") && $0.contains("1e-4") } ?? ""
        #expect(axis.contains("10") && g.text.contains("x: learning rate (log scale)"), "\(g.text)")
        // 1e-4 sits 3/8 of the way from 1e-7 to 10 (a log scale), not near the left end.
        let left = try #require(axis.range(of: "1e-7")).lowerBound, tick = try #require(axis.range(of: "1e-4")).lowerBound
        let right = try #require(axis.range(of: "10", options: .backwards)).lowerBound
        let fraction = Double(axis.distance(from: left, to: tick)) / Double(axis.distance(from: left, to: right))
        #expect(fraction > 0.3 && fraction < 0.45, "\(fraction)")
        #expect(LRFinderChart.powerOfTen(-7) == "1e-7" && LRFinderChart.powerOfTen(1) == "10"
                && LRFinderChart.powerOfTen(log10(3e-5)) == "3e-5")
    }
}
