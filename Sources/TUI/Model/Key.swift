/// A key press as the UI sees it; `TerminalPainter.readKey` maps curses codes to these.
public enum Key: Hashable, Sendable {
    case character(Character)
    case up, down, left, right
    case enter, escape, tab, backTab, backspace, delete, home, end, pageUp, pageDown
    /// The window changed size (KEY_RESIZE).
    case resize
    /// Ctrl-C or SIGTERM, delivered as a quit request.
    case interrupt
}
