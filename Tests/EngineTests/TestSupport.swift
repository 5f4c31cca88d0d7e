import Foundation
import Testing

@testable import Engine

// The engine tests' shared helpers: PyTorch fixtures, closeness checks, seeded inputs, and
// finite-difference gradient checks.

struct FixtureMissing: Error, CustomStringConvertible {
    var description: String
}

/// A safetensors file from Tests/EngineTests/Fixtures, written by a script in scripts/fixtures/;
/// keys are `case.what`.
struct Fixture {
    /// The file's name without extension ("ops_conv").
    let name: String
    let entries: [String: Safetensors.Entry]

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw FixtureMissing(description: "Fixtures/\(name).safetensors is not in the test bundle; run its script in scripts/fixtures/")
        }
        self.name = name
        entries = try Safetensors.read(contentsOf: url).entries
    }

    var fileName: String { name + ".safetensors" }

    func contains(_ key: String) -> Bool { entries[key] != nil }

    func entry(_ key: String) throws -> Safetensors.Entry {
        guard let e = entries[key] else { throw FixtureMissing(description: "\(fileName) has no tensor '\(key)'") }
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

/// Records an issue unless every |actual - expected| <= atol + rtol * |expected| (numpy's allclose),
/// naming how many differ and the worst one. NaN never passes.
func expectClose(
    _ actual: [Float], _ expected: [Float], _ what: String, rtol: Float = 1e-4, atol: Float = 1e-5,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var bad = 0
    var worst = (index: -1, excess: Float(0))
    for i in actual.indices {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if !(excess <= 0) {
            bad += 1
            if worst.index < 0 || !(excess <= worst.excess) { worst = (i, excess) }
        }
    }
    if worst.index >= 0 {
        let i = worst.index
        Issue.record("\(what): \(bad) of \(actual.count) values differ; worst at [\(i)]: got \(actual[i]), want \(expected[i])",
                     sourceLocation: sourceLocation)
    }
}

func expectClose(
    _ actual: Tensor, _ expected: [Float], _ what: String, rtol: Float = 1e-4, atol: Float = 1e-5,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(actual.array, expected, what, rtol: rtol, atol: atol, sourceLocation: sourceLocation)
}

/// Runs a single layer on fixture case `name` (keys `<name>.input`, `.grad_output`, `.output`, `.grad_input`, and per
/// state-dict entry `<name>.<key>` / `<name>.grad_<key>`) and checks forward and backward against PyTorch. It runs the
/// step twice without zeroing, so parameter gradients must come out doubled (backward accumulates).
func expectLayerMatchesFixture(_ layer: any Layer, _ fixture: Fixture, _ name: String,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
    let state = layer.stateDict()
    for (key, p) in state {
        let e = try fixture.entry("\(name).\(key)")
        #expect(e.shape == p.shape, "\(name).\(key): fixture shape \(e.shape), layer \(p.shape)", sourceLocation: sourceLocation)
        guard e.values.count == p.count else { return }
        for i in 0..<p.count { p.value[i] = e.values[i] }
        p.grad?.zero()
    }
    let input = try fixture.tensor("\(name).input")
    let gradOutput = try fixture.tensor("\(name).grad_output")
    for pass in 1...2 {
        let output = try layer.forward(input, training: true)
        let wantOutput = try fixture.entry("\(name).output")
        #expect(output.shape == wantOutput.shape, "\(name): output shape", sourceLocation: sourceLocation)
        expectClose(output.array, wantOutput.values, "\(name) output (pass \(pass))", sourceLocation: sourceLocation)
        let gradInput = layer.backward(gradOutput)
        #expect(gradInput.shape == input.shape, "\(name): grad_input shape", sourceLocation: sourceLocation)
        expectClose(gradInput.array, try fixture.values("\(name).grad_input"), "\(name) grad_input (pass \(pass))",
                    sourceLocation: sourceLocation)
        for (key, p) in state {
            guard let grad = p.grad else { continue }
            let want = try fixture.values("\(name).grad_\(key)").map { $0 * Float(pass) }
            expectClose(grad.array, want, "\(name) grad_\(key) (pass \(pass))", sourceLocation: sourceLocation)
        }
    }
}

/// Random values in [low, high) from a seeded source.
func randomValues(_ count: Int, _ random: inout RandomSource, _ low: Float = -1, _ high: Float = 1) -> [Float] {
    (0..<count).map { _ in random.uniform(low, high) }
}

/// Values uniform in [-scale, scale) from a seeded source.
func seededTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var random = RandomSource(seed: seed)
    return Tensor(shape: shape, values: randomValues(shape.reduce(1, *), &random, -scale, scale))
}

/// Compares a layer's backward with central differences of L = sum(y * projection), so dL/dy = projection:
/// dL/dInput and every trainable parameter's gradient, at the coordinates `coordinates(count)` picks of each
/// tensor (every one by default). The projection defaults to `seededTensor(y.shape, seed: 99)`. Layers run
/// in `training` mode (batch statistics for BatchNorm); use smooth layers or inputs away from kinks.
func expectGradientsMatchFiniteDifferences(
    _ layer: any Layer, input: Tensor, projection: Tensor? = nil, training: Bool = true, step: Float = 1e-2,
    coordinates: (_ count: Int) -> [Int] = { Array(0..<$0) }, rtol: Float = 1e-2, atol: Float = 2e-3,
    _ what: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let what = what ?? layer.typeName
    let r = try projection ?? seededTensor(try layer.forward(input, training: training).shape, seed: 99)
    func loss() throws -> Double {
        let out = try layer.forward(input, training: training)
        var sum = 0.0
        for i in 0..<out.count { sum += Double(out[i]) * Double(r[i]) }
        return sum
    }
    let parameters = layer.trainableParameters
    for p in parameters { p.grad?.zero() }
    _ = try layer.forward(input, training: training)
    let analyticInput = layer.backward(r).array
    let analyticParameters = parameters.map { $0.grad?.array ?? [] }

    func check(_ values: Tensor, _ analytic: [Float], _ label: String) throws {
        var got: [Float] = [], numeric: [Float] = []
        for i in coordinates(values.count) {
            let saved = values[i]
            values[i] = saved + step
            let plus = try loss()
            values[i] = saved - step
            let minus = try loss()
            values[i] = saved
            numeric.append(Float((plus - minus) / (2 * Double(step))))
            got.append(analytic[i])
        }
        expectClose(got, numeric, "\(what) \(label) vs finite differences", rtol: rtol, atol: atol,
                    sourceLocation: sourceLocation)
    }
    try check(input, analyticInput, "dInput")
    for (key, p) in layer.stateDict() where p.isTrainable {
        guard let index = parameters.firstIndex(where: { $0 === p }) else { continue }
        try check(p.value, analyticParameters[index], "d\(key)")
    }
}

/// The same check on a random input of `inputShape` (or the given `input` values, e.g. away from max-pooling
/// ties) and a random projection, both drawn from `seed`, at up to `samples` random coordinates per tensor.
func expectGradientsMatchFiniteDifferences(
    _ layer: any Layer, inputShape: [Int], input: [Float]? = nil, seed: UInt64 = 1, step: Float = 1e-2,
    samples: Int = 40, rtol: Float = 1e-2, atol: Float = 2e-3, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var random = RandomSource(seed: seed)
    let x = Tensor(shape: inputShape, values: input ?? randomValues(inputShape.reduce(1, *), &random))
    let outputShape = try layer.outputShape(for: inputShape)
    let projection = Tensor(shape: outputShape, values: randomValues(outputShape.reduce(1, *), &random))
    try expectGradientsMatchFiniteDifferences(
        layer, input: x, projection: projection, step: step,
        coordinates: { count in count <= samples ? Array(0..<count) : (0..<samples).map { _ in random.nextInt(count) } },
        rtol: rtol, atol: atol, what, sourceLocation: sourceLocation)
}
