import Testing
@testable import TUI

@Suite struct GridTests {
    @Test func textIsClippedToItsRect() {
        var g = CellGrid.filled(8, 2)
        let end = g.text("hello world", x: 1, y: 0, clip: Rect(x: 1, y: 0, width: 4, height: 1))
        g.text("zz", x: 7, y: 1)   // runs off the right edge
        g.text("never", x: 0, y: 5)  // below the grid
        #expect(g.lines == ["xhellxxx", "xxxxxxxz"])
        #expect(end == 5)
    }

    @Test func alignedTextTruncatesWithEllipsis() {
        var g = CellGrid.filled(7, 3)
        g.text("abcdefgh", in: Rect(x: 1, y: 0, width: 5, height: 3), row: 0)
        g.text("ab", in: Rect(x: 1, y: 0, width: 5, height: 3), row: 1, align: .right)
        g.text("ab", in: Rect(x: 1, y: 0, width: 5, height: 3), row: 2, align: .center)
        #expect(g.lines == ["xabcd…x", "xxxxabx", "xxabxxx"])
        var a = CellGrid.filled(4, 1)
        a.text("abcdef", in: a.bounds, glyphs: .ascii)
        #expect(a.lines == ["abc~"])
    }

    @Test func boxWithTitleInUnicodeAndASCII() {
        var g = CellGrid.filled(8, 3)
        let inside = g.box(g.bounds, title: "Ab", style: .fg(.cyan))
        #expect(g.lines == ["┌Ab────┐", "│xxxxxx│", "└──────┘"])
        #expect(inside == Rect(x: 1, y: 1, width: 6, height: 1))
        #expect(g[0, 0].foreground == .cyan && g[1, 0].attributes.contains(.bold))
        var a = CellGrid.filled(8, 3)
        a.box(a.bounds, title: "a long title", glyphs: .ascii)
        #expect(a.lines == ["+a lon~+", "|xxxxxx|", "+------+"])
    }

    @Test func fillAndStyleRespectBounds() {
        var g = CellGrid.filled(4, 2)
        g.fill(Rect(x: 2, y: 1, width: 9, height: 9), with: "#", style: .fg(.red))
        g.setStyle(Style(attributes: [.reverse]), in: Rect(x: 0, y: 0, width: 1, height: 1))
        #expect(g.lines == ["xxxx", "xx##"])
        #expect(g[3, 1].foreground == .red && g[0, 0].attributes == [.reverse] && g[0, 0].character == "x")
        #expect(g[-1, 0] == .blank)
    }

    @Test func rectSplitsAndIntersections() {
        let r = Rect(x: 2, y: 3, width: 10, height: 6)
        let (top, rest) = r.splitTop(2)
        #expect(top == Rect(x: 2, y: 3, width: 10, height: 2) && rest == Rect(x: 2, y: 5, width: 10, height: 4))
        #expect(r.splitLeft(20).1.isEmpty)
        #expect(r.intersection(Rect(x: 0, y: 0, width: 4, height: 4)) == Rect(x: 2, y: 3, width: 2, height: 1))
        #expect(r.centered(width: 4, height: 2) == Rect(x: 5, y: 5, width: 4, height: 2))
    }
}

@Suite struct CapabilityTests {
    @Test func localeAndTermDecideGlyphsAndColours() {
        let utf = TerminalCapabilities.detect(environment: ["TERM": "xterm-256color", "LANG": "C.UTF-8"], colorCount: 256,
                                              codeset: "UTF-8")
        #expect(utf == .full)
        let c = TerminalCapabilities.detect(environment: ["TERM": "xterm", "LANG": "C"], colorCount: 8, codeset: "ANSI_X3.4-1968")
        #expect(c.glyphs == .ascii && c.colorDepth == .basic8)
        let lcAll = TerminalCapabilities.detect(environment: ["TERM": "xterm", "LANG": "en_US.UTF-8", "LC_ALL": "C"],
                                                colorCount: 256, codeset: nil)
        #expect(lcAll.glyphs == .ascii)
        let dumb = TerminalCapabilities.detect(environment: ["TERM": "dumb", "LANG": "C.UTF-8"], colorCount: 256, codeset: "UTF-8")
        #expect(dumb.colorDepth == .none)
        let noColor = TerminalCapabilities.detect(environment: ["TERM": "xterm", "NO_COLOR": "1"], colorCount: 256, codeset: nil)
        #expect(noColor.colorDepth == .none)
        let mono = TerminalCapabilities.detect(environment: ["TERM": "vt100"], colorCount: nil, codeset: nil)
        #expect(mono == .plainASCII)
        let forced = TerminalCapabilities.detect(environment: ["TERM": "xterm", "LANG": "C", "CNNTUI_GLYPHS": "unicode",
                                                               "CNNTUI_COLORS": "8"], colorCount: 256, codeset: nil)
        #expect(forced == .basic)
    }

    @Test func coloursDegradeWithDepth() {
        #expect(TerminalCapabilities.full.color(.indexed(196)) == .indexed(196))
        #expect(TerminalCapabilities.basic.color(.indexed(196)) == .red)
        #expect(TerminalCapabilities.basic.color(.indexed(46)) == .green)
        #expect(TerminalCapabilities.plainASCII.color(.green) == .default)
    }

    @Test func paletteQuantisesToCubeAndGreyRamp() {
        #expect(Palette.truecolorTo256(r: 0, g: 0, b: 0) == 16)
        #expect(Palette.truecolorTo256(r: 255, g: 255, b: 255) == 231)
        #expect(Palette.truecolorTo256(r: 255, g: 0, b: 0) == 196)
        #expect(Palette.truecolorTo256(r: 128, g: 128, b: 128) == 244)
        #expect(Palette.truecolorTo256(r: 0, g: 95, b: 215) == 26)
        for i in 16...255 {   // every cube and ramp colour maps back to itself
            let c = Palette.rgb(index: UInt8(i))
            let back = Palette.truecolorTo256(r: c.r, g: c.g, b: c.b)
            #expect(Palette.rgb(index: back) == c, "index \(i)")
        }
    }
}
