/// What the terminal can show, decided once at start-up and handed to every widget.

public enum ColorDepth: Int, Comparable, Sendable {
    case none = 0, basic8 = 8, palette256 = 256
    public static func < (a: ColorDepth, b: ColorDepth) -> Bool { a.rawValue < b.rawValue }
}

/// The box, chart and mark glyphs: Unicode (box drawing, braille, blocks) or plain ASCII for `LANG=C` terminals.
public struct GlyphSet: Sendable, Equatable {
    public struct BoxGlyphs: Sendable, Equatable {
        public var horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight: Character
    }
    public var isUnicode: Bool
    public var box: BoxGlyphs
    public var ellipsis: Character
    public var right: Character, wrong: Character
    public var marker: Character
    public var cursor: Character

    public static let unicode = GlyphSet(
        isUnicode: true, box: BoxGlyphs(horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐",
                                        bottomLeft: "└", bottomRight: "┘"),
        ellipsis: "…", right: "✓", wrong: "✗", marker: "▲", cursor: "█")
    public static let ascii = GlyphSet(
        isUnicode: false, box: BoxGlyphs(horizontal: "-", vertical: "|", topLeft: "+", topRight: "+",
                                         bottomLeft: "+", bottomRight: "+"),
        ellipsis: "~", right: "+", wrong: "x", marker: "^", cursor: "_")
}

public struct TerminalCapabilities: Sendable, Equatable {
    public var colorDepth: ColorDepth
    public var glyphs: GlyphSet
    public init(colorDepth: ColorDepth, glyphs: GlyphSet) { self.colorDepth = colorDepth; self.glyphs = glyphs }

    public static let full = TerminalCapabilities(colorDepth: .palette256, glyphs: .unicode)
    public static let basic = TerminalCapabilities(colorDepth: .basic8, glyphs: .unicode)
    public static let plainASCII = TerminalCapabilities(colorDepth: .none, glyphs: .ascii)

    /// Decides from the environment, the colour count curses reports (`COLORS` after `start_color`, nil when the
    /// terminal has no colour) and the locale's codeset (`nl_langinfo(CODESET)` after `setlocale`).
    /// `NO_COLOR` or `TERM=dumb` turn colour off; a non-UTF-8 locale (`LANG=C`) selects ASCII glyphs.
    /// `CNNTUI_GLYPHS=ascii|unicode` and `CNNTUI_COLORS=0|8|256` override the guess.
    public static func detect(environment: [String: String], colorCount: Int?, codeset: String?) -> TerminalCapabilities {
        let term = environment["TERM"] ?? ""
        var depth: ColorDepth
        switch colorCount ?? 0 {
        case 256...: depth = .palette256
        case 8...: depth = .basic8
        default: depth = .none
        }
        if term.isEmpty || term == "dumb" || environment["NO_COLOR"].map({ !$0.isEmpty }) == true { depth = .none }
        switch environment["CNNTUI_COLORS"] {
        case "0": depth = .none
        case "8": depth = .basic8
        case "256": depth = .palette256
        default: break
        }

        let locale = [environment["LC_ALL"], environment["LC_CTYPE"], environment["LANG"]]
            .compactMap { $0 }.first { !$0.isEmpty } ?? "C"
        var unicode = isUTF8(locale)
        if let codeset, !codeset.isEmpty { unicode = unicode && isUTF8(codeset) }
        if term == "dumb" || term == "linux" && !unicode { unicode = false }
        switch environment["CNNTUI_GLYPHS"] {
        case "ascii": unicode = false
        case "unicode": unicode = true
        default: break
        }
        return TerminalCapabilities(colorDepth: depth, glyphs: unicode ? .unicode : .ascii)
    }

    static func isUTF8(_ name: String) -> Bool {
        let n = name.lowercased()
        return n.contains("utf-8") || n.contains("utf8")
    }

    /// The colour as this terminal can show it: 256-palette colours map to the nearest basic colour on 8-colour
    /// terminals, and everything becomes the default colour without colour support.
    public func color(_ color: Color) -> Color {
        switch (colorDepth, color) {
        case (.none, _): return .default
        case (.basic8, .indexed(let i)): return .basic(Palette.nearestBasic(index: i))
        default: return color
        }
    }

    public func style(_ style: Style) -> Style {
        Style(foreground: color(style.foreground), background: color(style.background), attributes: style.attributes)
    }
    public func style(fg: Color = .default, bg: Color = .default, _ attributes: CellAttributes = []) -> Style {
        style(Style(foreground: fg, background: bg, attributes: attributes))
    }
}
