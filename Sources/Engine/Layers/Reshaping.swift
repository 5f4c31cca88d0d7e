/// Layers that move data without arithmetic: flatten, zero padding, channel shuffle, identity.

/// [N, C, H, W] -> [N, C*H*W], as `nn.Flatten` / `x.view(N, -1)`.
public final class Flatten: Layer {
    public var name = ""
    public var typeName: String { "Flatten" }
    private let output = Tensor(shape: [0])
    private var inputShape: [Int] = []
    public init() {}

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count >= 2 else {
            throw EngineError.shapeMismatch(layer: displayName, expected: "[N, ...]", got: input)
        }
        return [input[0], input.dropFirst().reduce(1, *)]
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        inputShape = input.shape
        output.resize(to: try outputShape(for: input.shape))
        output.data.update(from: input.data, count: input.count)
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        let gradInput = GradientPool.forCurrentThread().take(inputShape)
        gradInput.data.update(from: gradOutput.data, count: gradOutput.count)
        return gradInput
    }
}

/// Passes its input through; stands for `nn.Identity` in summaries and empty shortcuts.
public final class Identity: Layer {
    public var name = ""
    public var typeName: String { "Identity" }
    public init() {}
    public func outputShape(for input: [Int]) throws -> [Int] { input }
    public func forward(_ input: Tensor, training: Bool) throws -> Tensor { input }
    public func backward(_ gradOutput: Tensor) -> Tensor { gradOutput }
}

/// Zero padding on every side, as `nn.ZeroPad2d(p)`: the input adapter that lets 28x28 digits into
/// networks built for 32x32. Shapes: [N, C, H, W] -> [N, C, H + 2p, W + 2p].
public final class ZeroPad2d: Layer {
    public var name = ""
    public var typeName: String { "ZeroPad2d" }
    public let padding: Int
    public init(_ padding: Int) { self.padding = padding }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        return [input[0], input[1], input[2] + 2 * padding, input[3] + 2 * padding]
    }

    private let output = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        output.resize(to: try outputShape(for: input.shape))
        inputShape = input.shape
        zeroPadForward(planes: input.shape[0] * input.shape[1], h: input.shape[2], w: input.shape[3], pad: padding,
                       input: input.data, output: output.data)
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        expectGradient(gradOutput, like: output)
        let gradInput = GradientPool.forCurrentThread().take(inputShape)
        zeroPadBackward(planes: inputShape[0] * inputShape[1], h: inputShape[2], w: inputShape[3], pad: padding,
                        gradOutput: gradOutput.data, gradInput: gradInput.data)
        return gradInput
    }
}

/// Channel shuffle over [N, C, H, W] with g groups. The seeds write it two ways:
/// `.groupsFirst` (ShuffleNetV2 seed 000, torchvision): view(N, g, C/g, H, W).transpose(1, 2);
/// `.channelsFirst` (ShuffleNetV1 seed 002): reshape(N, C/g, g, H, W).transpose(1, 2).
public final class ChannelShuffle: Layer {
    public enum Order: Sendable { case groupsFirst, channelsFirst }
    public var name = ""
    public var typeName: String { "ChannelShuffle" }
    public let groups: Int
    public let order: Order

    public init(groups: Int, order: Order) {
        self.groups = groups
        self.order = order
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try expect(input, [nil, nil, nil, nil], "[N, C, H, W]")
        guard input[1] % groups == 0 else {
            throw EngineError.shapeMismatch(layer: displayName,
                                            expected: "[N, C, H, W] with C divisible by \(groups)", got: input)
        }
        return input
    }

    private let output = Tensor(shape: [0])

    /// The kernel's group count: `.channelsFirst` with g groups is `.groupsFirst` with C/g groups.
    func kernelGroups(channels: Int) -> Int { order == .groupsFirst ? groups : channels / groups }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        output.resize(to: try outputShape(for: input.shape))
        let (N, C, S) = (input.shape[0], input.shape[1], input.shape[2] * input.shape[3])
        channelShuffleForward(y: output.data, x: input.data, N: N, C: C, S: S, groups: kernelGroups(channels: C))
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        let gradInput = GradientPool.forCurrentThread().take(gradOutput.shape)
        let (N, C, S) = (gradOutput.shape[0], gradOutput.shape[1], gradOutput.shape[2] * gradOutput.shape[3])
        channelShuffleBackward(dx: gradInput.data, dy: gradOutput.data, N: N, C: C, S: S, groups: kernelGroups(channels: C))
        return gradInput
    }
}
