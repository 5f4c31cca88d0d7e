@testable import Data
import Foundation
import Testing
@testable import Training

/// A TensorBoard event file read back: its records' framing checked, each `Event` decoded as far as an export
/// writes them. The test's own reader, independent of the writer but for the CRC-32C it checks with.
struct ReadEvent {
    var wallTime = 0.0
    var step = 0
    var fileVersion: String?
    var tag: String?
    var scalar: Float?
    var image: (width: Int, height: Int, colorspace: Int, encoded: Data)?

    struct Malformed: Error, CustomStringConvertible { var description: String }

    /// Each record's whole bytes (framing included), its length and both CRCs checked.
    static func records(_ file: Data) throws -> [Data] {
        let bytes = [UInt8](file)
        var records: [Data] = []
        var at = 0
        func u32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[i + $1]) << (8 * $1) } }
        while at < bytes.count {
            guard at + 12 <= bytes.count else { throw Malformed(description: "torn header at \(at)") }
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) })
            guard TFRecord.mask(CRC32C.checksum(bytes[at..<at + 8])) == u32(at + 8) else {
                throw Malformed(description: "length CRC at \(at)")
            }
            let end = at + 12 + length + 4
            guard end <= bytes.count else { throw Malformed(description: "torn record at \(at)") }
            guard TFRecord.mask(CRC32C.checksum(bytes[at + 12..<end - 4])) == u32(end - 4) else {
                throw Malformed(description: "data CRC at \(at)")
            }
            records.append(Data(bytes[at..<end]))
            at = end
        }
        return records
    }

    /// The `Event` inside one record.
    init(record: Data) throws {
        let bytes = [UInt8](record)
        try Self.fields(bytes[12..<bytes.count - 4]) { field, value in
            switch (field, value) {
            case (1, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (2, .varint(let v)): step = Int(v)
            case (3, .bytes(let b)): fileVersion = String(decoding: b, as: UTF8.self)
            case (5, .bytes(let summary)):
                try Self.fields(summary[...]) { field, value in
                    guard field == 1, case .bytes(let entry) = value else { return }
                    try Self.fields(entry[...]) { field, value in
                        switch (field, value) {
                        case (1, .bytes(let b)): tag = String(decoding: b, as: UTF8.self)
                        case (2, .fixed32(let bits)): scalar = Float(bitPattern: bits)
                        case (4, .bytes(let b)):
                            var width = 0, height = 0, colorspace = 0, encoded = Data()
                            try Self.fields(b[...]) { field, value in
                                switch (field, value) {
                                case (1, .varint(let v)): height = Int(v)
                                case (2, .varint(let v)): width = Int(v)
                                case (3, .varint(let v)): colorspace = Int(v)
                                case (4, .bytes(let e)): encoded = Data(e)
                                default: throw Malformed(description: "image field \(field)")
                                }
                            }
                            image = (width, height, colorspace, encoded)
                        default: throw Malformed(description: "value field \(field)")
                        }
                    }
                }
            default: throw Malformed(description: "event field \(field)")
            }
        }
    }

    enum Value { case varint(UInt64), fixed64(UInt64), fixed32(UInt32), bytes([UInt8]) }

    static func fields(_ bytes: ArraySlice<UInt8>, _ visit: (Int, Value) throws -> Void) throws {
        var at = bytes.startIndex
        func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard at < bytes.endIndex, shift < 64 else { throw Malformed(description: "bad varint") }
                let byte = bytes[at]
                at += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
        func take(_ n: Int) throws -> [UInt8] {
            guard n >= 0, at + n <= bytes.endIndex else { throw Malformed(description: "field runs past its message") }
            defer { at += n }
            return Array(bytes[at..<at + n])
        }
        while at < bytes.endIndex {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: try visit(field, .varint(try varint()))
            case 1: try visit(field, .fixed64(try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }))
            case 2: try visit(field, .bytes(try take(Int(try varint()))))
            case 5: try visit(field, .fixed32(try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }))
            default: throw Malformed(description: "wire type \(key & 7)")
            }
        }
    }

    static func read(_ url: URL) throws -> [ReadEvent] {
        try records(try Data(contentsOf: url)).map { try ReadEvent(record: $0) }
    }
}

/// A PNG decoded by the repository's own decoder (libpng), through a file as it reads pictures.
func decodePNG(_ png: Data) throws -> DecodedImage {
    let url = try temporaryDirectory().appendingPathComponent("picture.png")
    defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    try png.write(to: url)
    return try ImageDecoder.decode(path: url.path)
}

@Suite struct TensorBoardExportTests {
    /// RFC 3720 (iSCSI) B.4 and the usual check value.
    @Test func crc32cOfKnownVectors() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xe306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8a91_36aa)
        #expect(CRC32C.checksum([UInt8](repeating: 0xff, count: 32)) == 0x62a8_ab43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46dd_794e)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113f_db5c)
    }

    /// The records TensorBoard's own writer made (scripts/fixtures/tensorboard_events.py) from the same values, byte for byte.
    @Test func recordsMatchTensorBoardsOwnWriter() throws {
        let url = try #require(Bundle.module.url(forResource: "tensorboard_events", withExtension: "tfevents", subdirectory: "Fixtures"))
        let theirs = try ReadEvent.records(try Data(contentsOf: url))
        try #require(theirs.count == 6)
        // The image's PNG is theirs (two deflaters need not agree byte for byte); it shows the script's pattern.
        let image = try #require(try ReadEvent(record: theirs[5]).image)
        var pattern: [UInt8] = []
        for y in 0..<3 { for x in 0..<5 { pattern += [UInt8(40 * x), UInt8(100 * y), UInt8(255 - 40 * x)] } }
        let decoded = try decodePNG(image.encoded)
        #expect(decoded.width == 5 && decoded.height == 3 && decoded.channels == 3 && decoded.pixels == pattern)

        let ours: [TensorBoardEvent] = [
            .init(wallTime: 1_700_000_000.25, step: 0, content: .fileVersion("brain.Event:2")),
            .init(wallTime: 1_700_000_001.5, step: 10, content: .scalar(tag: "train/loss", value: 0.6931472)),
            .init(wallTime: 1_700_000_002.5, step: 10, content: .scalar(tag: "train/accuracy", value: 0.5)),
            .init(wallTime: 1_700_000_003.5, step: 300, content: .scalar(tag: "train/lr", value: 0.1)),
            .init(wallTime: 1_700_000_004.5, step: 0, content: .scalar(tag: "test/accuracy", value: 0)),
            .init(wallTime: 1_700_000_009.125, step: 300,
                  content: .image(tag: "test/confusion_matrix", width: 5, height: 3, channels: 3, encoded: image.encoded)),
        ]
        for (index, (event, record)) in zip(ours, theirs).enumerated() {
            #expect(event.record() == record, "record \(index)")
        }
    }

    @Test func pngWriterPicturesDecodeToTheirPixels() throws {
        var pattern: [UInt8] = []
        for y in 0..<7 { for x in 0..<9 { pattern += [UInt8(x * 28), UInt8(y * 36), UInt8(x * y)] } }
        let png = PNGWriter.encode(width: 9, height: 7, rgb: pattern)
        let decoded = try decodePNG(png)
        #expect(decoded.width == 9 && decoded.height == 7 && decoded.channels == 3 && decoded.pixels == pattern)
    }

    @Test func confusionPictureIsOneBlockPerCellColouredByRowShare() {
        let picture = ConfusionPicture(confusion: [[8, 2, 0], [0, 10, 0], [5, 0, 5]])
        let cell = ConfusionPicture.cellSize(classes: 3)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(picture.rgb[(y * picture.width + x) * 3..<(y * picture.width + x) * 3 + 3]) }
        func centre(row: Int, column: Int) -> [UInt8] {
            pixel(ConfusionPicture.margin + 1 + column * (cell + 1) + cell / 2, ConfusionPicture.margin + 1 + row * (cell + 1) + cell / 2)
        }
        func colour(_ share: Double) -> [UInt8] { let c = ConfusionPicture.colour(share); return [c.0, c.1, c.2] }
        #expect(picture.rgb.count == picture.width * picture.height * 3)
        #expect(centre(row: 0, column: 0) == colour(0.8))
        #expect(centre(row: 0, column: 1) == colour(0.2))
        #expect(centre(row: 1, column: 1) == colour(1))
        #expect(centre(row: 2, column: 0) == colour(0.5) && centre(row: 2, column: 1) == colour(0))
        #expect(colour(0) != colour(1))
    }

    @Test func wallClockInterpolatesBetweenKnownTimesAndLaysEpochsEndToEnd() {
        func point(_ step: Int, _ time: Double?) -> WallClock.Point { .init(step: step, time: time, content: .scalar(tag: "t", value: 0)) }
        #expect(WallClock.times(of: [point(1, nil), point(10, 100), point(15, nil), point(20, 200), point(30, nil)],
                                start: 5, epochEnds: []) == [100, 100, 150, 200, 200])
        // No known time at all: the epochs' seconds from the start.
        #expect(WallClock.times(of: [point(5, nil), point(10, nil), point(15, nil)], start: 1000,
                                epochEnds: [(10, 20), (20, 40)]) == [1010, 1020, 1040])
    }

    /// A real run (2 epochs, a learning rate set by hand while paused) exported and read back.
    @Test func exportsASessionThatReadsBack() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var changed = false
        let events = TinyRun.run(RunRequest(.new(TinyRun.config(epochs: 2, schedule: "constant", metricsEvery: 2)),
                                            sessions: SessionStore(root: root), sources: TinyRun.sources,
                                            startPaused: true)) { handle, event in
            if case .stateChanged(.paused) = event, !changed {
                changed = true
                handle.send(.setLearningRate(0.02))
                handle.send(.resume)
            }
        }
        #expect(TinyRun.failure(in: events) == nil)
        let session = Session(id: "run", url: URL(fileURLWithPath: try #require(TinyRun.session(of: events))))
        let out = root.appendingPathComponent("tb")
        let written = try TensorBoardExport.write(session: session.url, to: out)

        #expect(written.file.deletingLastPathComponent().path == out.path)
        #expect(written.file.lastPathComponent.hasPrefix("events.out.tfevents."))
        #expect(written.file.lastPathComponent.hasSuffix("." + TensorBoardExport.hostName()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [written.file.lastPathComponent])
        let read = try ReadEvent.read(written.file)
        #expect(read.first?.fileVersion == "brain.Event:2")

        let records = try MetricsLog.read(session.metricsJSONLURL)
        let steps = records.compactMap(\.stepRecord)
        let epochs = records.filter { $0.kind == .epoch }
        try #require(steps.count == 6 && epochs.count == 2)  // 6 steps an epoch, a record every 2
        func scalars(_ tag: String) -> [(step: Int, value: Float)] {
            read.filter { $0.tag == tag }.compactMap { e in e.scalar.map { (e.step, $0) } }
        }
        func same(_ a: [(step: Int, value: Float)], _ b: [(step: Int, value: Float)]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.step == $1.step && $0.value == $1.value }
        }
        typealias Tag = TensorBoardExport.Tag
        #expect(same(scalars(Tag.trainLoss), steps.map { ($0.globalStep, $0.loss) }))
        #expect(same(scalars(Tag.trainAccuracy), steps.map { ($0.globalStep, $0.accuracy) }))
        #expect(same(scalars(Tag.learningRate), steps.map { ($0.globalStep, $0.learningRate) }))
        #expect(Set(steps.map(\.learningRate)) == [0.02])
        #expect(same(scalars(Tag.learningRateSetByHand), [(0, 0.02)]))
        #expect(same(scalars(Tag.testLoss), epochs.map { ($0.globalStep, $0.testLoss ?? .nan) }))
        #expect(same(scalars(Tag.testAccuracy), epochs.map { ($0.globalStep, $0.testAccuracy ?? .nan) }))
        #expect(written.scalars == 3 * 6 + 1 + 2 * 2 && written.images == 2)

        // One picture per epoch, at the epoch's end, decodable, of the size the event says.
        let images = read.filter { $0.tag == Tag.confusionMatrix }
        #expect(images.map(\.step) == epochs.map(\.globalStep))
        for image in images.compactMap(\.image) {
            let decoded = try decodePNG(image.encoded)
            #expect(image.colorspace == 3 && decoded.channels == 3)
            #expect(decoded.width == image.width && decoded.height == image.height)
        }

        // The session's own times: those of its events file, in the order written.
        let lineTimes = try SessionEvents.read(session.eventsURL).map(\.time)
        let times = read.map(\.wallTime)
        #expect(times.allSatisfy { $0 >= lineTimes.min()! && $0 <= lineTimes.max()! })
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })

        // Again: the same file, replaced.
        let again = try TensorBoardExport.write(session: session.url, to: out)
        #expect(again == written)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [written.file.lastPathComponent])
    }

    /// A session from before events files: its scalars, at times laid out from its epochs' durations; no pictures.
    @Test func exportsASessionWithoutAnEventsFile() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let events = TinyRun.run(RunRequest(.new(TinyRun.config(epochs: 1, schedule: "constant")),
                                            sessions: SessionStore(root: root), sources: TinyRun.sources))
        let session = Session(id: "run", url: URL(fileURLWithPath: try #require(TinyRun.session(of: events))))
        try FileManager.default.removeItem(at: session.eventsURL)
        let written = try TensorBoardExport.write(session: session.url, to: root.appendingPathComponent("tb"))
        #expect(written.images == 0 && written.scalars == 3 * 6 + 2)
        let read = try ReadEvent.read(written.file)
        #expect(read.count == 1 + written.scalars)
        #expect(!written.tags.contains(TensorBoardExport.Tag.confusionMatrix))
        let times = read.map(\.wallTime)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func refusesADirectoryThatIsNoSession() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: TrainingError.self) { try TensorBoardExport.write(session: root, to: root.appendingPathComponent("tb")) }
    }
}
