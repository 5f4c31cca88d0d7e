import Glibc
import Training

/// Page 3: per-layer statistics, live. One row per layer with parameters (weight norm, gradient norm and the
/// update-to-weight ratio as log10 on a -6...0 gauge with the rule of thumb -3 marked, each with a
/// sparkline over the recent records) and per rectifier (the fraction of its outputs that were zero over
/// the last batch), in forward order. The table scrolls with its cursor; an anomaly is a red banner on top.
public struct HealthScreen: Sendable {
    public init() {}

    public enum RowKind: Sendable, Equatable { case parameters, rectifier }
    public struct Row: Sendable, Equatable {
        public var layer: String
        public var kind: RowKind
    }

    /// The rows in forward order (the layer tree's order when the run has one).
    public static func rows(_ model: DashboardModel) -> [Row] {
        guard let last = model.health.last else { return [] }
        let params = Set(last.layers.map(\.layer)), relus = Set(last.rectifiers.map(\.layer))
        var rows: [Row] = []
        var seen = Set<String>()
        for layer in model.run?.layers ?? [] {
            if params.contains(layer.path) { rows.append(Row(layer: layer.path, kind: .parameters)); seen.insert(layer.path) }
            if relus.contains(layer.path) && !params.contains(layer.path) {
                rows.append(Row(layer: layer.path, kind: .rectifier)); seen.insert(layer.path)
            }
        }
        rows += last.layers.filter { !seen.contains($0.layer) }.map { Row(layer: $0.layer, kind: .parameters) }
        rows += last.rectifiers.filter { !seen.contains($0.layer) && !params.contains($0.layer) }.map { Row(layer: $0.layer, kind: .rectifier) }
        return rows
    }

    /// The update ratio's gauge: log10 from -6 to 0, the rule of thumb at -3.
    public static let ratioRange = -6.0...0.0
    public static let ruleOfThumb = -3.0

    static func log10(_ v: Float) -> Double {
        v > 0 && v.isFinite ? Foundation_log10(Double(v)) : -.infinity
    }

    public func render(model: DashboardModel, ui: UIState, width: Int, height: Int,
                       capabilities caps: TerminalCapabilities) -> CellGrid {
        var (grid, body) = Chrome.page(model: model, ui: ui, width: width, height: height, capabilities: caps)

        if let a = model.anomaly {
            let (banner, below) = body.splitTop(2)
            let style = caps.style(fg: .red, [.bold, .reverse])
            grid.fill(banner, style: style)
            grid.text(" \(caps.glyphs.wrong) NaN/Inf at step \(a.globalStep) (epoch \(a.epoch)) in layer \(a.layer)", in: banner, row: 0,
                      style: style, glyphs: caps.glyphs)
            grid.text("   \(a.message); training paused (l: lower the learning rate, p: resume, q: quit)", in: banner, row: 1,
                      style: style, glyphs: caps.glyphs)
            body = below
        }
        let rows = Self.rows(model)
        let records = model.health
        let every = model.run?.stepsPerRecord
        var title = "Layer health"
        if let last = records.last {
            title += ": step \(last.globalStep), sparklines over the last \(records.count) records"
                + (every.map { " (every \($0) steps)" } ?? "")
        }
        let inside = Chrome.panel(&grid, body, title: title, focused: true, capabilities: caps)
        guard !rows.isEmpty else {
            let why = model.isHistory ? "per-layer health is shown for a live run only"
                : model.isTrainingLive ? "waiting for the first health record" : "no health records"
            grid.text(why, in: inside, row: inside.height / 2, align: .center, style: caps.style(fg: .default, [.dim]), glyphs: caps.glyphs)
            return grid
        }

        // Columns: layer, ‖w‖ + spark, ‖∇‖ + spark, log10 update ratio + gauge + spark, zeros + spark.
        let layerWidth = min(32, max(14, inside.width / 5))
        let fixed = layerWidth + 6 + 7 + 5 + 6 + 4 * 2 + 4
        let spark = max(3, min(30, (inside.width - fixed) / 5))
        let gauge = spark * 2
        let columns: [(String, Int)] = [("layer", layerWidth), ("‖w‖", 6 + 1 + spark), ("‖∇w‖", 7 + 1 + spark),
                                        ("log10 upd/w", 5 + 1 + gauge), ("zeros", 6 + 1 + spark)]
        var xs: [Int] = []
        var x = inside.x
        for (k, (name, w)) in columns.enumerated() {
            xs.append(x)
            let titleText = caps.glyphs.isUnicode ? name : name.replacingOccurrences(of: "‖∇w‖", with: "|grad|").replacingOccurrences(of: "‖w‖", with: "|w|")
            grid.text(titleText, in: Rect(x: x, y: inside.y, width: min(w, inside.maxX - x), height: 1),
                      align: k == 0 ? .left : .left, style: Style(attributes: [.bold, .underline]), glyphs: caps.glyphs)
            x += w + 2
        }
        let legendRows = inside.height >= 8 ? 1 : 0
        let visible = max(0, inside.height - 1 - legendRows)
        let cursor = min(max(0, ui.healthCursor), rows.count - 1)
        let offset = Table.scrollOffset(selected: cursor, rowCount: rows.count, visible: visible)
        let dim = caps.style(fg: .default, [.dim])
        for (k, row) in rows.dropFirst(offset).prefix(visible).enumerated() {
            let y = inside.y + 1 + k
            let selected = offset + k == cursor
            let broken = model.anomaly?.layer == row.layer
            let rowRect = Rect(x: inside.x, y: y, width: inside.width, height: 1)
            let base: Style = broken ? caps.style(fg: .red, [.bold]) : .plain
            if selected { grid.fill(rowRect, style: Style(attributes: [.reverse])) }
            func put(_ text: String, _ column: Int, _ offsetX: Int = 0, _ width: Int? = nil, _ style: Style = .plain, align: Alignment = .left) {
                let w = width ?? columns[column].1
                var st = style == .plain ? base : style
                if selected { st.attributes.insert(.reverse) }
                grid.text(text, in: Rect(x: xs[column] + offsetX, y: y, width: min(w, inside.maxX - xs[column] - offsetX), height: 1),
                          align: align, style: st, glyphs: caps.glyphs)
            }
            put(row.layer, 0)
            switch row.kind {
            case .parameters:
                let series = records.compactMap { r in r.layers.first { $0.layer == row.layer } }
                guard let now = series.last else { continue }
                put(Format.compact(Double(now.weightNorm)), 1, 0, 6, align: .right)
                put(Sparkline(values: series.map { Double($0.weightNorm) }).text(width: spark, unicode: caps.glyphs.isUnicode), 1, 7, spark, caps.style(fg: .cyan))
                put(Format.compact(Double(now.gradientNorm)), 2, 0, 7, align: .right)
                put(Sparkline(values: series.map { Double($0.gradientNorm) }).text(width: spark, unicode: caps.glyphs.isUnicode), 2, 7 + 1, spark, caps.style(fg: .magenta))
                let r = Self.log10(now.updateRatio)
                let healthy = r >= Self.ruleOfThumb - 1 && r <= Self.ruleOfThumb + 1
                put(r.isFinite ? String(format: "%.1f", r) : "-inf", 3, 0, 5, caps.style(fg: healthy ? .green : .yellow), align: .right)
                put(gaugeText(r, width: gauge, caps: caps), 3, 6, gauge, caps.style(fg: healthy ? .green : .yellow))
            case .rectifier:
                let series = records.compactMap { r in r.rectifiers.first { $0.layer == row.layer } }
                guard let now = series.last else { continue }
                let dead = now.zeroFraction > 0.9
                put(Format.percent(now.zeroFraction), 4, 0, 6, dead ? caps.style(fg: .red, [.bold]) : .plain, align: .right)
                put(Sparkline(values: series.map { Double($0.zeroFraction) }, range: 0...1).text(width: spark, unicode: caps.glyphs.isUnicode),
                    4, 7, spark, caps.style(fg: .yellow))
                put("ReLU", 1, 0, 6, dim)
            }
        }
        if legendRows > 0 {
            let legend = "\(cursor + 1)/\(rows.count) rows · ‖w‖ weight norm, ‖∇w‖ gradient norm · update/w: "
                + "log10 of |step| / |w| on -6..0, '|' marks -3 (healthy) · zeros: ReLU outputs exactly 0 over the last batch"
            grid.text(caps.glyphs.isUnicode ? legend : legend.replacingOccurrences(of: "‖∇w‖", with: "|grad|").replacingOccurrences(of: "‖w‖", with: "|w|").replacingOccurrences(of: "·", with: "-"),
                      in: inside, row: inside.height - 1, style: dim, glyphs: caps.glyphs)
        }
        return grid
    }

    /// "····|··●···": the ratio's log10 on -6...0, the rule of thumb marked.
    func gaugeText(_ r: Double, width: Int, caps: TerminalCapabilities) -> String {
        guard width >= 3 else { return "" }
        let lo = Self.ratioRange.lowerBound, hi = Self.ratioRange.upperBound
        func position(_ v: Double) -> Int { min(width - 1, max(0, Int(((v - lo) / (hi - lo) * Double(width - 1)).rounded()))) }
        var cells = Array(repeating: caps.glyphs.isUnicode ? Character("·") : Character("."), count: width)
        cells[position(Self.ruleOfThumb)] = "|"
        if r.isFinite || r == -.infinity { cells[position(r.isFinite ? r : lo)] = caps.glyphs.isUnicode ? "●" : "o" }
        return String(cells)
    }
}

private func Foundation_log10(_ v: Double) -> Double { Glibc.log10(v) }
