import Foundation
import Testing

/// `cnntui lr-find` through the real binary, on a small slice of Fashion-MNIST and a short sweep (about a second).
@Suite struct LRFindCommandTests {
    static let small = ["lr-find", "--model", "mycnn", "--dataset", "fashion-mnist", "--limit-train", "640",
                        "--batch-size", "32", "--iterations", "30"]

    @Test func jsonHasThePointsAndBothSuggestions() throws {
        let run = try CLI.run(Self.small + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try CLI.json(run.stdout) as? [String: Any], "\(run.stdout)")
        #expect(report["model"] as? String == "mycnn" && report["optimizer"] as? String == "adam")
        #expect(report["recipe_lr"] as? Double == 0.01 && report["iterations"] as? Int == 30)
        let points = try #require(report["points"] as? [[String: Any]])
        #expect(points.count >= 10 && points.count <= 30)
        let rates = points.compactMap { $0["lr"] as? Double }
        #expect(rates.count == points.count && abs(rates[0] - 1e-7) < 1e-12)
        // Exponential: every step multiplies the rate by (10 / 1e-7)^(1/30).
        let factor = pow(1e8, 1.0 / 30)
        for (a, b) in zip(rates, rates.dropFirst()) { #expect(abs(b / a / factor - 1) < 1e-5) }
        #expect(points.allSatisfy { $0["loss"] is Double && $0["smoothed"] is Double })
        // The first smoothed loss is the first loss (bias correction).
        #expect(points[0]["smoothed"] as? Double == points[0]["loss"] as? Double)
        let stop = try #require(report["stop"] as? String)
        #expect(["completed", "diverged", "not_finite"].contains(stop))
        let suggestions = try #require(report["suggestions"] as? [String: Double])
        #expect(Set(suggestions.keys) == ["valley", "steep"], "\(run.stdout)")
        // Both are rates the sweep trained at, from fastai's trimmed range (batches 4 to count - 5).
        let trimmed = Set(rates[3..<(rates.count - 5)].map { Float($0) })
        for (_, rate) in suggestions { #expect(trimmed.contains(Float(rate)), "\(rate)") }
    }

    @Test func textShowsTheCurveAndTheSuggestions() throws {
        let run = try CLI.run(Self.small, environment: ["LANG": "C", "LC_ALL": "", "LC_CTYPE": ""])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("LR finder: mycnn on fashion-mnist"))
        #expect(run.stdout.contains("1e-7") && run.stdout.contains("learning rate (log scale)"))
        #expect(run.stdout.contains("  valley  ") && run.stdout.contains("  steep   ") && run.stdout.contains("  recipe  0.01"))
        // LANG=C: the chart is drawn in ASCII.
        #expect(run.stdout.unicodeScalars.allSatisfy { $0.isASCII })
    }

    @Test func badRangesNameTheFlag() throws {
        let reversed = try CLI.run(Self.small + ["--start", "10", "--end", "1e-7"])
        #expect(reversed.status != 0 && reversed.stderr.contains("--end: must be above --start"), "\(reversed.stderr)")
        let negative = try CLI.run(Self.small + ["--start", "-1"])
        #expect(negative.status != 0 && negative.stderr.contains("--start: must be a positive number"), "\(negative.stderr)")
        let short = try CLI.run(Self.small + ["--iterations", "2"])
        #expect(short.status != 0 && short.stderr.contains("--iterations: must be at least 6"), "\(short.stderr)")
        let recipe = try CLI.run(Self.small + ["--lr", "-1"])
        #expect(recipe.status != 0 && recipe.stderr.contains("--lr"), "\(recipe.stderr)")
    }
}
