import Foundation
import Engine
@testable import Models

/// A safetensors checkpoint's bytes.
func fuzzSafetensors(_ data: Data) {
    _ = try? Safetensors.decode(data, file: "fuzz.safetensors")
}

/// A `.cnn` network spec: read, then built for a small input (as the model picker and `--model file.cnn` do).
func fuzzNetworkSpec(_ data: Data) {
    guard let text = String(data: data, encoding: .utf8),
          let spec = try? NetworkSpecReader.read(text, file: "fuzz.cnn") else { return }
    var builder = NetworkSpecBuilder(spec: spec, classes: 10, f: LayerFactory(seed: 0))
    _ = try? builder.build(input: spec.inputSize.map { [3, $0, $0] } ?? [3, 32, 32])
}
