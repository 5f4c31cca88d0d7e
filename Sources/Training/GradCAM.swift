import Engine
import Foundation

/// Grad-CAM (Selvaraju et al. 2017, as pytorch-grad-cam computes it): where in the image a class's score
/// came from, seen at one layer. Forward one image in eval mode, back-propagate the class's logit (before
/// softmax) to the layer's output activations A [C, h, w], weight each channel by the spatial mean of its
/// gradient, cam = ReLU(sum_c w_c A_c), resize to the input (bilinear, PyTorch's align_corners=False), and
/// min-max normalise as pytorch-grad-cam does: (cam - min) / (max - min + 1e-7), so an all-zero map stays 0.

/// A layer Grad-CAM can look at: the last layer of the network's main path at one map size (a "stage").
public struct CAMLayer: Sendable, Equatable, Codable {
    /// State-dict path ("layer2", "features.6"); two root children may share one ("relu" in ShuffleNetV2).
    public var path: String
    public var type: String
    /// [C, H, W] per image.
    public var shape: [Int]
    public init(path: String, type: String, shape: [Int]) { self.path = path; self.type = type; self.shape = shape }

    /// "layer2 (Sequential, 16x16x16)".
    public var label: String { "\(path) (\(type), \(shape.map(String.init).joined(separator: "x")))" }
}

/// One Grad-CAM map: for `classIndex` at `layer`, raw and as the picture shows it.
public struct CAMMap: Sendable, Equatable {
    public var layer: CAMLayer
    public var classIndex: Int
    /// ReLU(sum_c w_c A_c) at the layer's size, [h, w] row-major, before resizing.
    public var cam: [Float]
    /// The cam resized to the input's [H, W] and normalised to [0, 1].
    public var map: [Float]
    public var height: Int, width: Int
    public init(layer: CAMLayer, classIndex: Int, cam: [Float], map: [Float], height: Int, width: Int) {
        self.layer = layer; self.classIndex = classIndex; self.cam = cam; self.map = map
        self.height = height; self.width = width
    }
}

/// Grad-CAM over one network, which it uses for nothing else: runs it forward and backward with observers
/// attached (only during a call) and zeroes its parameter gradients after each map, so nothing accumulates.
/// Everything here runs on the calling thread, which must be the only one using the network.
final class GradCAM {
    let network: Network
    /// The stages in forward order: for each run of equal map sizes along the main path, its last layer.
    let layers: [CAMLayer]
    private let targets: [any Layer]

    init(network: Network) {
        self.network = network
        let stages = Self.stages(of: network)
        layers = stages.map(\.info)
        targets = stages.map(\.layer)
    }

    /// The layer shown first: the last stage whose maps are at least 4x4 (coarser maps say little about
    /// where), else the first stage.
    var defaultLayer: Int {
        layers.lastIndex { $0.shape[1] >= 4 && $0.shape[2] >= 4 } ?? 0
    }

    /// The main path: the children of the root `Sequential` and, recursively, of every `Sequential` among them
    /// (each after its own children, so a container and its last child share a place and the container wins).
    /// Blocks, residuals and concatenations are single places: inside them the path branches. A stage is the
    /// last place of each run of equal [H, W] with more than one pixel. A layer object met twice in the network
    /// is left out (its reports could not be told apart).
    static func stages(of network: Network) -> [(info: CAMLayer, layer: any Layer)] {
        var uses: [ObjectIdentifier: Int] = [:]
        forEachLayer(in: network.root) { uses[ObjectIdentifier($0), default: 0] += 1 }
        var path: [(info: CAMLayer, layer: any Layer)] = []
        func walk(_ sequential: Sequential, input: [Int]) throws -> [Int] {
            var x = input
            for (_, child) in sequential.layers {
                x = try (child as? Sequential).map { try walk($0, input: x) } ?? child.outputShape(for: x)
                guard x.count == 4, uses[ObjectIdentifier(child)] == 1 else { continue }
                path.append((CAMLayer(path: child.displayName, type: child.typeName, shape: Array(x.dropFirst())), child))
            }
            return x
        }
        guard (try? walk(network.root, input: [1] + network.inputShape)) != nil else { return [] }
        var stages: [(info: CAMLayer, layer: any Layer)] = []
        for (i, place) in path.enumerated() where place.info.shape[1] * place.info.shape[2] > 1 {
            let next = i + 1 < path.count ? path[i + 1].info.shape.dropFirst() : []
            if next != place.info.shape.dropFirst() { stages.append(place) }
        }
        return stages
    }

    /// The map of `classIndex` at stage `layer` for one image ([C, H, W] floats, normalised as the network
    /// sees them). Throws for a stage or class out of range or an image of the wrong size.
    func map(image: [Float], layer: Int, classIndex: Int) throws -> CAMMap {
        guard layers.indices.contains(layer) else {
            throw TrainingError.setup(message: "Grad-CAM: no stage \(layer) (the network has \(layers.count))")
        }
        guard classIndex >= 0, classIndex < network.classes else {
            throw TrainingError.setup(message: "Grad-CAM: no class \(classIndex) (the network has \(network.classes))")
        }
        guard image.count == network.inputShape.reduce(1, *) else {
            throw TrainingError.setup(message: "Grad-CAM: image of \(image.count) values, the network takes \(shapeString(network.inputShape))")
        }
        let capture = ActivationAndGradient(target: targets[layer])
        let input = Tensor(shape: [1] + network.inputShape, values: image)
        attach(capture)
        defer { attach(nil); network.zeroGradients() }
        let logits = try network.forward(input, training: false)
        // dScore/dlogits for score = logits[classIndex]: one-hot.
        let gradLogits = Tensor(shape: logits.shape)
        gradLogits.data[classIndex] = 1
        network.backward(gradLogits)
        guard let activation = capture.activation, let gradient = capture.gradient else {
            throw TrainingError.setup(message: "Grad-CAM: \(layers[layer].path) was not reached by the forward and backward pass")
        }
        let (C, h, w) = (layers[layer].shape[0], layers[layer].shape[1], layers[layer].shape[2])
        let (H, W) = (network.inputShape[1], network.inputShape[2])
        var cam = [Float](repeating: 0, count: h * w)
        gradCAMCombine(cam: &cam, activation: activation, gradient: gradient, C: C, S: h * w)
        // A network built for larger images pads them first (the zoo's ZeroPad2d adapter), so its maps cover the
        // padded frame: resize to that frame and cut the image's own pixels out, or the map would sit shifted.
        let pad = (network.root.layers.first?.1 as? ZeroPad2d)?.padding ?? 0
        let (frameH, frameW) = (H + 2 * pad, W + 2 * pad)
        var frame = [Float](repeating: 0, count: frameH * frameW)
        bilinearResize(dst: &frame, src: cam, inH: h, inW: w, outH: frameH, outW: frameW)
        var map = [Float](repeating: 0, count: H * W)
        for y in 0..<H {
            for x in 0..<W { map[y * W + x] = frame[(y + pad) * frameW + x + pad] }
        }
        minMaxNormalise(&map)
        return CAMMap(layer: layers[layer], classIndex: classIndex, cam: cam, map: map, height: H, width: W)
    }

    private func attach(_ capture: ActivationAndGradient?) {
        forEachLayer(in: network.root) { layer in
            guard let sequential = layer as? Sequential else { return }
            sequential.observer = capture
            sequential.backwardObserver = capture
        }
    }
}

/// Copies one layer's output in the forward pass and the gradient of that output in the backward pass.
private final class ActivationAndGradient: ForwardObserver, BackwardObserver {
    private let target: ObjectIdentifier
    private(set) var activation: [Float]?
    private(set) var gradient: [Float]?

    init(target: any Layer) { self.target = ObjectIdentifier(target) }

    func layerDidForward(_ layer: any Layer, output: Tensor) {
        if ObjectIdentifier(layer) == target { activation = output.array }
    }

    func layerWillBackward(_ layer: any Layer, gradOutput: Tensor) {
        if ObjectIdentifier(layer) == target { gradient = gradOutput.array }
    }
}

// MARK: - Kernels

/// cam[s] = max(0, sum_c w[c] * A[c, s]) with w[c] = mean over s of dA[c, s].
/// activation, gradient: [C, S] (one image, S = h*w); cam: [S].
func gradCAMCombine(cam: inout [Float], activation: [Float], gradient: [Float], C: Int, S: Int) {
    var sums = [Double](repeating: 0, count: S)
    for c in 0..<C {
        var gradientSum = 0.0
        for s in 0..<S { gradientSum += Double(gradient[c * S + s]) }
        let weight = gradientSum / Double(S)
        for s in 0..<S { sums[s] += weight * Double(activation[c * S + s]) }
    }
    for s in 0..<S { cam[s] = Float(max(0, sums[s])) }
}

/// Bilinear resize of one plane as PyTorch's `interpolate(mode="bilinear", align_corners=False)`: output pixel
/// centres map to source coordinates (o + 0.5) * in/out - 0.5, clamped at 0, and the last row and column repeat.
/// src: [inH, inW]; dst: [outH, outW].
func bilinearResize(dst: inout [Float], src: [Float], inH: Int, inW: Int, outH: Int, outW: Int) {
    let scaleH = Float(inH) / Float(outH), scaleW = Float(inW) / Float(outW)
    func source(_ o: Int, scale: Float, size: Int) -> (i0: Int, i1: Int, lambda: Float) {
        let real = max(scale * (Float(o) + 0.5) - 0.5, 0)
        let i0 = Int(real)
        return (i0, i0 < size - 1 ? i0 + 1 : i0, real - Float(i0))
    }
    for oy in 0..<outH {
        let (y0, y1, ly) = source(oy, scale: scaleH, size: inH)
        for ox in 0..<outW {
            let (x0, x1, lx) = source(ox, scale: scaleW, size: inW)
            let top = (1 - lx) * src[y0 * inW + x0] + lx * src[y0 * inW + x1]
            let bottom = (1 - lx) * src[y1 * inW + x0] + lx * src[y1 * inW + x1]
            dst[oy * outW + ox] = (1 - ly) * top + ly * bottom
        }
    }
}

/// (x - min) / (max - min + 1e-7), pytorch-grad-cam's `scale_cam_image`: [0, 1), and 0 for a flat map.
func minMaxNormalise(_ x: inout [Float]) {
    guard let lo = x.min(), let hi = x.max() else { return }
    let range = hi - lo + 1e-7
    for i in x.indices { x[i] = (x[i] - lo) / range }
}
