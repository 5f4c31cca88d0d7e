import Foundation

/// One TensorBoard `Event` protocol buffer (tensorflow/core/util/event.proto), the few fields an export needs:
///
///     Event { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; Summary summary = 5; } }
///     Summary { repeated Value value = 1; }
///     Summary.Value { string tag = 1; oneof value { float simple_value = 2; Image image = 4; } }
///     Summary.Image { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
struct TensorBoardEvent: Equatable, Sendable {
    enum Content: Equatable, Sendable {
        /// The first event of every file: "brain.Event:2".
        case fileVersion(String)
        case scalar(tag: String, value: Float)
        /// An encoded picture (PNG) with its size; `channels` is the colorspace field: 1 grey, 3 RGB, 4 RGBA.
        case image(tag: String, width: Int, height: Int, channels: Int, encoded: Data)
    }

    var wallTime: Double
    var step: Int
    var content: Content

    static let fileVersion = "brain.Event:2"

    var tag: String? {
        switch content {
        case .fileVersion: return nil
        case .scalar(let tag, _), .image(let tag, _, _, _, _): return tag
        }
    }

    /// The serialized message.
    func encoded() -> Data {
        var event = ProtoWriter()
        event.double(1, wallTime)
        event.int64(2, Int64(step))
        switch content {
        case .fileVersion(let version):
            event.string(3, always: version)
        case let .scalar(tag, value):
            event.message(5) { summary in
                summary.message(1) { entry in
                    entry.string(1, tag)
                    entry.float(2, always: value)
                }
            }
        case let .image(tag, width, height, channels, encoded):
            event.message(5) { summary in
                summary.message(1) { entry in
                    entry.string(1, tag)
                    entry.message(4) { image in
                        image.int64(1, Int64(height))
                        image.int64(2, Int64(width))
                        image.int64(3, Int64(channels))
                        image.bytes(4, encoded)
                    }
                }
            }
        }
        return event.data
    }

    /// The event as one TFRecord.
    func record() -> Data { TFRecord.frame(encoded()) }
}
