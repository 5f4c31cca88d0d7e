import ArgumentParser

/// `cnntui` alone opens the terminal UI; every subcommand runs headless.
@main
struct CNNTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnntui",
        abstract: "Train convolutional networks on the CPU and watch them learn.",
        subcommands: [
            // Subcommands, one file each; keep this list in the order `--help` should show.
            TrainCommand.self,
            ResumeCommand.self,
            SessionsCommand.self,
            EvalCommand.self,
            PredictCommand.self,
            Bench.self, BenchWorker.self,
            ModelsCommand.self,
            SummaryCommand.self,
            DatasetsCommand.self,
            DownloadCommand.self,
        ])

    mutating func run() throws {
        print("cnntui: the terminal UI is not built yet; see `cnntui --help`.")
    }
}
