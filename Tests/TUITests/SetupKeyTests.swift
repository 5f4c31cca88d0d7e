import Data
import Testing
import Training
@testable import TUI

/// `handleSetupKey` on its own: every step of the pickers as state in, state and actions out.
@Suite struct SetupKeyTests {
    static let models = ["mycnn", "resnet-2-2-2", "vgg11"]
    static let mnist = SetupTests.listings.first { $0.name == "mnist" }!

    static func start() -> SetupState {
        var state = SetupState(datasets: SetupTests.listings, models: models)
        state.estimates = ["vgg11|1x28x28|10": ModelEstimate(error: "unsupportedInput: it is built for 32x32 images")]
        return state
    }

    /// Presses `keys` in order; returns the last state and every action, in order.
    func press(_ state: SetupState, _ keys: Key..., height: Int = 30) -> (SetupState, [SetupAction]) {
        var s = state
        var all: [SetupAction] = []
        for key in keys {
            let (next, actions) = handleSetupKey(key, state: s, windowHeight: height)
            s = next
            all += actions
        }
        return (s, all)
    }

    func job(_ model: String, batchSize: Int, time: Bool) -> ModelEstimator.Job {
        .init(model: model, inputShape: [1, 28, 28], classes: 10, batchSize: batchSize, timeSteps: time)
    }

    @Test func throughTheFourStepsToAChosenConfig() throws {
        var s = Self.start()
        #expect(s.step == .dataset && s.dataset?.name == "mnist")
        var actions: [SetupAction]

        // Dataset -> model: the estimator is asked to count every model and to time the highlighted one.
        (s, actions) = press(s, .enter)
        #expect(s.step == .model)
        let counting = Self.models.map { job($0, batchSize: s.batchSize(for: $0), time: false) }
        #expect(actions == [.requestEstimates(counting: counting, timing: job("mycnn", batchSize: 100, time: true))])
        (s, actions) = press(s, .down)
        #expect(s.modelCursor == 1 && actions.count == 1)
        if case let .requestEstimates(_, timing)? = actions.first { #expect(timing.model == "resnet-2-2-2") } else { Issue.record("\(actions)") }

        // Model -> recipe: the seed recipe, resolved; nothing more to estimate.
        (s, _) = press(s, .up)
        (s, actions) = press(s, .enter)
        let config = try #require(s.config)
        #expect(s.step == .recipe && s.recipeCursor == 0 && config.model == "mycnn" && config.dataset == "mnist")
        #expect(actions.isEmpty)

        // Recipe -> summary: the app makes the summary and shows it.
        (s, actions) = press(s, .tab)
        #expect(s.step == .recipe && actions == [.startSummary(config, Self.mnist)])
        s.showSummary((1...60).map { "layer \($0)" })
        #expect(s.step == .summary && s.summaryScroll == 0)

        // Summary: a page is the window less six lines; Enter starts training with the config.
        (s, actions) = press(s, .pageDown)
        #expect(s.summaryScroll == 24 && actions.isEmpty)
        (s, actions) = press(s, .end)
        #expect(s.summaryScroll == 36)
        (s, actions) = press(s, .enter)
        #expect(actions == [.choose(config)])
    }

    @Test func refusalsSayWhyAndChangeNothingElse() {
        var s = Self.start()
        var actions: [SetupAction]
        (s, actions) = press(s, .down, .enter)
        #expect(s.step == .dataset && s.messageIsError && s.message?.contains("apt install dataset-fashion-mnist") == true)
        #expect(actions.isEmpty)
        (s, _) = press(s, .up, .enter, .end, .enter)
        #expect(s.step == .model && s.modelName == "vgg11" && s.config == nil)
        #expect(s.messageIsError && s.message == "unsupportedInput: it is built for 32x32 images")
        // The next key clears the message.
        (s, _) = press(s, .home)
        #expect(s.message == nil && !s.messageIsError)
    }

    @Test func recipeEditsResolveOrAreRefused() throws {
        var (s, _) = press(Self.start(), .enter, .enter)
        // Epochs: Enter opens the field with its value; a good number replaces it and marks it as set.
        (s, _) = press(s, .enter)
        #expect(s.editing == TextInputState(text: "10"))
        (s, _) = press(s, .backspace, .backspace, .character("3"), .enter)
        #expect(s.editing == nil && s.config?.epochs == 3 && s.overrides.epochs == 3 && RecipeField.epochs.isSet(in: s.overrides))
        // Batch size: a bad one leaves the field open with the reason.
        (s, _) = press(s, .down, .enter, .character("x"), .enter)
        #expect(s.editing != nil && s.config?.batchSize == 100 && s.overrides.batchSize == nil && s.messageIsError)
        (s, _) = press(s, .escape)
        #expect(s.editing == nil && s.message == "unchanged" && s.step == .recipe)
        // Left/right on the optimizer cycle it.
        (s, _) = press(s, .down, .left)
        #expect(s.config?.optimizer == .sgd)
        // Esc steps back and keeps the edits for the same model and dataset.
        (s, _) = press(s, .escape, .enter)
        #expect(s.step == .recipe && s.config?.epochs == 3)
        // Another model starts from the command line's flags again.
        (s, _) = press(s, .escape, .down, .enter)
        #expect(s.config?.model == "resnet-2-2-2" && s.overrides == s.base)
    }

    @Test func quitHelpBackAndResize() {
        let s = Self.start()
        #expect(press(s, .character("q")).1 == [.quit] && press(s, .interrupt).1 == [.quit])
        let (back, _) = press(s, .escape)
        #expect(back.message == "q quits" && !back.messageIsError && back.step == .dataset)
        // A resize keeps everything, the message too.
        #expect(press(back, .resize).0 == back)
        // Help takes the next key, whatever it is.
        var (help, actions) = press(s, .character("?"))
        #expect(help.showingHelp && actions.isEmpty)
        (help, actions) = press(help, .character("q"))
        #expect(!help.showingHelp && actions.isEmpty)
        // Ctrl-C quits even from an open field.
        let (editing, _) = press(s, .enter, .enter, .enter)
        #expect(editing.editing != nil && press(editing, .interrupt).1 == [.quit])
    }
}
