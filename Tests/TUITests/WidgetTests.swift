import Testing
import Training
@testable import TUI

@Suite struct LineChartTests {
    let intLabels: @Sendable (Double) -> String = { String(Int($0)) }

    func flat(_ glyphs: ChartGlyphs) -> [String] {
        var g = CellGrid.filled(10, 2)
        LineChart(series: [ChartSeries(name: "a", points: [ChartPoint(x: 0, y: 5), ChartPoint(x: 10, y: 5)], color: .red)],
                  glyphs: glyphs, yFormatter: intLabels)
            .render(into: &g, area: g.bounds, capabilities: .full)
        return g.lines
    }

    @Test func flatLineSitsMidPlotInEveryGlyphSet() {
        #expect(flat(.braille) == ["5x⣀⣀⣀⣀⣀⣀⣀⣀", "4xxxxxxxxx"])
        #expect(flat(.blocks) == ["5x▄▄▄▄▄▄▄▄", "4xxxxxxxxx"])
        #expect(flat(.ascii) == ["5x........", "4xxxxxxxxx"])
    }

    @Test func risingLineGoesFromBottomLeftToTopRightInSeriesColour() {
        var g = CellGrid.filled(12, 4, with: " ")
        let area = Rect(x: 0, y: 0, width: 12, height: 4)
        LineChart(series: [ChartSeries(name: "a", points: (0...20).map { ChartPoint(x: Double($0), y: Double($0)) }, color: .green)],
                  yFormatter: intLabels)
            .render(into: &g, area: area, capabilities: .full)
        // Labels 20 / 0 take 2 columns, the plot is x 3..<12, rows 0..<3, the x axis is row 3.
        #expect(g[3, 2].character != " " && g[11, 0].character != " ")
        #expect(g[3, 0].character == " " && g[11, 2].character == " ")
        #expect(g[3, 2].foreground == .green && g[11, 0].foreground == .green)
        #expect(g.lines[0].hasPrefix("20 ") && g.lines[2].hasPrefix(" 0 "))
        #expect(g.lines[3] == "   0      20")   // whole numbers without decimals
    }

    @Test func laterSeriesDrawOverEarlierOnesAndMarksShowOnTheAxis() {
        var g = CellGrid.filled(14, 5, with: " ")
        let a = ChartSeries(name: "a", points: [ChartPoint(x: 0, y: 0), ChartPoint(x: 100, y: 0)], color: .red)
        let b = ChartSeries(name: "b", points: [ChartPoint(x: 0, y: 1), ChartPoint(x: 100, y: 1)], color: .blue)
        LineChart(series: [a, b], marks: [100, 500], yFormatter: intLabels).render(into: &g, area: g.bounds, capabilities: .full)
        let colours = Set(g.cells.map(\.foreground))
        #expect(colours.contains(.red) && colours.contains(.blue))
        #expect(g[13, 4].character == "▲" && g[13, 4].foreground == .yellow)
        #expect(g.lines[4].filter { $0 == "▲" }.count == 1)   // the mark outside the data range is not drawn
        var ascii = CellGrid.filled(14, 5, with: " ")
        LineChart(series: [a, b], marks: [100], yFormatter: intLabels).render(into: &ascii, area: ascii.bounds, capabilities: .plainASCII)
        #expect(ascii[13, 4].character == "^" && ascii.cells.allSatisfy { $0.foreground == .default })
        #expect(ascii.lines.joined().unicodeScalars.allSatisfy { $0.isASCII })
    }

    @Test func axisRescalesAsDataGrows() {
        var series = ChartSeries(name: "a", points: [ChartPoint(x: 0, y: 0), ChartPoint(x: 1, y: 1)], color: .red)
        var g = CellGrid.filled(20, 6, with: " ")
        LineChart(series: [series]).render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines[0].hasPrefix(" 1.00"))
        series.points.append(ChartPoint(x: 2, y: 40))
        g = CellGrid.filled(20, 6, with: " ")
        LineChart(series: [series]).render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines[0].hasPrefix("40.0") && g.lines[5].hasSuffix(" 2"))
    }

    @Test func emptyChartSaysSo() {
        var g = CellGrid.filled(20, 3, with: " ")
        LineChart(series: []).render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines[1] == "  waiting for data  ")
    }
}

@Suite struct BarAndMatrixTests {
    @Test func barsShowLabelEighthsAndPercent() {
        var g = CellGrid.filled(20, 2)
        BarChart(bars: [.init(label: "ab", value: 0.5), .init(label: "c", value: 0.9375)])
            .render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines == ["abx█████xxxxxx 50.0%", "c x█████████▍x 93.8%"])
        #expect(g[3, 0].foreground == .yellow && g[3, 1].foreground == .green && g[19, 0].foreground == .yellow)
        var a = CellGrid.filled(20, 1)
        BarChart(bars: [.init(label: "ab", value: 0.25)]).render(into: &a, area: a.bounds, capabilities: .plainASCII)
        #expect(a.lines == ["abx###.......x 25.0%"])
        #expect(a.cells.allSatisfy { $0.foreground == .default })
    }

    @Test func confusionShowsRowPercentWithHeat() {
        var g = CellGrid.filled(12, 3)
        ConfusionMatrixView(counts: [[3, 1], [0, 4]], labels: ["a", "b"], selected: (row: 1, column: 0))
            .render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines == ["xxx   0   1x", "a    75  25x", "b     0 100x"])
        #expect(g[6, 1].foreground == .indexed(46) && g[6, 1].attributes.contains(.bold))
        #expect(g[6, 1].background == .indexed(Palette.heat(0.75)))
        #expect(g[5, 2].attributes.contains(.reverse) && g[5, 2].background == .default)   // selected, empty cell
        var counts = CellGrid.filled(12, 3)
        ConfusionMatrixView(counts: [[3, 1], [0, 4]], labels: ["a", "b"], showsPercent: false)
            .render(into: &counts, area: counts.bounds, capabilities: .plainASCII)
        #expect(counts.lines == ["xxx   0   1x", "a     3   1x", "b     0   4x"])
        #expect(counts[6, 1].attributes == [.bold] && counts.cells.allSatisfy { $0.background == .default })
    }

    @Test func narrowConfusionFallsBackToShades() {
        var g = CellGrid.filled(5, 3)
        ConfusionMatrixView(counts: [[9, 1], [0, 10]], labels: ["a", "b"]).render(into: &g, area: g.bounds, capabilities: .plainASCII)
        #expect(g.lines == ["xxx01", "a  %.", "b   @"])
    }
}

@Suite struct ImageTests {
    // 2 wide, 4 tall: rows [0 255] [0 255] [255 255] [0 0].
    let image = HalfBlockImage(channels: 1, height: 4, width: 2, pixels: [0, 255, 0, 255, 255, 255, 0, 0])

    @Test func halfBlocksCarryUpperAsForegroundLowerAsBackground() {
        var g = CellGrid.filled(2, 2)
        image.render(into: &g, area: g.bounds, capabilities: .full, maxScale: 1)
        #expect(g.lines == ["██", "▀▀"])
        #expect(g[0, 0].foreground == .indexed(16) && g[1, 0].foreground == .indexed(231))
        #expect(g[0, 1].foreground == .indexed(231) && g[0, 1].background == .indexed(16))
    }

    @Test func noColourAndASCIIUseShadeCharacters() {
        for caps in [TerminalCapabilities.plainASCII, TerminalCapabilities(colorDepth: .palette256, glyphs: .ascii),
                     TerminalCapabilities(colorDepth: .none, glyphs: .unicode), .basic] {
            var g = CellGrid.filled(2, 2)
            image.render(into: &g, area: g.bounds, capabilities: caps, maxScale: 1)
            #expect(g.lines == [" @", "=="], "\(caps)")
            #expect(g.cells.allSatisfy { $0.foreground == .default && $0.background == .default })
        }
    }

    @Test func colourImagesOnEightColoursUseBasicColours() {
        let red = HalfBlockImage(channels: 3, height: 2, width: 1, pixels: [250, 0, 0, 10, 0, 240])
        var g = CellGrid.filled(1, 1)
        red.render(into: &g, area: g.bounds, capabilities: .basic)
        #expect(g[0, 0] == Cell("▀", style: Style(foreground: .red, background: .blue)))
    }

    @Test func imageIsScaledToFitAndCentred() {
        var g = CellGrid.filled(6, 2)
        image.render(into: &g, area: g.bounds, capabilities: .full)   // 2x4 px fits at scale 1 (height bound)
        #expect(g.lines == ["xx██xx", "xx▀▀xx"])
        var big = CellGrid.filled(4, 4)
        image.render(into: &big, area: big.bounds, capabilities: .full)   // scale 2
        #expect(big.lines == ["████", "████", "████", "████"])
        #expect(big[0, 3].foreground == .indexed(16) && big[0, 2].foreground == .indexed(231))
    }

    @Test func gridCaptionsMarkRightAndWrong() {
        let tiles = [ImageGrid.Tile(image: image, caption: "coat", isCorrect: true),
                     ImageGrid.Tile(image: image, caption: "bag", isCorrect: false)]
        var g = CellGrid.filled(14, 3, with: " ")
        ImageGrid(tiles: tiles, selected: 1).render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines[2] == "✓coat  ✗bag   ")
        #expect(g[0, 2].foreground == .green && g[7, 2].foreground == .red && g[7, 2].attributes.contains(.reverse))
        var a = CellGrid.filled(14, 3, with: " ")
        ImageGrid(tiles: tiles).render(into: &a, area: a.bounds, capabilities: .plainASCII)
        #expect(a.lines[2] == "+coat  xbag   ")
    }
}

@Suite struct InputWidgetTests {
    @Test func tableScrollsToKeepSelectionVisible() {
        var g = CellGrid.filled(9, 3)
        Table(columns: [.init("n", width: 2, align: .right), .init("name", width: 6)],
              rows: (0..<5).map { [String($0), "row\($0)"] }, selected: 4)
            .render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines == [" n name  x", " 3 row3  x", " 4 row4   "].map { String($0.prefix(9)) })
        #expect(g[8, 2].attributes == [.reverse] && g[0, 1].attributes == [])
        #expect(Table.scrollOffset(selected: 0, rowCount: 50, visible: 10) == 0)
        #expect(Table.scrollOffset(selected: 49, rowCount: 50, visible: 10) == 40)
    }

    @Test func textInputEditsAndShowsCursor() {
        var s = TextInputState()
        for k: Key in [.character("0"), .character("."), .character("1"), .left, .character("0"), .home, .delete, .end,
                       .backspace, .character("5")] {
            s = s.editing(with: k) ?? s
        }
        #expect(s.text == ".05" && s.cursor == 3)
        #expect(s.editing(with: .enter) == nil)
        var g = CellGrid.filled(8, 1)
        TextInput(prompt: "lr: ", state: s).render(into: &g, area: g.bounds, capabilities: .full)
        #expect(g.lines == ["lr: .05 "])
        #expect(g[7, 0].attributes == [.reverse] && g[4, 0].attributes == [])
    }

    @Test func helpOverlayListsEntriesInABox() {
        var g = CellGrid.filled(20, 6)
        HelpOverlay(title: "Keys", entries: [("q", "quit"), ("p", "pause")]).render(into: &g, area: g.bounds, capabilities: .plainASCII)
        #expect(g.lines == ["xxx+ Keys -----+xxxx",
                            "xxx|           |xxxx",
                            "xxx| q  quit   |xxxx",
                            "xxx| p  pause  |xxxx",
                            "xxx|           |xxxx",
                            "xxx+-----------+xxxx"])
    }

    @Test func progressBar() {
        var g = CellGrid.filled(12, 1)
        ProgressBar(fraction: 0.5).render(into: &g, area: g.bounds, capabilities: .plainASCII)
        #expect(g.lines == ["####.... 50%"])
    }
}

@Suite struct FormatTests {
    @Test func shortLabelsKeepTheirDigits() {
        #expect(Format.compact(2.3026) == "2.30" && Format.compact(0.01234) == "0.012" && Format.compact(123_456) == "1.2e+05")
        #expect(Format.duration(45) == "45s" && Format.duration(185) == "3m05s" && Format.duration(3720) == "1h02m")
        #expect(Format.learningRate(0.0005) == "0.0005" && Format.learningRate(1e-6) == "1.00e-06")
    }

    @Test func wrappingBreaksAtSpacesAndKeepsEveryWord() {
        let text = "place train-images-idx3-ubyte.gz and its labels in /usr/share/datasets/mnist"
        let lines = Format.wrapped(text, width: 30)
        #expect(lines.allSatisfy { $0.count <= 30 || !$0.contains(" ") })
        #expect(lines.joined(separator: " ") == text)
        #expect(Format.wrapped("", width: 10).isEmpty)
        #expect(Format.wrapped("a-very-long-word next", width: 5) == ["a-very-long-word", "next"])
    }
}
