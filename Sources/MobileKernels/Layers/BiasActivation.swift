internal import CKernels

/// Adds a per-channel bias (optional) and applies an activation over an NHWC tensor:
/// y[n, h, w, c] = activation(x[n, h, w, c] + bias[c]).
public final class BiasActivation: Layer, @unchecked Sendable {
    public let channels: Int
    public let activation: Activation
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer

    /// - Parameters:
    ///   - channels: the channel count of the tensors this layer takes (>= 1).
    ///   - bias: `channels` values, or nil for no bias.
    ///   - activation: the activation to apply.
    ///   - variant: the kernel variant; `.auto` picks the best this CPU has.
    /// - Throws: `.invalidArgument` for channels < 1, a bias of the wrong length or bad clamp
    ///   bounds; `.unsupported` for a variant this CPU (or this layer) lacks.
    public init(channels: Int, bias: [Float]? = nil, activation: Activation, variant: Variant = .auto) throws {
        let name = "BiasActivation(channels: \(channels), \(activation), \(variant))"
        guard channels >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels must be at least 1")
        }
        if let bias, bias.count != channels {
            throw MobileKernelsError(.invalidArgument, "\(name): bias has \(bias.count) values, expected \(channels)")
        }
        var handle: OpaquePointer?
        let status = bias.withOptionalUnsafeBufferPointer { b in
            mk_bias_activation_f32_create(channels, b, activation.cValue, variant.cValue, &handle)
        }
        try check(status, name)
        op = handle!
        self.channels = channels
        self.activation = activation
        self.variant = Variant(mk_bias_activation_f32_variant(op))
        self.name = name
    }

    deinit { mk_bias_activation_f32_destroy(op) }


    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return input
    }

    /// In place when `output` is `input` (the same view). Without a bias this is the activation
    /// alone: an inference plan copies a concatenation's unfused inputs into their slices with it.
    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        var plan = mk_bias_activation_f32_plan()
        let status = then(mk_bias_activation_f32_reshape(op, input.shape.pixels, input.pixelStride, output.pixelStride,
                                                         threadPool.handle, &plan)) {
            mk_bias_activation_f32_run(op, &plan, input.pointer, output.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(input) into \(output)")
    }

    /// Applies the layer to `tensor` in place.
    public func apply(inPlace tensor: inout Tensor, threadPool: ThreadPool = .shared) throws {
        _ = try outputShape(for: tensor.shape)
        try tensor.withMutableView { try forward($0, into: $0, threadPool: threadPool) }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with the array's base address, or nil.
    func withOptionalUnsafeBufferPointer<R>(_ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        switch self {
        case .none: try body(nil)
        case let .some(array): try array.withUnsafeBufferPointer { try body($0.baseAddress) }
        }
    }
}
