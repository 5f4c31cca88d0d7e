import ArgumentParser
import Data
import Foundation
import Training

/// `cnntui datasets [--json]`: every dataset, found or not, with where it is or how to get it.
struct DatasetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets",
        abstract: "List datasets: where each was found, its size, shape and classes, or how to get it.")

    @Option(name: .customLong("data-dir"), help: "Look here first (then $CNNTUI_DATA, ~/.cache/cnntui, /usr/share/datasets).")
    var dataDir: String?

    @Flag(help: "Print a JSON list of {name, found, path, train, test, shape, classes, how_to_get}.")
    var json = false

    func run() throws {
        let listings = DatasetCatalog.list(dataDir: dataDir)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(listings), as: UTF8.self))
            return
        }
        let nameWidth = max(14, (listings.map(\.name.count).max() ?? 0) + 2)
        print(pad("NAME", nameWidth) + pad("FOUND", 7) + pad("TRAIN", 8) + pad("TEST", 8) + pad("SHAPE", 10) + "WHERE")
        for listing in listings {
            let shape = listing.shape.map(String.init).joined(separator: "x")
            let train = listing.train.map(String.init) ?? "-", test = listing.test.map(String.init) ?? "-"
            let place = listing.path ?? ("missing: " + (listing.howToGet ?? "unknown"))
            print(pad(listing.name, nameWidth) + pad(listing.found ? "yes" : "no", 7) + pad(train, 8) + pad(test, 8)
                + pad(shape, 10) + place)
            print(String(repeating: " ", count: nameWidth) + "classes: " + listing.classes.joined(separator: ", "))
        }
    }
}
