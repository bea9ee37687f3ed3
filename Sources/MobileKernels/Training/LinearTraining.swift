internal import CKernels

/// A Linear layer's forward and input gradient in a training step, on its weights where the
/// optimizer keeps them (PyTorch's `[out, in]`), with no packed copy to rebuild after every
/// update (AlexNet's and VGG16's classifiers hold 55 and 120 million weights: two packed copies
/// each, rewritten every step, were an eighth of AlexNet's step and twice the weights' memory).
///
/// - Forward, transposed: `y^T = W x^T` is a 1x1 convolution over W's `out` rows with the
///   batch's inputs as its `batch` x `in` weights (packed each step: `batch * in` floats, not
///   `out * in`), then laid out as `[batch, out]` with the bias and the activation
///   (`mk_transpose_f32`). Each output is the same chain of multiply-adds in the same K blocks
///   as `Conv2D`'s, so the same bits as the inference forward (one exception: a bias of exactly
///   -0.0 on an output whose sum is -0.0 gives +0.0, the transposed product having added its
///   zero bias first).
/// - Input gradient: `dx = dy W` as the weight-gradient GEMM over the `out` dimension
///   (`mk_weight_gradient_f32` with a = `dy^T`, b = W): W is read in place, one chain per element
///   in `out` order, the same bits for any thread count.
final class LinearTraining: @unchecked Sendable {
    let inFeatures: Int, outFeatures: Int, batch: Int
    /// Applied with the bias on the way out: `.none`, or an activation whose gradient the output
    /// determines (the plan's fused ones).
    let activation: Activation
    let variant: Variant
    /// `x^T` packed as a convolution's weights: `batch` outputs of `inFeatures` channels.
    private let product: Conv2D
    /// `out x batch`: the transposed output, then (backward) `dy^T`.
    private let transposed: UnsafeMutableBufferPointer<Float>
    private let workspace = Scratch()
    private var name: String { "LinearTraining(\(inFeatures) -> \(outFeatures), batch \(batch))" }

    /// Whether the layers of `variant` compute a Linear layer this way: our GEMM kernels
    /// (`.blis` keeps packed copies, `TrainingPlan` falls back to them).
    static func supports(_ variant: Variant) -> Bool { variant != .blis }

    init(inFeatures: Int, outFeatures: Int, batch: Int, activation: Activation, variant: Variant) throws {
        guard inFeatures >= 1, outFeatures >= 1, batch >= 1 else {
            throw MobileKernelsError(.invalidArgument, "LinearTraining: sizes must be positive")
        }
        (self.inFeatures, self.outFeatures, self.batch, self.activation, self.variant) =
            (inFeatures, outFeatures, batch, activation, variant)
        let name = "LinearTraining(\(inFeatures) -> \(outFeatures), batch \(batch))"
        let product = try Conv2D(inChannels: inFeatures, outChannels: batch, kernelH: 1, kernelW: 1,
                                 weights: [Float](repeating: 0, count: inFeatures * batch), variant: variant)
        // Our igemm driver, direct (what gives the inference layer's chains; BLIS's GEMM does not).
        guard product.variant != .blis, product.algorithm == .direct else {
            throw MobileKernelsError(.unsupported, "\(name): the \(product.variant) variant does not run the transposed product")
        }
        self.product = product
        let (count, overflow) = outFeatures.multipliedReportingOverflow(by: batch)
        guard !overflow else { throw MobileKernelsError(.sizeOverflow, "\(name): too large") }
        transposed = .allocate(capacity: count)
        transposed.initialize(repeating: 0)
    }

    deinit { transposed.deallocate() }

    private func checkView(_ v: TensorView, _ channels: Int, _ what: String) throws {
        guard v.shape.pixels == batch, v.shape.c == channels, v.isDense else {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(what) \(v), expected \(batch) dense rows of \(channels)")
        }
    }

    private func checkWeights(_ weights: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?) throws {
        guard weights.count == outFeatures * inFeatures, bias.map({ $0.count == outFeatures }) ?? true else {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(weights.count) weights and \(bias?.count ?? 0) biases, expected \(outFeatures * inFeatures) and \(outFeatures)")
        }
    }

    /// `output = act(input W^T + bias)`: input `[batch, in]`, output `[batch, out]` (dense rows),
    /// `weights` `[out, in]`, `bias` `[out]` or nil.
    func forward(_ input: TensorView, weights: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?,
                 into output: TensorView, threadPool: ThreadPool) throws {
        try checkView(input, inFeatures, "input")
        try checkView(output, outFeatures, "output")
        try checkWeights(weights, bias: bias)
        try product.setWeights(UnsafeBufferPointer(start: input.pointer, count: batch * inFeatures), bias: nil)
        try product.forward(batch: outFeatures, h: 1, w: 1, input: weights.baseAddress!, inputStride: inFeatures,
                            output: transposed.baseAddress!, outputStride: batch, threadPool: threadPool)
        try check(mk_transpose_f32(outFeatures, batch, transposed.baseAddress!, batch, bias?.baseAddress, activation.cValue,
                                   output.pointer, outFeatures, threadPool.handle), name)
    }

    /// `inputGradient = outputGradient W`: `[batch, out]` into `[batch, in]` (dense rows).
    func inputGradient(_ outputGradient: TensorView, weights: UnsafeBufferPointer<Float>, into inputGradient: TensorView,
                       threadPool: ThreadPool) throws {
        try checkView(outputGradient, outFeatures, "output gradient")
        try checkView(inputGradient, inFeatures, "input gradient")
        try checkWeights(weights, bias: nil)
        try check(mk_transpose_f32(batch, outFeatures, outputGradient.pointer, outFeatures, nil, Activation.none.cValue,
                                   transposed.baseAddress!, batch, threadPool.handle), name)
        var bytes = 0
        try check(mk_weight_gradient_f32_workspace_bytes(batch, inFeatures, variant.cValue, threadPool.handle, &bytes), name)
        let status = workspace.with(bytes: bytes) { ws in
            mk_weight_gradient_f32(outFeatures, batch, inFeatures, transposed.baseAddress!, batch, weights.baseAddress!,
                                   inFeatures, inputGradient.pointer, inFeatures, nil, false, ws, bytes, variant.cValue,
                                   threadPool.handle)
        }
        try check(status, name)
    }
}
