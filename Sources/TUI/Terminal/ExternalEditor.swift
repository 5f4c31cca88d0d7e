import Foundation

/// The user's text editor, run on a file with the terminal handed over (`TerminalPainter.handOver`): the
/// model picker's `e` edits a network spec in it.
public enum ExternalEditor {
    /// Editors tried, in order, when neither `$VISUAL` nor `$EDITOR` is set: Debian's chooser, its
    /// alternatives link, then the two found nearly everywhere.
    static let fallbacks = ["sensible-editor", "editor", "nano", "vi"]

    /// The command line to run: `$VISUAL`, else `$EDITOR` (each may carry arguments, `code --wait`, as git
    /// allows), else the first fallback on `$PATH`; nil when there is none.
    public static func command(environment: [String: String],
                               isExecutable: (String) -> Bool = { FileManager.default.isExecutableFile(atPath: $0) }) -> String? {
        for name in ["VISUAL", "EDITOR"] {
            if let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { return value }
        }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        return fallbacks.first { editor in path.contains { isExecutable($0 + "/" + editor) } }
    }

    public enum Outcome: Equatable, Sendable {
        /// The editor ran and ended with this exit status (editors exit non-zero when told to quit without
        /// saving, but the file is what counts: it is checked either way).
        case exited(Int32)
        case failed(String)
    }

    /// Runs `command` on `file` through `/bin/sh` (so `$EDITOR` may hold arguments) and waits for it. The file
    /// goes in as `$1`, never spliced into the command text, so no file name is read as shell syntax.
    public static func run(_ command: String, file: String) -> Outcome {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The editor starts with no signal blocked and every disposition at its default: the UI ignores
        // Ctrl-C while it waits, and an ignored signal would otherwise stay ignored across exec.
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ["/bin/sh", "-c", command + " \"$1\"", "sh", file]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard spawned == 0 else { return .failed("cannot start `\(command)`: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return .failed("lost the editor `\(command)`: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS are macros Swift does not import.
        let signal = status & 0x7f
        if signal != 0 { return .failed("`\(command)` ended by signal \(signal)") }
        let code = (status >> 8) & 0xff
        // sh's 127: the command was not found.
        if code == 127 { return .failed("`\(command)` was not found (set $VISUAL or $EDITOR)") }
        return .exited(code)
    }
}
