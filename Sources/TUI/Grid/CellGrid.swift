/// The screen as plain values: widgets draw into a `CellGrid`, and only `TerminalPainter` turns it into curses calls.

// MARK: - Colour and cell

/// A terminal colour: the terminal's default, one of the 8 basic ANSI colours, or an index into the 256 palette.
public enum Color: Hashable, Sendable {
    case `default`
    /// 0 black, 1 red, 2 green, 3 yellow, 4 blue, 5 magenta, 6 cyan, 7 white.
    case basic(UInt8)
    case indexed(UInt8)

    public static let black = Color.basic(0), red = Color.basic(1), green = Color.basic(2), yellow = Color.basic(3)
    public static let blue = Color.basic(4), magenta = Color.basic(5), cyan = Color.basic(6), white = Color.basic(7)
}

public struct CellAttributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bold = CellAttributes(rawValue: 1)
    public static let reverse = CellAttributes(rawValue: 2)
    public static let dim = CellAttributes(rawValue: 4)
    public static let underline = CellAttributes(rawValue: 8)
}

/// How text is drawn: colours and attributes, without the character.
public struct Style: Hashable, Sendable {
    public var foreground: Color
    public var background: Color
    public var attributes: CellAttributes
    public init(foreground: Color = .default, background: Color = .default, attributes: CellAttributes = []) {
        self.foreground = foreground; self.background = background; self.attributes = attributes
    }
    public static let plain = Style()
    public static func fg(_ color: Color, _ attributes: CellAttributes = []) -> Style {
        Style(foreground: color, attributes: attributes)
    }
}

/// One character cell. Every glyph the widgets use is one column wide.
public struct Cell: Hashable, Sendable {
    public var character: Character
    public var foreground: Color
    public var background: Color
    public var attributes: CellAttributes
    public init(_ character: Character = " ", style: Style = .plain) {
        self.character = character; self.foreground = style.foreground
        self.background = style.background; self.attributes = style.attributes
    }
    public var style: Style { Style(foreground: foreground, background: background, attributes: attributes) }
    public static let blank = Cell()
}

// MARK: - Rect

/// A rectangle of cells; x grows to the right, y downwards.
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var description: String { "(\(x),\(y) \(width)x\(height))" }

    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
    public func intersection(_ other: Rect) -> Rect {
        let nx = max(x, other.x), ny = max(y, other.y)
        return Rect(x: nx, y: ny, width: min(maxX, other.maxX) - nx, height: min(maxY, other.maxY) - ny)
    }
    /// The rect shrunk by `n` cells on every side (a box's inside when n == 1).
    public func inset(_ n: Int) -> Rect { Rect(x: x + n, y: y + n, width: width - 2 * n, height: height - 2 * n) }
    public func inset(left: Int = 0, top: Int = 0, right: Int = 0, bottom: Int = 0) -> Rect {
        Rect(x: x + left, y: y + top, width: width - left - right, height: height - top - bottom)
    }
    /// Splits off the top `rows` rows: (top, rest).
    public func splitTop(_ rows: Int) -> (Rect, Rect) {
        let r = min(max(0, rows), height)
        return (Rect(x: x, y: y, width: width, height: r), Rect(x: x, y: y + r, width: width, height: height - r))
    }
    /// Splits off the left `columns` columns: (left, rest).
    public func splitLeft(_ columns: Int) -> (Rect, Rect) {
        let c = min(max(0, columns), width)
        return (Rect(x: x, y: y, width: c, height: height), Rect(x: x + c, y: y, width: width - c, height: height))
    }
    /// A rect of the given size centred inside this one (clipped to it).
    public func centered(width w: Int, height h: Int) -> Rect {
        let cw = min(w, width), ch = min(h, height)
        return Rect(x: x + (width - cw) / 2, y: y + (height - ch) / 2, width: cw, height: ch)
    }
}

// MARK: - Grid

public struct CellGrid: Equatable, Sendable {
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, fill: Cell = .blank) {
        self.width = max(0, width); self.height = max(0, height)
        cells = Array(repeating: fill, count: self.width * self.height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// The cell at (x, y); reading outside the grid gives a blank cell, writing outside is ignored.
    public subscript(x: Int, y: Int) -> Cell {
        get { bounds.contains(x: x, y: y) ? cells[y * width + x] : .blank }
        set { if bounds.contains(x: x, y: y) { cells[y * width + x] = newValue } }
    }

    /// The characters of each row, for tests and snapshots.
    public var lines: [String] {
        (0..<height).map { y in String(cells[(y * width)..<(y * width + width)].map(\.character)) }
    }

    public mutating func put(_ character: Character, x: Int, y: Int, style: Style = .plain, clip: Rect? = nil) {
        if let clip, !clip.contains(x: x, y: y) { return }
        self[x, y] = Cell(character, style: style)
    }

    /// Changes only the style of the cells in `rect`, keeping their characters.
    public mutating func setStyle(_ style: Style, in rect: Rect) {
        let r = rect.intersection(bounds)
        for y in r.y..<r.maxY { for x in r.x..<r.maxX { cells[y * width + x] = Cell(cells[y * width + x].character, style: style) } }
    }

    public mutating func fill(_ rect: Rect, with character: Character = " ", style: Style = .plain) {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return }
        for y in r.y..<r.maxY { for x in r.x..<r.maxX { cells[y * width + x] = Cell(character, style: style) } }
    }

    /// Draws `text` on one row starting at x, clipped to `clip` (the whole grid by default). Returns the x after the text.
    @discardableResult
    public mutating func text(_ text: String, x: Int, y: Int, style: Style = .plain, clip: Rect? = nil) -> Int {
        let area = (clip ?? bounds).intersection(bounds)
        var cx = x
        for ch in text {
            if cx >= area.maxX { break }
            if area.contains(x: cx, y: y) { cells[y * width + cx] = Cell(ch, style: style) }
            cx += 1
        }
        return cx
    }

    /// Draws `text` inside `rect` on its row `row`, aligned, truncated with an ellipsis when too long.
    public mutating func text(_ text: String, in rect: Rect, row: Int = 0, align: Alignment = .left,
                              style: Style = .plain, glyphs: GlyphSet = .unicode) {
        guard rect.width > 0, row >= 0, row < rect.height else { return }
        let fitted = text.truncated(to: rect.width, ellipsis: glyphs.ellipsis)
        let pad: Int
        switch align {
        case .left: pad = 0
        case .center: pad = (rect.width - fitted.count) / 2
        case .right: pad = rect.width - fitted.count
        }
        self.text(fitted, x: rect.x + pad, y: rect.y + row, style: style, clip: rect)
    }

    /// A box around `rect` with an optional title in its top edge; returns the inside.
    @discardableResult
    public mutating func box(_ rect: Rect, title: String? = nil, style: Style = .plain, titleStyle: Style? = nil,
                             glyphs: GlyphSet = .unicode) -> Rect {
        guard rect.width >= 2, rect.height >= 2 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
        let b = glyphs.box
        for x in (rect.x + 1)..<(rect.maxX - 1) {
            put(b.horizontal, x: x, y: rect.y, style: style); put(b.horizontal, x: x, y: rect.maxY - 1, style: style)
        }
        for y in (rect.y + 1)..<(rect.maxY - 1) {
            put(b.vertical, x: rect.x, y: y, style: style); put(b.vertical, x: rect.maxX - 1, y: y, style: style)
        }
        put(b.topLeft, x: rect.x, y: rect.y, style: style); put(b.topRight, x: rect.maxX - 1, y: rect.y, style: style)
        put(b.bottomLeft, x: rect.x, y: rect.maxY - 1, style: style)
        put(b.bottomRight, x: rect.maxX - 1, y: rect.maxY - 1, style: style)
        if let title, !title.isEmpty, rect.width > 4 {
            let titleArea = Rect(x: rect.x + 1, y: rect.y, width: rect.width - 2, height: 1)
            self.text(title.truncated(to: titleArea.width, ellipsis: glyphs.ellipsis), x: titleArea.x, y: rect.y,
                      style: titleStyle ?? Style(foreground: style.foreground, attributes: [.bold]), clip: titleArea)
        }
        return rect.inset(1)
    }
}

public enum Alignment: Sendable { case left, center, right }

extension String {
    /// At most `width` characters; longer strings end with the ellipsis.
    func truncated(to width: Int, ellipsis: Character = "…") -> String {
        if width <= 0 { return "" }
        if count <= width { return self }
        if width == 1 { return String(prefix(1)) }
        return String(prefix(width - 1)) + String(ellipsis)
    }
    func padded(to width: Int, align: Alignment = .left) -> String {
        let t = truncated(to: width)
        let pad = String(repeating: " ", count: width - t.count)
        return align == .right ? pad + t : t + pad
    }
}
