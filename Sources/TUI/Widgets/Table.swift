/// A table with a header row, a selected row (reverse) and scrolling that keeps the selection visible.
public struct Table: Sendable {
    public struct Column: Sendable {
        public var title: String
        public var width: Int
        public var align: Alignment
        public init(_ title: String, width: Int, align: Alignment = .left) {
            self.title = title; self.width = width; self.align = align
        }
    }
    public var columns: [Column]
    public var rows: [[String]]
    public var selected: Int?
    public init(columns: [Column], rows: [[String]], selected: Int? = nil) {
        self.columns = columns; self.rows = rows; self.selected = selected
    }

    /// The first row shown when `visible` rows fit: the selection stays on screen, near the middle when it can.
    public static func scrollOffset(selected: Int?, rowCount: Int, visible: Int) -> Int {
        guard let selected, visible > 0, rowCount > visible else { return 0 }
        return max(0, min(selected - visible / 2, rowCount - visible))
    }

    func line(_ cells: [String]) -> String {
        zip(columns, cells + Array(repeating: "", count: max(0, columns.count - cells.count)))
            .map { $0.0.width > 0 ? $0.1.padded(to: $0.0.width, align: $0.0.align) : "" }
            .joined(separator: " ")
    }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        guard area.height >= 1, area.width >= 1 else { return }
        grid.text(line(columns.map(\.title)), x: area.x, y: area.y, style: Style(attributes: [.bold, .underline]), clip: area)
        let visible = area.height - 1
        let offset = Self.scrollOffset(selected: selected, rowCount: rows.count, visible: visible)
        for (k, row) in rows.dropFirst(offset).prefix(visible).enumerated() {
            let y = area.y + 1 + k
            let isSelected = selected == offset + k
            let style = isSelected ? Style(attributes: [.reverse]) : .plain
            if isSelected { grid.fill(Rect(x: area.x, y: y, width: area.width, height: 1), style: style) }
            grid.text(line(row), x: area.x, y: y, style: style, clip: area)
        }
    }
}

/// The text of a one-line input and its cursor; editing is a pure function of a key.
public struct TextInputState: Equatable, Sendable {
    public var text: String
    public var cursor: Int   // 0...text.count
    public init(text: String = "") { self.text = text; cursor = text.count }

    /// Applies an editing key; returns nil for keys that are not edits (Enter, Esc, ...), which the caller handles.
    public func editing(with key: Key) -> TextInputState? {
        var s = self
        var chars = Array(text)
        switch key {
        case .character(let c) where !c.isNewline && c != "\t":
            chars.insert(c, at: cursor); s.cursor += 1
        case .backspace:
            guard cursor > 0 else { return s }
            chars.remove(at: cursor - 1); s.cursor -= 1
        case .delete:
            guard cursor < chars.count else { return s }
            chars.remove(at: cursor)
        case .left: s.cursor = max(0, cursor - 1)
        case .right: s.cursor = min(chars.count, cursor + 1)
        case .home: s.cursor = 0
        case .end: s.cursor = chars.count
        default: return nil
        }
        s.text = String(chars)
        return s
    }
}

/// One line: a prompt, the text, and the cursor shown as a reverse cell.
public struct TextInput: Sendable {
    public var prompt: String
    public var state: TextInputState
    public init(prompt: String, state: TextInputState) { self.prompt = prompt; self.state = state }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        guard area.height >= 1 else { return }
        grid.fill(Rect(x: area.x, y: area.y, width: area.width, height: 1))
        let x = grid.text(prompt, x: area.x, y: area.y, style: Style(attributes: [.bold]), clip: area)
        let room = area.maxX - x   // cells for the text and the cursor
        guard room > 0 else { return }
        // Scroll long text so the cursor cell stays visible.
        let chars = Array(state.text)
        let start = max(0, state.cursor - room + 1)
        let shown = String(chars[min(start, chars.count)..<min(chars.count, start + room)])
        grid.text(shown, x: x, y: area.y, clip: area)
        let cx = x + state.cursor - start
        let under: Character = state.cursor < chars.count ? chars[state.cursor] : " "
        grid.put(under, x: cx, y: area.y, style: Style(attributes: [.reverse]), clip: area)
    }
}

/// A centred box that lists key bindings over whatever is under it.
public struct HelpOverlay: Sendable {
    public var title: String
    public var entries: [(key: String, action: String)]
    public init(title: String, entries: [(key: String, action: String)]) { self.title = title; self.entries = entries }

    public func render(into grid: inout CellGrid, area: Rect, capabilities: TerminalCapabilities) {
        let keyWidth = entries.map(\.key.count).max() ?? 0
        let actionWidth = entries.map(\.action.count).max() ?? 0
        let box = area.centered(width: keyWidth + actionWidth + 7, height: entries.count + 4)
        grid.fill(box)
        let inside = grid.box(box, title: " " + title + " ", style: capabilities.style(fg: .cyan), glyphs: capabilities.glyphs)
        for (k, entry) in entries.enumerated() where k + 1 < inside.height {
            let y = inside.y + 1 + k
            grid.text(" " + entry.key.padded(to: keyWidth), x: inside.x, y: y,
                      style: capabilities.style(fg: .yellow, [.bold]), clip: inside)
            grid.text(entry.action, x: inside.x + keyWidth + 3, y: y, clip: inside)
        }
    }
}
