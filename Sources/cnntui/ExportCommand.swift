import ArgumentParser
import Foundation
import Training

/// `cnntui export ID --pytorch DIR` (or `--model M --dataset D [recipe flags] --pytorch DIR`): the run as a PyTorch
/// project that trains it with torch or torchrun and writes a cnntui session.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a run as a PyTorch project (train.py, torchrun, resumable) or as TensorBoard event files.",
        discussion: """
            --pytorch with a session ID: its recipe, its last checkpoint (train.py --resume checkpoint continues it) \
            and the learning-rate changes made by hand. With --model and --dataset (and the recipe flags of `cnntui \
            train`): the recipe alone. The project's runs are cnntui sessions: `cnntui attach`, `eval`, `resume` take \
            them. --tensorboard (a session only): its scalars and per-epoch confusion matrices, for \
            `tensorboard --logdir DIR`.
            """)

    @Argument(help: "Session ID (or a unique part of it, or its path); omit it with --model and --dataset.")
    var id: String?
    @Option(help: "Model name (see the zoo), to export a recipe without a session.") var model: String?
    @Option(help: "Dataset name or path, with --model.") var dataset: String?
    @OptionGroup var recipe: RecipeOptions
    @Option(name: .customLong("pytorch"), help: "Write the PyTorch project into this directory.") var pytorchDirectory: String?
    @Option(name: .customLong("tensorboard"), help: "Write the run's scalars and confusion matrices as TensorBoard event files.")
    var tensorboardDirectory: String?
    @Flag(help: "Write into a directory that is not empty (files of the same names are replaced).") var force = false

    func validate() throws {
        guard pytorchDirectory != nil || tensorboardDirectory != nil else {
            throw ValidationError("say what to write: --pytorch DIR (a PyTorch project) or --tensorboard DIR (event files)")
        }
        if tensorboardDirectory != nil, id == nil {
            throw ValidationError("--tensorboard: exports a session's metrics; give its ID")
        }
        switch (id, model, dataset) {
        case (.some, nil, nil):
            if recipe.overrides != TrainingOverrides() || recipe.recipe != "seed" || recipe.dataDir != nil {
                throw ValidationError("recipe flags go with --model and --dataset; a session exports its own recipe "
                                      + "(train.py --epochs N changes its length)")
            }
        case (.some, _, _): throw ValidationError("give a session ID or --model and --dataset, not both")
        case (nil, .some, .some): break
        case (nil, .some, nil): throw ValidationError("--dataset: needed with --model")
        case (nil, nil, .some): throw ValidationError("--model: needed with --dataset")
        case (nil, nil, nil): throw ValidationError("give a session ID, or --model and --dataset")
        }
    }

    func run() throws {
        // The session is found as `eval`, `resume` and `attach` find it (near matches listed on a miss).
        let session = try id.map { try SessionArguments.open($0, sessionsDir: recipe.sessionsDir) }
        if let pytorchDirectory { try exportPyTorch(session: session, to: pytorchDirectory) }
        if let tensorboardDirectory, let session {
            do {
                let directory = URL(fileURLWithPath: tensorboardDirectory)
                try ExportDirectory.check(directory, flag: "--tensorboard", force: force)
                let written = try TensorBoardExport.write(session: session.url, to: directory)
                print("wrote \(written.file.path): \(written.scalars) scalar points (\(written.tags.joined(separator: ", "))), "
                      + "\(written.images) confusion matrices")
                print("view it:    tensorboard --logdir \(directory.path)")
            } catch {
                stderrLine("error: \(error)")
                throw ExitCode.failure
            }
        }
    }

    private func exportPyTorch(session: Session?, to pytorchDirectory: String) throws {
        let source: PyTorchExport.Source
        if let session {
            do { source = PyTorchExport.Source(config: try session.readConfig(), session: session) } catch {
                throw ValidationError("\(error)")
            }
        } else if let model, let dataset {
            source = PyTorchExport.Source(config: try recipe.resolve(model: model, dataset: dataset))
        } else {
            return
        }
        let report: PyTorchExport.Report
        do {
            let assets = try ExportAssets.locate()
            report = try PyTorchExport.write(source, to: URL(fileURLWithPath: pytorchDirectory), force: force, assets: assets)
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode.failure
        }
        for note in report.notes { print("note: \(note)") }
        print("wrote \(report.directory.path): \(report.files.joined(separator: ", "))")
        if let checkpoint = report.checkpoint {
            print("\(checkpoint.lastPathComponent)/: the session's last checkpoint, with its history")
        }
        let resume = report.checkpoint.map { " --resume \($0.lastPathComponent)" } ?? ""
        print("""
            train it:   cd \(report.directory.path) && python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
                        .venv/bin/python train.py\(resume)
                        .venv/bin/torchrun --nproc_per_node=2 train.py\(resume)
            """)
    }
}
