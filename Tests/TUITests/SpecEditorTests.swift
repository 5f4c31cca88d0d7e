import Data
import Foundation
import Models
import Testing
import Training
@testable import TUI

/// `e` in the model picker: the spec copied or opened, handed to an editor (here a function that edits the
/// file as a user would), checked on return, its errors shown with their lines, reopened, and a good spec on
/// to its layer summary. The real editor under a real terminal is `TmuxEndToEndTests.specEditorRoundTrip`.
@Suite struct SpecEditorTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnntui-spec-editor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Records each file the "editor" opened, with its text then, and applies the next scripted edit.
    final class ScriptedEditor: @unchecked Sendable {
        var edits: [(String) -> String?]
        var opened: [(file: String, text: String)] = []
        init(_ edits: [(String) -> String?]) { self.edits = edits }

        func edit(_ file: String) -> ExternalEditor.Outcome {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            opened.append((file, text))
            guard !edits.isEmpty else { return .exited(0) }
            if let new = edits.removeFirst()(text) { try? Data(new.utf8).write(to: URL(fileURLWithPath: file)) }
            return .exited(0)
        }
    }

    func app(in directory: URL, editor: ScriptedEditor, models: [String] = ["mycnn", "resnet-2-2-2"]) -> SetupApp {
        let app = SetupApp(capabilities: .full, width: 100, height: 30, datasets: SetupTests.listings, models: models,
                           estimator: nil, summarize: { config, _ in ["\(config.model) summary"] },
                           specDirectory: directory.appendingPathComponent("models").path, editFile: editor.edit)
        app.handle(key: .enter)   // mnist (found) -> the model step
        return app
    }

    @Test func eOnAZooModelCopiesItsSpecAndAnUnchangedCopyGoesOnToItsSummary() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let editor = ScriptedEditor([])
        let app = app(in: directory, editor: editor)
        #expect(app.state.step == .model)
        app.handle(key: .character("e"))
        let file = directory.appendingPathComponent("models/mycnn.cnn").path
        #expect(editor.opened.map(\.file) == [file])
        #expect(editor.opened.first?.text == (try ModelZoo.specText("mycnn", inputShape: [1, 28, 28], classes: 10)))
        // It builds: its layer summary, and the file is one more model of the list, the one chosen.
        #expect(app.state.step == .summary && app.state.summaryLines.first == "\(file) summary")
        #expect(app.state.models == ["mycnn", "resnet-2-2-2", file] && app.state.modelName == file)
        #expect(app.state.config?.model == file && app.state.config?.batchSize == Recipe.seed(family: "MyCNN")?.batchSize)
        #expect(app.state.message?.contains("builds") == true && !app.state.messageIsError)
        // Enter trains it.
        app.handle(key: .enter)
        #expect(app.chosen?.model == file)
    }

    @Test func aBrokenSpecIsShownWithItsLineAndReopensUntilItBuilds() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The user changes conv2's input to a pooling larger than the 7x7 plane it gets, then fixes it.
        let editor = ScriptedEditor([
            { $0.replacingOccurrences(of: "  maxpool 2\nfc:", with: "  maxpool 16\nfc:") },
            { $0.replacingOccurrences(of: "maxpool 16", with: "maxpool 2") },
        ])
        let app = app(in: directory, editor: editor)
        app.handle(key: .character("e"))
        let file = directory.appendingPathComponent("models/mycnn.cnn").path
        let problem = try #require(app.state.specProblem)
        let lines = editor.opened[0].text.split(separator: "\n", omittingEmptySubsequences: false)
        let pooling = try #require(lines.indices.last { lines[$0].contains("maxpool 2") && lines[$0 + 1].hasPrefix("fc:") })
        let badLine = pooling + 1
        #expect(problem.file == file && problem.line == badLine)
        #expect(problem.message.hasPrefix("\(file): line \(badLine): ") && problem.message.contains("16"))
        #expect(problem.excerpt.contains { $0.number == badLine && $0.text.contains("maxpool 16") })
        #expect(app.state.step == .model && app.state.modelName == file)
        let screen = app.render().text
        #expect(screen.contains("does not build") && screen.contains("line \(badLine)") && screen.contains("maxpool 16"))
        // Keys other than e and Esc say what they do and change nothing.
        app.handle(key: .down)
        #expect(app.state.specProblem == problem && app.state.message?.contains("e edits") == true)
        // e reopens the same file (not a new copy); the fix builds and goes on to the summary.
        app.handle(key: .character("e"))
        #expect(editor.opened.map(\.file) == [file, file] && editor.opened[1].text.contains("maxpool 16"))
        #expect(app.state.specProblem == nil && app.state.step == .summary)
    }

    @Test func escLeavesTheBrokenFileListedAndAnExistingCopyIsOpenedNotOverwritten() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let models = directory.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let mine = "conv 8 3 padding=1\nrelu\nglobal-avgpool\nfc: linear classes\n"
        try Data(mine.utf8).write(to: models.appendingPathComponent("mycnn.cnn"))
        let editor = ScriptedEditor([{ $0 + "bogus-layer 3\n" }])
        let app = app(in: directory, editor: editor)
        app.handle(key: .character("e"))
        #expect(editor.opened.first?.text == mine)
        let problem = try #require(app.state.specProblem)
        #expect(problem.line == 5 && problem.message.contains("bogus-layer"))
        app.handle(key: .escape)
        #expect(app.state.specProblem == nil && app.state.step == .model)
        #expect(app.state.modelName == models.appendingPathComponent("mycnn.cnn").path)
    }

    @Test func anEditorThatCannotStartIsAnErrorOnTheModelStep() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let app = SetupApp(capabilities: .full, width: 100, height: 30, datasets: SetupTests.listings, models: ["mycnn"],
                           estimator: nil, specDirectory: directory.path, editFile: { _ in .failed("no editor found: set $VISUAL or $EDITOR") })
        app.handle(key: .enter)
        app.handle(key: .character("e"))
        #expect(app.state.step == .model && app.state.messageIsError && app.state.message?.contains("$EDITOR") == true)
    }

    @Test(arguments: Snapshot.sizes) func theProblemScreen(width: Int, height: Int) throws {
        var state = SetupState(datasets: SetupTests.listings, models: ["mycnn", "models/mine.cnn"])
        state.step = .model
        state.modelCursor = 1
        let text = (["# mine: two convolutions"] + (1...14).map { "conv\($0): conv 16 3 padding=1" }).joined(separator: "\n")
        state.specProblem = SpecProblem(file: "models/mine.cnn", message: "models/mine.cnn: line 9: conv expects 32 input "
                                            + "channels, the layer before gives 16", line: 9, text: text)
        Snapshot.check(SetupScreen(state: state, width: width, height: height, caps: .full, busyModel: nil).render(),
                       named: "setup-spec-problem")
        let plain = SetupScreen(state: state, width: width, height: height, caps: .plainASCII, busyModel: nil).render()
        #expect(plain.lines.contains { $0.contains("> 9 | conv8: conv 16 3") }, "\(plain.text)")
    }

    // MARK: - The editor command

    @Test func theEditorIsVisualThenEditorThenAFallbackOnThePath() {
        let everywhere: (String) -> Bool = { _ in true }
        #expect(ExternalEditor.command(environment: ["VISUAL": "code --wait", "EDITOR": "vi"], isExecutable: everywhere) == "code --wait")
        #expect(ExternalEditor.command(environment: ["VISUAL": " ", "EDITOR": "vi"], isExecutable: everywhere) == "vi")
        #expect(ExternalEditor.command(environment: ["PATH": "/a:/b"], isExecutable: { $0 == "/b/nano" }) == "nano")
        #expect(ExternalEditor.command(environment: ["PATH": "/a"], isExecutable: { _ in false }) == nil)
    }

    @Test func theEditorGetsTheFileAsOneArgumentNeverAsShellText() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("my net $(touch pwned);.cnn").path
        FileManager.default.createFile(atPath: file, contents: Data())
        #expect(ExternalEditor.run("printf 'relu\\n' >", file: file) == .exited(0))
        #expect((try String(contentsOfFile: file, encoding: .utf8)) == "relu\n")
        #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/pwned"))
        #expect(ExternalEditor.run("false", file: file) == .exited(1))
        guard case .failed(let why) = ExternalEditor.run("no-such-editor-for-cnntui", file: file) else {
            Issue.record("a missing editor should fail")
            return
        }
        #expect(why.contains("not found"))
    }
}
