import Foundation
import Testing

/// `summary`, `models` and `datasets`: the commands that look at the zoo and the data without training.
@Suite struct InspectCommandTests {
    @Test func summaryJSONHasTheDocumentedFields() throws {
        let result = try CLI.run(["summary", "--model", "shufflenet-v2", "--dataset", "cifar10", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try CLI.json(result.stdout) as? [String: Any])
        #expect(object["model"] as? String == "shufflenet-v2-0.5x")
        #expect(object["input"] as? [Int] == [3, 32, 32])
        #expect(object["trainable_params"] as? Int == 352_042)
        #expect(object["macs"] as? Int == 10_902_016)
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.allSatisfy { $0["name"] != nil && $0["type"] != nil && $0["output_shape"] != nil
            && $0["params"] != nil && $0["macs"] != nil })
    }

    @Test func summaryShowsTheInputAdapterFirstForDigits() throws {
        let result = try CLI.run(["summary", "--model", "vgg11", "--dataset", "fashion-mnist"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").filter { $0.contains("ZeroPad2d") || $0.contains("Conv2d") }
        #expect(rows.first?.contains("ZeroPad2d") == true, "\(result.stdout)")
    }

    @Test func unknownModelListsTheValidNames() throws {
        let result = try CLI.run(["summary", "--model", "resnet-9-9-9", "--dataset", "cifar10"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("resnet-9-9-9"))
        #expect(result.stderr.contains("resnet-2-2-2") && result.stderr.contains("efficientnet-v2-s"))
    }

    @Test func modelsListsTheZooWithTotals() throws {
        let result = try CLI.run(["models", "--dataset", "fashion-mnist", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try #require(try CLI.json(result.stdout) as? [[String: Any]])
        let mycnn = try #require(list.first { $0["model"] as? String == "mycnn" })
        #expect(mycnn["trainable_params"] as? Int == 20_586)
        #expect(list.count >= 20)
    }

    @Test func datasetsListsFashionMNISTAndHowToGetTheRest() throws {
        let result = try CLI.run(["datasets", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try #require(try CLI.json(result.stdout) as? [[String: Any]])
        #expect(Set(list.compactMap { $0["name"] as? String }).isSuperset(of: ["fashion-mnist", "mnist", "cifar10"]))
        let fashion = try #require(list.first { $0["name"] as? String == "fashion-mnist" })
        #expect(fashion["found"] as? Bool == true)
        #expect(fashion["train"] as? Int == 60_000 && fashion["test"] as? Int == 10_000)
        #expect(fashion["shape"] as? [Int] == [1, 28, 28])
    }

    @Test func datasetsRejectsAMissingDataDirectoryClearly() throws {
        let result = try CLI.run(["datasets", "--data-dir", "/nonexistent/cnntui-data"])
        // Listing still works (the directory is just one place searched) or names the directory.
        #expect(result.status == 0 || result.stderr.contains("/nonexistent/cnntui-data"))
    }
}
