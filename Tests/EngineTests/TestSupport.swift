import Foundation
import Testing

@testable import Engine

// Shared helpers for engine tests: closeness checks, PyTorch fixtures, finite-difference gradient checks.

/// Records an issue unless every |got - want| <= atol + rtol * |want| (numpy's allclose), naming the worst element.
func assertClose(_ got: [Float], _ want: [Float], rtol: Float = 1e-4, atol: Float = 1e-5, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard got.count == want.count else {
        Issue.record("\(what): \(got.count) values, expected \(want.count)", sourceLocation: sourceLocation)
        return
    }
    var bad = 0, worst = -1
    var worstExcess: Float = 0
    for i in 0..<got.count {
        let error = abs(got[i] - want[i]), allowed = atol + rtol * abs(want[i])
        if !(error <= allowed) {  // also catches NaN
            bad += 1
            if worst < 0 || !(error - allowed <= worstExcess) { worst = i; worstExcess = error - allowed }
        }
    }
    if bad > 0 {
        Issue.record("\(what): \(bad) of \(got.count) values differ; worst at [\(worst)]: got \(got[worst]), want \(want[worst])",
                     sourceLocation: sourceLocation)
    }
}

struct FixtureMissing: Error, CustomStringConvertible {
    var description: String
}

/// A safetensors file from Tests/EngineTests/Fixtures, written by a script in scripts/fixtures/.
struct Fixture {
    let file: String
    let entries: [String: Safetensors.Entry]

    init(_ file: String) throws {
        guard let url = Bundle.module.url(forResource: file, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw FixtureMissing(description: "Fixtures/\(file).safetensors is not in the test bundle")
        }
        self.file = file
        entries = try Safetensors.read(contentsOf: url).entries
    }

    func contains(_ key: String) -> Bool { entries[key] != nil }

    func entry(_ key: String) throws -> Safetensors.Entry {
        guard let e = entries[key] else { throw FixtureMissing(description: "\(file).safetensors has no tensor '\(key)'") }
        return e
    }

    func values(_ key: String) throws -> [Float] { try entry(key).values }

    func tensor(_ key: String) throws -> Tensor {
        let e = try entry(key)
        return Tensor(shape: e.shape, values: e.values)
    }
}

/// Runs a single layer on fixture case `name` (keys `<name>.input`, `.grad_output`, `.output`, `.grad_input`, and per
/// state-dict entry `<name>.<key>` / `<name>.grad_<key>`) and checks forward and backward against PyTorch. It runs the
/// step twice without zeroing, so parameter gradients must come out doubled (backward accumulates).
func assertLayerMatchesFixture(_ layer: any Layer, _ fixture: Fixture, _ name: String,
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
        assertClose(output.array, wantOutput.values, "\(name) output (pass \(pass))", sourceLocation: sourceLocation)
        let gradInput = layer.backward(gradOutput)
        #expect(gradInput.shape == input.shape, "\(name): grad_input shape", sourceLocation: sourceLocation)
        assertClose(gradInput.array, try fixture.values("\(name).grad_input"), "\(name) grad_input (pass \(pass))",
                    sourceLocation: sourceLocation)
        for (key, p) in state {
            guard let grad = p.grad else { continue }
            let want = try fixture.values("\(name).grad_\(key)").map { $0 * Float(pass) }
            assertClose(grad.array, want, "\(name) grad_\(key) (pass \(pass))", sourceLocation: sourceLocation)
        }
    }
}

/// Random values in [low, high) from a seeded source.
func randomValues(_ count: Int, _ random: inout RandomSource, _ low: Float = -1, _ high: Float = 1) -> [Float] {
    (0..<count).map { _ in random.uniform(low, high) }
}

/// Finite-difference check of a layer's backward: loss = sum(output * projection) for a random projection, so
/// dL/dOutput = projection. Compares dL/dInput and every parameter gradient with central differences at up to
/// `samples` random coordinates each. `input` lets a caller pass values away from kinks (max pooling).
func assertGradientsMatchFiniteDifferences(
    _ layer: any Layer, inputShape: [Int], input: [Float]? = nil, seed: UInt64 = 1, eps: Float = 1e-2,
    samples: Int = 40, rtol: Float = 1e-2, atol: Float = 2e-3, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var random = RandomSource(seed: seed)
    let x = Tensor(shape: inputShape, values: input ?? randomValues(inputShape.reduce(1, *), &random))
    let outShape = try layer.outputShape(for: inputShape)
    let projection = randomValues(outShape.reduce(1, *), &random)

    func loss() throws -> Double {
        let y = try layer.forward(x, training: true)
        var sum: Double = 0
        for i in 0..<y.count { sum += Double(y[i]) * Double(projection[i]) }
        return sum
    }

    // Analytic gradients.
    let params = layer.trainableParameters
    for p in params { p.grad?.zero() }
    _ = try layer.forward(x, training: true)
    let gradInput = layer.backward(Tensor(shape: outShape, values: projection)).array
    let paramGrads = params.map { $0.grad?.array ?? [] }

    func check(_ values: Tensor, _ analytic: [Float], _ label: String) throws {
        var got: [Float] = [], want: [Float] = []
        let indices = values.count <= samples ? Array(0..<values.count) : (0..<samples).map { _ in random.nextInt(values.count) }
        for i in indices {
            let saved = values[i]
            values[i] = saved + eps
            let plus = try loss()
            values[i] = saved - eps
            let minus = try loss()
            values[i] = saved
            want.append(Float((plus - minus) / (2 * Double(eps))))
            got.append(analytic[i])
        }
        assertClose(got, want, rtol: rtol, atol: atol, "\(what) \(label) vs finite differences", sourceLocation: sourceLocation)
    }
    try check(x, gradInput, "dInput")
    for (key, p) in layer.stateDict() where p.isTrainable {
        guard let index = params.firstIndex(where: { $0 === p }) else { continue }
        try check(p.value, paramGrads[index], "d\(key)")
    }
}
