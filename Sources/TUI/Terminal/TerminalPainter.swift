import CNcursesw
import Foundation

public struct TerminalError: Error, CustomStringConvertible {
    public var description: String
}

/// The only code that calls curses. It sets the terminal up, paints a `CellGrid` by writing just the cells that
/// changed since the last frame, reads keys with a timeout (so the UI loop sleeps), and restores the terminal.
/// Use from one thread (the UI loop's).
public final class TerminalPainter {
    public let capabilities: TerminalCapabilities
    private var previous: CellGrid?
    private var pairs: [PairKey: Int32] = [:]
    private let useDefaultColors: Bool
    private let paletteSize: Int
    private var active = true

    private struct PairKey: Hashable { var fg: Int32, bg: Int32 }

    /// Sets up curses: locale, cbreak/noecho/keypad, hidden cursor, colours, and the signal handlers that
    /// restore the terminal. Throws when stdin/stdout is not a terminal.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TerminalPainter {
        guard isatty(0) != 0, isatty(1) != 0 else {
            throw TerminalError(description: "the dashboard needs a terminal (stdin and stdout are not a TTY); use --headless")
        }
        return TerminalPainter(environment: environment)
    }

    private init(environment: [String: String]) {
        setlocale(LC_ALL, "")
        // A UTF-8 locale that is named but not installed (en_US.UTF-8 here) leaves the C codeset: fall back to C.UTF-8.
        let codeset = String(cString: nc_codeset())
        let wanted = [environment["LC_ALL"], environment["LC_CTYPE"], environment["LANG"]].compactMap { $0 }.first { !$0.isEmpty } ?? ""
        if TerminalCapabilities.isUTF8(wanted) && !TerminalCapabilities.isUTF8(codeset) { setlocale(LC_ALL, "C.UTF-8") }
        set_escdelay(25)   // Esc alone should not wait a second for an escape sequence
        initscr()
        cbreak()
        noecho()
        nonl()
        keypad(nc_stdscr(), true)
        curs_set(0)
        var colorCount: Int?
        var defaults = false
        if has_colors() {
            start_color()
            defaults = use_default_colors() == OK
            colorCount = Int(nc_colors())
        }
        useDefaultColors = defaults
        paletteSize = colorCount ?? 0
        capabilities = TerminalCapabilities.detect(environment: environment, colorCount: colorCount,
                                                   codeset: String(cString: nc_codeset()))
        nc_install_signal_handlers()   // after initscr, which installs its own
    }

    deinit { stop() }

    public var width: Int { Int(getmaxx(nc_stdscr())) }
    public var height: Int { Int(getmaxy(nc_stdscr())) }

    /// True once a SIGTERM arrived. It reaches the UI as `.interrupt`, the save-and-quit request Ctrl-C
    /// makes; the process then exits with 128 + SIGTERM (143), as the headless run does.
    public var wasTerminated: Bool { nc_was_terminated() != 0 }

    /// Restores the terminal (idempotent).
    public func stop() {
        guard active else { return }
        active = false
        curs_set(1)
        endwin()
    }

    /// Gives the terminal to another program for the length of `body` (the spec editor): curses' modes are
    /// saved and the screen restored as the shell had it, Ctrl-C goes to the program alone, and afterwards
    /// curses takes the terminal back and the next `draw` repaints every cell (the program drew over them).
    public func handOver<T>(_ body: () -> T) -> T {
        guard active else { return body() }
        def_prog_mode()
        endwin()
        nc_ignore_interrupts(1)
        let result = body()
        nc_ignore_interrupts(0)
        reset_prog_mode()
        clearok(nc_stdscr(), true)
        previous = nil
        refresh()
        return result
    }

    // MARK: - Painting

    /// Writes the cells that differ from the previous frame (all of them after a resize), then refreshes.
    public func draw(_ grid: CellGrid) {
        guard active else { return }
        if previous?.width != grid.width || previous?.height != grid.height {
            erase()
            previous = nil
        }
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                let cell = grid[x, y]
                if let previous, previous[x, y] == cell { continue }
                write(cell, x: x, y: y)
            }
        }
        previous = grid
        refresh()
    }

    private func write(_ cell: Cell, x: Int, y: Int) {
        var attributes = nc_a_normal()
        if cell.attributes.contains(.bold) { attributes |= nc_a_bold() }
        if cell.attributes.contains(.reverse) { attributes |= nc_a_reverse() }
        if cell.attributes.contains(.dim) { attributes |= nc_a_dim() }
        if cell.attributes.contains(.underline) { attributes |= nc_a_underline() }
        var pair = pairNumber(foreground: cell.foreground, background: cell.background)
        var characters: [wchar_t] = cell.character.unicodeScalars.prefix(4).map { wchar_t(bitPattern: $0.value) } + [0]
        var c = cchar_t()
        setcchar(&c, &characters, attributes, 0, &pair)
        mvadd_wch(Int32(y), Int32(x), &c)   // the bottom-right cell reports ERR after drawing; nothing to do
    }

    private func cursesColor(_ color: Color, isBackground: Bool) -> Int32 {
        switch color {
        case .default: return useDefaultColors ? -1 : (isBackground ? 0 : 7)
        case .basic(let n): return Int32(n)
        case .indexed(let i): return paletteSize >= 256 ? Int32(i) : Int32(Palette.nearestBasic(index: i))
        }
    }

    /// Pair numbers from ncurses' own allocator (works beyond 255 pairs); 0 is the default pair.
    private func pairNumber(foreground: Color, background: Color) -> Int32 {
        guard paletteSize > 0, foreground != .default || background != .default else { return 0 }
        let key = PairKey(fg: cursesColor(foreground, isBackground: false), bg: cursesColor(background, isBackground: true))
        if let p = pairs[key] { return p }
        let p = alloc_pair(key.fg, key.bg)
        let pair = p < 0 ? 0 : p
        pairs[key] = pair
        return pair
    }

    // MARK: - Input

    /// Sleeps until a key is typed, one of `descriptors` becomes readable, a signal arrives (Ctrl-C, SIGTERM, a resize)
    /// or `timeoutMilliseconds` pass (capped at one second, so a signal that lands just before the poll waits
    /// at most that long). This is where the UI thread spends idle time: one `poll()`, no spinning. Follow it
    /// with `pendingKeys()`.
    public func waitForInput(alsoWatching descriptors: [Int32], timeoutMilliseconds: Int32) {
        let timeout = timeoutMilliseconds < 0 ? 1000 : min(timeoutMilliseconds, 1000)
        var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)]
            + descriptors.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&fds, nfds_t(fds.count), timeout)   // EINTR (a signal) just ends the wait
    }

    /// Every key already typed (and a pending Ctrl-C, SIGTERM or resize), without waiting.
    public func pendingKeys() -> [Key] {
        var keys: [Key] = []
        while keys.count < 256, let key = readKey(timeoutMilliseconds: 0) { keys.append(key) }
        return keys
    }

    /// Waits up to `timeoutMilliseconds` for a key; nil on timeout. Ctrl-C (SIGINT) and SIGTERM arrive as `.interrupt`.
    public func readKey(timeoutMilliseconds: Int32) -> Key? {
        if nc_take_quit_requests() > 0 { return .interrupt }
        wtimeout(nc_stdscr(), timeoutMilliseconds)
        var code: wint_t = 0
        let result = wget_wch(nc_stdscr(), &code)
        if nc_take_quit_requests() > 0 { return .interrupt }
        if result == ERR { return nil }
        if result == KEY_CODE_YES { return Self.functionKey(Int32(bitPattern: code)) }
        return Self.characterKey(code)
    }

    static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_BTAB: return .backTab
        case nc_key_resize(): return .resize
        default: return nil
        }
    }

    static func characterKey(_ code: wint_t) -> Key? {
        switch code {
        case 27: return .escape
        case 9: return .tab
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 3: return .interrupt
        default: return Unicode.Scalar(code).map { .character(Character($0)) }
        }
    }
}
