import Foundation
import Testing
@testable import Engine

// Helpers for the batch-norm, activation, container and loss tests (ops-b). The other ops tests keep
// theirs in TestSupport.swift; the names here are distinct until the two are unified.

struct MiscFixtureError: Error, CustomStringConvertible {
    let description: String
}

/// A safetensors file written by scripts/fixtures/ops_misc.py, keyed `case.what`.
struct MiscFixture {
    let name: String
    let entries: [String: Safetensors.Entry]

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw MiscFixtureError(description: "fixture \(name).safetensors is missing; run scripts/fixtures/ops_misc.py")
        }
        self.name = name
        entries = try Safetensors.read(contentsOf: url).entries
    }

    func entry(_ key: String) throws -> Safetensors.Entry {
        guard let e = entries[key] else { throw MiscFixtureError(description: "\(name): no tensor '\(key)'") }
        return e
    }

    func values(_ key: String) throws -> [Float] { try entry(key).values }

    func tensor(_ key: String) throws -> Tensor {
        let e = try entry(key)
        return Tensor(shape: e.shape, values: e.values)
    }

    func labels(_ key: String) throws -> [Int32] { try values(key).map { Int32($0) } }

    /// The entries under `prefix.` with the prefix removed: a state dict for `loadStateDict`.
    func state(_ prefix: String) -> [String: Safetensors.Entry] {
        var out: [String: Safetensors.Entry] = [:]
        for (key, e) in entries where key.hasPrefix(prefix + ".") { out[String(key.dropFirst(prefix.count + 1))] = e }
        return out
    }
}

/// Expects every element within `atol + rtol * |expected|`, reporting the worst one.
func expectClose(
    _ actual: [Float], _ expected: [Float], _ what: String, rtol: Float = 1e-4, atol: Float = 1e-5,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var worst = (index: -1, excess: Float(0))
    for i in actual.indices {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if !(excess <= 0), worst.index < 0 || !(excess <= worst.excess) { worst = (i, excess) }
    }
    if worst.index >= 0 {
        let i = worst.index
        Issue.record("\(what): element \(i) is \(actual[i]), expected \(expected[i])", sourceLocation: sourceLocation)
    }
}

func expectClose(
    _ actual: Tensor, _ expected: [Float], _ what: String, rtol: Float = 1e-4, atol: Float = 1e-5,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(actual.array, expected, what, rtol: rtol, atol: atol, sourceLocation: sourceLocation)
}

/// Values uniform in [-scale, scale) from a seeded source.
func seededTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var random = RandomSource(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t[i] = random.uniform(-scale, scale) }
    return t
}

/// Compares a layer's backward with central differences of L = sum(y * r) for a fixed random r, for every
/// input element and every trainable parameter element. Layers are forwarded in `training` mode
/// (batch statistics for BatchNorm); smooth layers only, away from kinks.
func expectGradientsMatchFiniteDifferences(
    _ layer: any Layer, input: Tensor, training: Bool = true, step: Float = 1e-2,
    rtol: Float = 1e-2, atol: Float = 2e-3, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let y = try layer.forward(input, training: training)
    let r = seededTensor(y.shape, seed: 99)
    func loss() throws -> Double {
        let out = try layer.forward(input, training: training)
        var sum = 0.0
        for i in 0..<out.count { sum += Double(out[i]) * Double(r[i]) }
        return sum
    }
    let parameters = layer.trainableParameters
    for p in parameters { p.grad?.zero() }
    _ = try layer.forward(input, training: training)
    let analyticInput = layer.backward(r).clone()
    let analyticParameters = parameters.map { $0.grad?.clone() ?? Tensor(shape: [0]) }

    func check(_ values: Tensor, _ analytic: Tensor, _ what: String) throws {
        var numeric = [Float](repeating: 0, count: values.count)
        for i in 0..<values.count {
            let saved = values[i]
            values[i] = saved + step
            let plus = try loss()
            values[i] = saved - step
            let minus = try loss()
            values[i] = saved
            numeric[i] = Float((plus - minus) / (2 * Double(step)))
        }
        expectClose(analytic.array, numeric, "\(what) vs finite differences", rtol: rtol, atol: atol,
                    sourceLocation: sourceLocation)
    }
    try check(input, analyticInput, "\(layer.typeName) dInput")
    for (p, analytic) in zip(parameters, analyticParameters) { try check(p.value, analytic, "\(layer.typeName) dParameter") }
}
