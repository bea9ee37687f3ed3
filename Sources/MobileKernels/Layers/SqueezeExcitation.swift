internal import CKernels

/// Squeeze-and-excitation over NHWC tensors (torchvision's SqueezeExcitation as MobileNetV3
/// uses it), one fused operator:
///   s = mean of x over each image's pixels                 [n, channels]
///   t = relu(fc1Weight · s + fc1Bias)                      [n, squeezeChannels]
///   g = hardsigmoid(fc2Weight · t + fc2Bias)               [n, channels]
///   y[n, y, x, c] = x[n, y, x, c] * g[n, c]
/// The pooling and the scaling are vectorized over channels and split over the thread pool; the
/// two small fully connected layers run on the calling thread. hardsigmoid multiplies by the
/// float nearest 1/6 (one unit in the last place from PyTorch's division).
public final class SqueezeExcitation: Layer, @unchecked Sendable {
    public let channels: Int
    public let squeezeChannels: Int
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer

    /// The most channels (and squeeze channels) the layer takes: the operator keeps an image's
    /// pooled and hidden vectors on the stack.
    public static let maxChannels = Int(MK_SQUEEZE_EXCITATION_MAX_CHANNELS)

    /// - Parameters:
    ///   - fc1Weight: [squeezeChannels, channels] (PyTorch's `fc1.weight` [S, C, 1, 1]).
    ///   - fc1Bias: [squeezeChannels], or nil (zero).
    ///   - fc2Weight: [channels, squeezeChannels] (`fc2.weight` [C, S, 1, 1]).
    ///   - fc2Bias: [channels], or nil (zero).
    /// - Throws: `.invalidArgument` for sizes below 1 or above `maxChannels`, or weights and
    ///   biases of the wrong length; `.unsupported` for a variant this CPU lacks (or `.blis`).
    /// Whether `variant` runs a squeeze-and-excitation of these sizes on this CPU (the catalogue's
    /// rule, `mk_squeeze_excitation_f32_supports`).
    public static func supports(channels: Int, squeezeChannels: Int, variant: Variant) -> Bool {
        channels >= 1 && squeezeChannels >= 1 &&
            mk_squeeze_excitation_f32_supports(channels, squeezeChannels, variant.cValue) == MK_STATUS_OK
    }

    public init(channels: Int, squeezeChannels: Int, fc1Weight: [Float], fc1Bias: [Float]?, fc2Weight: [Float],
                fc2Bias: [Float]?, variant: Variant = .auto) throws {
        let name = "SqueezeExcitation(channels: \(channels), squeeze: \(squeezeChannels), \(variant))"
        guard channels >= 1, squeezeChannels >= 1, channels <= Self.maxChannels, squeezeChannels <= Self.maxChannels else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels and squeeze channels must be in 1...\(Self.maxChannels)")
        }
        let weights = channels * squeezeChannels
        guard fc1Weight.count == weights else {
            throw MobileKernelsError(.invalidArgument, "\(name): fc1 weight has \(fc1Weight.count) values, expected [\(squeezeChannels), \(channels)] = \(weights)")
        }
        guard fc2Weight.count == weights else {
            throw MobileKernelsError(.invalidArgument, "\(name): fc2 weight has \(fc2Weight.count) values, expected [\(channels), \(squeezeChannels)] = \(weights)")
        }
        if let fc1Bias, fc1Bias.count != squeezeChannels {
            throw MobileKernelsError(.invalidArgument, "\(name): fc1 bias has \(fc1Bias.count) values, expected \(squeezeChannels)")
        }
        if let fc2Bias, fc2Bias.count != channels {
            throw MobileKernelsError(.invalidArgument, "\(name): fc2 bias has \(fc2Bias.count) values, expected \(channels)")
        }
        guard variant != .blis else {
            throw MobileKernelsError(.unsupported, "\(name): variant \(variant) is not available for this layer")
        }
        var handle: OpaquePointer?
        let status = fc1Bias.withOptionalUnsafeBufferPointer { b1 in
            fc2Bias.withOptionalUnsafeBufferPointer { b2 in
                mk_squeeze_excitation_f32_create(channels, squeezeChannels, fc1Weight, b1, fc2Weight, b2, variant.cValue,
                                             &handle)
            }
        }
        try check(status, name)
        op = handle!
        self.channels = channels
        self.squeezeChannels = squeezeChannels
        self.variant = Variant(mk_squeeze_excitation_f32_variant(op))
        self.name = name
    }

    deinit { mk_squeeze_excitation_f32_destroy(op) }


    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return input
    }

    /// Scales in place when `output` is `input` (the same view).
    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        let s = input.shape
        var plan = mk_squeeze_excitation_f32_plan()
        let status = then(mk_squeeze_excitation_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, output.pixelStride,
                                                            threadPool.handle, &plan)) {
            mk_squeeze_excitation_f32_run(op, &plan, input.pointer, output.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(input) into \(output)")
    }

    /// Scales `tensor` in place (no second buffer; a shared tensor is copied first, as any
    /// mutation of a copy-on-write value).
    public func scale(_ tensor: inout Tensor, threadPool: ThreadPool = .shared) throws {
        _ = try outputShape(for: tensor.shape)
        try tensor.withMutableView { try forward($0, into: $0, threadPool: threadPool) }
    }
}
