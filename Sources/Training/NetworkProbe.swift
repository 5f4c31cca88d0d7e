import Engine
import Foundation
import Models

/// The engine side of the layers and health pages and of anomaly detection, over one network: which layers
/// have parameters, which rectify, where each path is, and the observers that look at a forward pass.
/// Everything here runs on the thread that trains the network.
final class NetworkProbe {
    let network: Network
    /// Layers with trainable parameters of their own, in state-dict order, with those parameters.
    let parameterLayers: [(name: String, parameters: [Parameter])]
    /// Every layer of the tree by its path (the outermost of layers sharing one, as the summary's rows do).
    private let layersByPath: [String: any Layer]
    /// The first layer (state-dict order) with convolution filters, for the filters view.
    private let firstConvolution: (any Layer)?

    init(network: Network) {
        self.network = network
        var byPath: [String: any Layer] = [:]
        var withParameters: [(String, [Parameter])] = []
        var firstConvolution: (any Layer)?
        func walk(_ layer: any Layer) {
            if !layer.name.isEmpty, byPath[layer.name] == nil { byPath[layer.name] = layer }
            let own = layer.ownState.map(\.1).filter(\.isTrainable)
            if !own.isEmpty { withParameters.append((layer.displayName, own)) }
            if firstConvolution == nil, Self.filters(of: layer) != nil { firstConvolution = layer }
            for (_, child) in layer.children { walk(child) }
        }
        for (_, child) in network.root.children { walk(child) }
        layersByPath = byPath
        parameterLayers = withParameters
        self.firstConvolution = firstConvolution
    }

    func layer(at path: String) -> (any Layer)? { layersByPath[path] }

    /// Per-image output shapes by path, from the summary: a layer object used at several places (one ReLU
    /// module called in two branches) is captured at the call whose output has its row's shape.
    private lazy var rowShapes: [String: [Int]] = {
        guard let summary = try? ModelSummary.make(network: network, batchSize: 1) else { return [:] }
        return Dictionary(summary.rows.map { ($0.name, $0.outputShape) }, uniquingKeysWith: { first, _ in first })
    }()

    /// Sets `observer` on every container of the tree that reports outputs (nil detaches).
    static func attach(_ observer: (any ForwardObserver)?, to root: any Layer) {
        forEachLayer(in: root) { layer in
            switch layer {
            case let sequential as Sequential: sequential.observer = observer
            case let residual as Residual: residual.observer = observer
            case let concat as Concat: concat.observer = observer
            case let block as Block: block.observer = observer
            default: break
            }
        }
    }

    /// Runs `body` with `observer` attached to the whole network, detached after (also when it throws).
    func observing<T>(_ observer: any ForwardObserver, _ body: () throws -> T) rethrows -> T {
        Self.attach(observer, to: network.root)
        defer { Self.attach(nil, to: network.root) }
        return try body()
    }

    // MARK: - Layers page

    /// A convolution's weights as a filter bank (a `GroupConv`'s slices stacked, as the grouped conv it is).
    static func filters(of layer: any Layer) -> FilterBank? {
        guard layer is Conv2d || layer is GroupConv else { return nil }
        let weights = layer.ownState.filter { $0.1.isTrainable && $0.1.shape.count == 4 }.map(\.1)
        guard let first = weights.first else { return nil }
        var values: [Float] = []
        for w in weights { values += w.value.array }
        return FilterBank(layer: layer.displayName,
                          shape: [weights.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst(), weights: values)
    }

    /// `path`'s output for one image ([C, H, W] floats, normalised), the network in inference mode; nil when
    /// no layer has that path or the image is not the input's size.
    func layerView(path: String, image: [Float], testIndex: Int, globalStep: Int) throws -> LayerView? {
        guard let target = layer(at: path), image.count == network.inputShape.reduce(1, *) else { return nil }
        let capture = OutputCapture(target: target, shape: rowShapes[path].map { [1] + $0 })
        let input = Tensor(shape: [1] + network.inputShape, values: image)
        // A BatchNorm fused with its ReLU would show the rectified output: look at it unfused.
        let bn = target as? BatchNorm2d
        _ = try observing(capture) {
            try bn.map { try $0.unfused { try network.forward(input, training: false) } } ?? network.forward(input, training: false)
        }
        guard let (shape, values) = capture.captured else { return nil }
        let perImage = Array(shape.dropFirst())
        let viewShape = perImage.count >= 3 ? perImage : [values.count, 1, 1]
        var minimum = Float.infinity, maximum = -Float.infinity, sum = 0.0
        for v in values { minimum = min(minimum, v); maximum = max(maximum, v); sum += Double(v) }
        let zeros = values.withUnsafeBufferPointer { zeroCount($0.baseAddress!, count: $0.count) }
        let count = max(values.count, 1)
        return LayerView(layer: path, testIndex: testIndex, globalStep: globalStep, shape: viewShape, values: values,
                         minimum: values.isEmpty ? 0 : minimum, maximum: values.isEmpty ? 0 : maximum,
                         mean: Float(sum / Double(count)), zeroFraction: Float(zeros) / Float(count),
                         filters: Self.filters(of: target) ?? firstConvolution.flatMap(Self.filters(of:)))
    }

    // MARK: - Health page

    /// The rectifiers' label: a ReLU layer's path, or a block's with the ReLU after its add or concatenation.
    static func rectifierName(_ layer: any Layer) -> String? {
        switch layer {
        case let activation as Activation where activation.kind == .relu: activation.displayName
        case let residual as Residual where residual.activation?.kind == .relu: residual.displayName + " (relu after add)"
        case let concat as Concat where concat.activation?.kind == .relu: concat.displayName + " (relu after concat)"
        default: nil
        }
    }
}

/// Copies one layer's output out of a forward pass: its first call whose output has `shape` (any shape when
/// nil), else its first call.
final class OutputCapture: ForwardObserver {
    private let target: ObjectIdentifier
    private let shape: [Int]?
    private(set) var captured: (shape: [Int], values: [Float])?
    private var matched = false

    init(target: any Layer, shape: [Int]? = nil) {
        self.target = ObjectIdentifier(target)
        self.shape = shape
    }

    func layerDidForward(_ layer: any Layer, output: Tensor) {
        guard !matched, ObjectIdentifier(layer) == target else { return }
        matched = shape == nil || output.shape == shape!
        if matched || captured == nil { captured = (output.shape, output.array) }
    }
}

/// Counts the exact zeros of every rectifier's output over one training forward pass, in forward order.
final class RectifierCounter: ForwardObserver {
    private var index: [ObjectIdentifier: Int] = [:]
    private(set) var names: [String] = []
    private var zeros: [Int] = [], totals: [Int] = []
    /// A `Residual` is reported by itself and again by its parent: the same output is counted once.
    private var last: (layer: ObjectIdentifier, output: ObjectIdentifier)?

    func layerDidForward(_ layer: any Layer, output: Tensor) {
        let key = ObjectIdentifier(layer)
        if let last, last.layer == key, last.output == ObjectIdentifier(output) { return }
        last = (key, ObjectIdentifier(output))
        let i: Int
        if let found = index[key] { i = found } else {
            guard let name = NetworkProbe.rectifierName(layer) else { return }
            i = names.count
            index[key] = i
            names.append(name)
            zeros.append(0)
            totals.append(0)
        }
        zeros[i] += zeroCount(output.data, count: output.count)
        totals[i] += output.count
    }

    var fractions: [RectifierHealth] {
        names.indices.map { RectifierHealth(layer: names[$0], zeroFraction: Float(Double(zeros[$0]) / Double(max(totals[$0], 1)))) }
    }
}

/// Notes, in forward order, every layer reported and the first whose output was not finite.
final class FiniteCheck: ForwardObserver {
    private(set) var order: [any Layer] = []
    private var seen: Set<ObjectIdentifier> = []
    private(set) var firstNonFinite: (layer: any Layer, what: String)?

    func layerDidForward(_ layer: any Layer, output: Tensor) {
        if seen.insert(ObjectIdentifier(layer)).inserted { order.append(layer) }
        if firstNonFinite == nil, let what = nonFiniteKind(output.data, count: output.count) {
            firstNonFinite = (layer, what)
        }
    }
}

/// "NaN" or "infinity" when the values hold one (NaN first), else nil.
func nonFiniteKind(_ x: UnsafePointer<Float>, count n: Int) -> String? {
    if allFinite(x, count: n) { return nil }
    for i in 0..<n where x[i].isNaN { return "NaN" }
    return "infinity"
}
