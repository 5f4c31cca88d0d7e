import Training
import Foundation

/// Short number and time formats for labels that have only a few columns.
public enum Format {
    /// At most about 6 characters: 2.303, 0.0123, 1.2e-04, 12345.
    public static func compact(_ v: Double) -> String {
        if !v.isFinite { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 100_000 || a < 0.001 { return String(format: "%.1e", v) }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        if a >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }

    /// An axis label: whole numbers without decimals ("2", "150"), others as `compact` without trailing
    /// zeros ("1.5", "0.25").
    public static func axis(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 100_000 { return String(Int(v)) }
        var t = compact(v)
        guard t.contains("."), !t.contains("e") else { return t }
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    public static func percent(_ fraction: Float, decimals: Int = 1) -> String {
        String(format: "%.\(decimals)f%%", Double(fraction) * 100)
    }

    /// A steered hyper-parameter's value: a batch size whole, the others like a learning rate.
    public static func steered(_ field: Hyperparameter, _ value: Double) -> String {
        field == .batchSize ? String(Int(value)) : learningRate(Float(value))
    }

    public static func learningRate(_ lr: Float) -> String {
        let v = Double(lr)
        if v == 0 { return "0" }
        // %g keeps 0.0005 as typed; below 1e-4 it would switch to exponents anyway.
        return abs(v) >= 0.0001 && abs(v) < 10 ? String(format: "%.4g", v) : String(format: "%.2e", v)
    }

    /// 45s, 3m05s, 1h02m.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }

    /// Sizes as `du -h` writes them: 512, 4.1K, 38M, 1.2G (powers of 1024).
    public static func bytes(_ bytes: Int64) -> String {
        var value = Double(bytes)
        guard value >= 1024 else { return "\(bytes)" }
        for unit in ["K", "M", "G", "T"] {
            value /= 1024
            if value < 1024 || unit == "T" { return String(format: value < 10 ? "%.1f" : "%.0f", value) + unit }
        }
        return "\(bytes)"
    }

    public static func rate(_ v: Double) -> String {
        v >= 1000 ? String(format: "%.1fk", v / 1000) : String(format: "%.0f", v)
    }

    /// Splits `text` at spaces into lines of at most `width` characters; a word longer than a line is
    /// cut by the grid when drawn.
    public static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if current.isEmpty {
                current = String(word)
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
