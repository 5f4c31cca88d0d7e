/// Inside the network: what the engine tells about its layers besides the training figures. The layers page
/// shows `LayerView`s (one layer's output for one test image, and convolution filters), the health page
/// `HealthRecord`s (per-layer norms and update ratios, ReLU zero fractions), and an `Anomaly` names the first
/// layer where a NaN or an infinity appeared. Values only, like every event.

/// One row of the network's layer tree, in forward order, as the layer summary lists it.
public struct LayerInfo: Sendable, Equatable, Codable {
    /// The layer's place in the tree in state-dict style ("features.0", "layer1.0.conv1"): what commands name.
    public var path: String
    public var type: String
    /// Nesting depth (0 for the network's direct children), for indenting the tree.
    public var depth: Int
    /// Per image: [C, H, W] for maps, [N] for vectors.
    public var outputShape: [Int]
    public var parameterCount: Int
    public init(path: String, type: String, depth: Int, outputShape: [Int], parameterCount: Int) {
        self.path = path; self.type = type; self.depth = depth; self.outputShape = outputShape
        self.parameterCount = parameterCount
    }
    enum CodingKeys: String, CodingKey {
        case path, type, depth
        case outputShape = "output_shape", parameterCount = "parameter_count"
    }
}

/// What the layers page asks the engine to look at: one layer's output for one test image.
public struct LayerWatch: Sendable, Equatable {
    public var layer: String
    /// Index into the test set (the preview images and the misclassified ones carry theirs).
    public var testIndex: Int
    public init(layer: String, testIndex: Int) { self.layer = layer; self.testIndex = testIndex }
}

/// A convolution's weights, [out, in/groups, kh, kw], as the filters view draws them.
public struct FilterBank: Sendable, Equatable {
    public var layer: String
    public var shape: [Int]
    public var weights: [Float]
    public init(layer: String, shape: [Int], weights: [Float]) { self.layer = layer; self.shape = shape; self.weights = weights }
}

/// One layer's output for one test image, taken at a batch boundary with the network in inference mode
/// (BatchNorm on its running statistics, no dropout), so looking changes no number of the training.
public struct LayerView: Sendable, Equatable {
    public var layer: String
    public var testIndex: Int
    public var globalStep: Int
    /// [C, H, W]; a vector output is [N, 1, 1].
    public var shape: [Int]
    /// C*H*W values, channel-major.
    public var values: [Float]
    public var minimum: Float, maximum: Float, mean: Float
    /// Fraction of the values that are exactly zero (dead or rectified units).
    public var zeroFraction: Float
    /// The watched layer's weights when it is a convolution, else the network's first convolution's.
    public var filters: FilterBank?
    public init(layer: String, testIndex: Int, globalStep: Int, shape: [Int], values: [Float], minimum: Float,
                maximum: Float, mean: Float, zeroFraction: Float, filters: FilterBank?) {
        self.layer = layer; self.testIndex = testIndex; self.globalStep = globalStep; self.shape = shape
        self.values = values; self.minimum = minimum; self.maximum = maximum; self.mean = mean
        self.zeroFraction = zeroFraction; self.filters = filters
    }
}

/// One layer with parameters at one step.
public struct LayerHealth: Sendable, Equatable, Codable {
    public var layer: String
    /// L2 norms over all of the layer's trainable parameters (weight and bias together).
    public var weightNorm: Float
    public var gradientNorm: Float
    /// ||w after the step - w before|| / ||w before||: about 1e-3 is the usual sign of a healthy learning rate.
    public var updateRatio: Float
    public init(layer: String, weightNorm: Float, gradientNorm: Float, updateRatio: Float) {
        self.layer = layer; self.weightNorm = weightNorm; self.gradientNorm = gradientNorm; self.updateRatio = updateRatio
    }
    enum CodingKeys: String, CodingKey {
        case layer
        case weightNorm = "weight_norm", gradientNorm = "gradient_norm", updateRatio = "update_ratio"
    }
}

/// The fraction of a rectifier's outputs that were exactly zero over one training batch.
public struct RectifierHealth: Sendable, Equatable, Codable {
    public var layer: String
    public var zeroFraction: Float
    public init(layer: String, zeroFraction: Float) { self.layer = layer; self.zeroFraction = zeroFraction }
    enum CodingKeys: String, CodingKey {
        case layer
        case zeroFraction = "zero_fraction"
    }
}

/// Every layer's health at one step; the same record is a line of the session's `health.jsonl`.
public struct HealthRecord: Sendable, Equatable, Codable {
    public var epoch: Int
    public var globalStep: Int
    public var layers: [LayerHealth]
    public var rectifiers: [RectifierHealth]
    public init(epoch: Int, globalStep: Int, layers: [LayerHealth], rectifiers: [RectifierHealth]) {
        self.epoch = epoch; self.globalStep = globalStep; self.layers = layers; self.rectifiers = rectifiers
    }
    enum CodingKeys: String, CodingKey {
        case epoch, layers, rectifiers
        case globalStep = "global_step"
    }
}

/// A NaN or an infinity in the loss or a gradient, caught before the optimizer used it.
public struct Anomaly: Sendable, Equatable, Codable {
    public var epoch: Int
    public var globalStep: Int
    /// The first layer in forward order whose output or gradient was not finite ("loss" for the loss itself).
    public var layer: String
    /// What was found, e.g. "gradient of layer1.0.conv1.weight has NaN".
    public var message: String
    public init(epoch: Int, globalStep: Int, layer: String, message: String) {
        self.epoch = epoch; self.globalStep = globalStep; self.layer = layer; self.message = message
    }
    enum CodingKeys: String, CodingKey {
        case epoch, layer, message
        case globalStep = "global_step"
    }
}
