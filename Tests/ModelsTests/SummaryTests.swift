import Engine
import Foundation
import Testing
@testable import Models

@Test func summaryJSONHasTheDocumentedKeys() throws {
    let summary = try ModelSummary.make(model: "resnet", inputShape: [3, 32, 32], classes: 10, batchSize: 8)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(summary.json.utf8)) as? [String: Any])
    for key in ["model", "input", "total_params", "trainable_params", "macs", "layers", "notes"] {
        #expect(object[key] != nil, "missing \(key)")
    }
    #expect(object["model"] as? String == "resnet-2-2-2")
    #expect(object["input"] as? [Int] == [3, 32, 32])
    #expect(object["trainable_params"] as? Int == 195_738)
    #expect(object["macs"] as? Int == 28_754_560)
    let layers = try #require(object["layers"] as? [[String: Any]])
    for key in ["name", "type", "output_shape", "params", "macs"] { #expect(layers[0][key] != nil, "layer missing \(key)") }
    let block = try #require(layers.first { $0["name"] as? String == "layer2.0" })
    #expect(block["type"] as? String == "ResidualBlock")
    #expect(block["output_shape"] as? [Int] == [32, 16, 16])
    #expect((object["notes"] as? [String])?.isEmpty == false)
}

@Test func summaryRowsAddUpAndShowTheAdapterFirst() throws {
    let summary = try ModelSummary.make(model: "vgg11", inputShape: [1, 28, 28], classes: 10, batchSize: 4)
    #expect(summary.rows.first?.name == "adapter")
    #expect(summary.rows.first?.type == "ZeroPad2d")
    #expect(summary.rows.first?.outputShape == [1, 32, 32])
    #expect(summary.notes.first?.contains("ZeroPad2d(2)") == true)
    let topLevel = summary.rows.filter { $0.depth == 0 }
    #expect(topLevel.reduce(0) { $0 + $1.params } == summary.totals.trainableParams)
    #expect(topLevel.reduce(0) { $0 + $1.macs } == summary.totals.macs)
    let leaves = summary.rows.filter(\.isLeaf)
    #expect(leaves.reduce(0) { $0 + $1.params } == summary.totals.trainableParams)
    #expect(summary.totals.activationBytes == 2 * 4 * 4 * leaves.reduce(0) { $0 + $1.outputShape.reduce(1, *) })
    #expect(summary.totals.nonTrainableParams > 0)
    let text = summary.renderText()
    #expect(text.contains("9,229,962"))
    #expect(text.contains("adapter"))
}

@Test func blocksExposeTheSeedModuleNames() throws {
    let summary = try ModelSummary.make(model: "shufflenet-v2", inputShape: [3, 32, 32], classes: 10, batchSize: 1)
    let down = try #require(summary.rows.first { $0.name == "layer1.0" })
    #expect(down.type == "DownBlock")
    #expect(down.outputShape == [48, 16, 16])
    #expect(summary.rows.contains { $0.name == "layer1.0.conv5" && $0.outputShape == [24, 16, 16] })
    #expect(summary.rows.contains { $0.name == "layer1.1.shuffle" && $0.type == "ChannelShuffle" })
    let effnet = try ModelSummary.make(model: "efficientnet-v2-s", inputShape: [1, 28, 28], classes: 10, batchSize: 1)
    #expect(effnet.rows.contains { $0.name == "blocks.10.se.conv_reduce" && $0.outputShape == [16, 1, 1] })
    #expect(effnet.rows.contains { $0.name == "blocks.1.dropout" && $0.type == "DropPath" })
    #expect(effnet.notes.count >= 5)
}
