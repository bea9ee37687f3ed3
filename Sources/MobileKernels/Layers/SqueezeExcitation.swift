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
    /// The bytes the layer holds for its weights (each FC transposed, and as given with `backward`) and biases.
    public var weightBytes: Int { mk_squeeze_excitation_f32_weight_bytes(op) }
    /// Whether the layer keeps what `backward` needs (`init(..., backward:)`).
    public let hasBackward: Bool
    private let scratch = Scratch()

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

    /// - Parameter backward: keep the weights in the backward's layout too (`false`: inference
    ///   only, half the weight memory; `backward(...)` then throws `.unsupported`).
    public init(channels: Int, squeezeChannels: Int, fc1Weight: [Float], fc1Bias: [Float]?, fc2Weight: [Float],
                fc2Bias: [Float]?, variant: Variant = .auto, backward: Bool = true) throws {
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
                backward
                    ? mk_squeeze_excitation_f32_create(channels, squeezeChannels, fc1Weight, b1, fc2Weight, b2,
                                                       variant.cValue, &handle)
                    : mk_squeeze_excitation_f32_create_inference(channels, squeezeChannels, fc1Weight, b1, fc2Weight, b2,
                                                                 variant.cValue, &handle)
            }
        }
        try check(status, name)
        op = handle!
        self.hasBackward = backward
        self.channels = channels
        self.squeezeChannels = squeezeChannels
        self.variant = Variant(mk_squeeze_excitation_f32_variant(op))
        self.name = name
    }

    deinit { mk_squeeze_excitation_f32_destroy(op) }

    /// Replaces both layers' weights and biases (the layouts of `init`; nil biases: zeros)
    /// without allocating: a training step's update. Not while this layer runs.
    /// - Throws: `.shapeMismatch` for counts other than the layer's.
    public func setWeights(fc1Weight: UnsafeBufferPointer<Float>, fc1Bias: UnsafeBufferPointer<Float>?,
                           fc2Weight: UnsafeBufferPointer<Float>, fc2Bias: UnsafeBufferPointer<Float>?) throws {
        let weights = channels * squeezeChannels
        guard fc1Weight.count == weights, fc2Weight.count == weights, (fc1Bias?.count ?? squeezeChannels) == squeezeChannels,
              (fc2Bias?.count ?? channels) == channels, let w1 = fc1Weight.baseAddress, let w2 = fc2Weight.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "\(name): setWeights needs fc weights of \(weights) values and biases of \(squeezeChannels) and \(channels)")
        }
        try check(mk_squeeze_excitation_f32_set_weights(op, w1, fc1Bias?.baseAddress, w2, fc2Bias?.baseAddress), name)
    }


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

    // MARK: - Training

    /// The floats `trainingForward` keeps for `backward` over `batch` images: per image the
    /// pooled means, fc1's output before its ReLU and fc2's before its hardsigmoid.
    public func savedCount(batch: Int) -> Int { batch * (2 * channels + squeezeChannels) }

    private func plan(_ input: TensorView, _ outputPixelStride: Int, _ threadPool: ThreadPool) -> (mk_status, mk_squeeze_excitation_f32_plan) {
        var plan = mk_squeeze_excitation_f32_plan()
        let s = input.shape
        let status = mk_squeeze_excitation_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, outputPixelStride, threadPool.handle, &plan)
        return (status, plan)
    }

    /// `forward` (the same output) that also keeps in `saved` (`savedCount(batch:)` floats)
    /// what `backward` needs.
    public func trainingForward(_ input: TensorView, into output: TensorView, saved: UnsafeMutableBufferPointer<Float>,
                                threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        guard saved.count >= savedCount(batch: input.shape.n), let keep = saved.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "\(name): saved holds \(saved.count) floats, needs \(savedCount(batch: input.shape.n))")
        }
        var (status, plan) = plan(input, output.pixelStride, threadPool)
        status = then(status) { mk_squeeze_excitation_f32_run_train(op, &plan, input.pointer, output.pointer, keep, threadPool.handle) }
        try check(status, "\(name) on \(input) into \(output)")
    }

    /// The gradients of a `trainingForward` on `input` (which kept `saved`), given the output's
    /// gradient: the input's (`inputGradient` may be `outputGradient` itself) and the
    /// parameters' in PyTorch's layouts (fc1 weight `[squeeze, channels]`, fc2 weight
    /// `[channels, squeeze]`), written, not added. Sums over images run in image order: the same
    /// bits for any thread count. The weights are the layer's.
    public func backward(input: TensorView, saved: UnsafeBufferPointer<Float>, outputGradient: TensorView, inputGradient: TensorView,
                         fc1WeightGradient: UnsafeMutableBufferPointer<Float>, fc1BiasGradient: UnsafeMutableBufferPointer<Float>?,
                         fc2WeightGradient: UnsafeMutableBufferPointer<Float>, fc2BiasGradient: UnsafeMutableBufferPointer<Float>?,
                         threadPool: ThreadPool = .shared) throws {
        guard hasBackward else {
            throw MobileKernelsError(.unsupported, "\(name): made with backward: false (inference only), it has no backward")
        }
        try checkOutput(outputGradient.shape, for: input.shape)
        try checkOutput(inputGradient.shape, for: input.shape)
        guard outputGradient.pixelStride == inputGradient.pixelStride else {
            throw MobileKernelsError(.invalidArgument, "\(name): the input and output gradients need the same pixel stride")
        }
        let weights = channels * squeezeChannels
        guard saved.count >= savedCount(batch: input.shape.n), fc1WeightGradient.count == weights, fc2WeightGradient.count == weights,
              (fc1BiasGradient?.count ?? squeezeChannels) == squeezeChannels, (fc2BiasGradient?.count ?? channels) == channels,
              let keep = saved.baseAddress, let dw1 = fc1WeightGradient.baseAddress, let dw2 = fc2WeightGradient.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "\(name): backward needs \(savedCount(batch: input.shape.n)) saved floats (got \(saved.count)), weight gradients of \(weights) and bias gradients of \(squeezeChannels) and \(channels)")
        }
        var (status, plan) = plan(input, outputGradient.pixelStride, threadPool)
        var bytes = 0
        status = then(status) { mk_squeeze_excitation_f32_backward_workspace_bytes(op, input.shape.n, threadPool.handle, &bytes) }
        status = then(status) {
            scratch.with(bytes: bytes) { workspace in
                mk_squeeze_excitation_f32_backward(op, &plan, input.pointer, keep, outputGradient.pointer, inputGradient.pointer, dw1,
                                                   fc1BiasGradient?.baseAddress, dw2, fc2BiasGradient?.baseAddress, workspace, bytes,
                                                   threadPool.handle)
            }
        }
        try check(status, "\(name) backward on \(input), \(outputGradient) into \(inputGradient)")
    }
}
