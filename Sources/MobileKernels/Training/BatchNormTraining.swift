internal import CKernels
import Foundation

/// BatchNorm2d in training mode with the activation after it fused (`mk_training.h`): the
/// forward normalizes with the batch's own statistics (not folded into the convolution), the
/// backward gives the gradients of the input, gamma and beta through the activation:
///
///     forward:  y = act(((x - mean) * invStd) * gamma + beta), invStd = 1 / sqrt(var + eps)
///     backward: g = act'(u) * dy, dbeta = sum g, dgamma = sum g * xhat,
///               dx = gamma * invStd * ((g - dbeta / P) - xhat * dgamma / P)
///
/// over the P = n * h * w pixels of NHWC views. Sums over pixels are deterministic (chunked by
/// shape, combined in float64): the same bits for any thread count.
public final class BatchNormTraining: @unchecked Sendable {
    public let channels: Int
    public let eps: Float
    public let activation: Activation
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer
    private let scratch = Scratch()

    /// The batch's statistics from a forward: what the backward and the running-statistic
    /// update read (`channels` values each; `variance` is the biased one).
    public struct Statistics: Sendable, Equatable {
        public var mean: [Float]
        public var variance: [Float]
        public var invStd: [Float]
        /// The values per channel they were computed over (n * h * w).
        public var count: Int

        public init(mean: [Float], variance: [Float], invStd: [Float], count: Int) {
            self.mean = mean
            self.variance = variance
            self.invStd = invStd
            self.count = count
        }
    }

    /// - Throws: `.invalidArgument` for channels below 1, a negative or non-finite eps or bad
    ///   clamp bounds; `.unsupported` for a variant this CPU lacks (or `.blis`).
    public init(channels: Int, eps: Float = 1e-5, activation: Activation = .none, variant: Variant = .auto) throws {
        name = "BatchNormTraining(channels: \(channels), eps: \(eps), \(activation), \(variant))"
        guard channels >= 1, eps >= 0, eps.isFinite else {
            throw MobileKernelsError(.invalidArgument, "\(name): needs channels >= 1 and a finite eps >= 0")
        }
        guard mk_activation_validate(activation.cValue) == MK_STATUS_OK else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(activation) needs min <= max and no NaN bound")
        }
        var handle: OpaquePointer?
        try check(mk_batchnorm_train_f32_create(channels, eps, activation.cValue, variant.cValue, &handle), name)
        op = handle!
        self.channels = channels
        self.eps = eps
        self.activation = activation
        self.variant = Variant(mk_batchnorm_train_f32_variant(op))
    }

    deinit { mk_batchnorm_train_f32_destroy(op) }

    private func checkShapes(_ x: TensorShape, _ y: TensorShape, what: String) throws {
        guard x.c == channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(x) has \(x.c) channels, expected \(channels)")
        }
        guard x == y else {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(what) \(y) is not the input's shape \(x)")
        }
        guard x.pixels >= 2 else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(x) has one value per channel; training BatchNorm needs at least 2")
        }
    }

    /// Throws unless `count` is the channel count (one call per vector: a list of them would be
    /// an array per call, and these run every training step).
    private func checkCount(_ what: StaticString, _ count: Int) throws {
        guard count == channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(what) has \(count) values, expected \(channels)")
        }
    }

    private func reshape(_ x: TensorView, _ y: TensorView, _ threadPool: ThreadPool) throws -> mk_batchnorm_train_f32_plan {
        var plan = mk_batchnorm_train_f32_plan()
        try check(mk_batchnorm_train_f32_reshape(op, x.shape.pixels, x.pixelStride, y.pixelStride, threadPool.handle, &plan),
                  "\(name) on \(x) into \(y)")
        return plan
    }

    /// Normalizes `x` with its batch statistics into `y` (same shape; `y` may be `x` itself) and
    /// returns the statistics.
    /// - Throws: `.shapeMismatch` for views of another channel count or shape, gamma or beta
    ///   without `channels` values; `.invalidArgument` for one pixel (n * h * w = 1) or a `y`
    ///   that overlaps `x` without being it.
    public func forward(_ x: TensorView, gamma: [Float], beta: [Float], into y: TensorView,
                        threadPool: ThreadPool = .shared) throws -> Statistics {
        let zeros = [Float](repeating: 0, count: channels)
        var statistics = Statistics(mean: zeros, variance: zeros, invStd: zeros, count: 0)
        try gamma.withUnsafeBufferPointer { g in
            try beta.withUnsafeBufferPointer { b in
                try forward(x, gamma: g, beta: b, into: y, statistics: &statistics, threadPool: threadPool)
            }
        }
        return statistics
    }

    /// `forward`, with gamma and beta in the caller's memory, writing the statistics into
    /// `statistics` (its vectors of `channels` values reused: no allocation when nothing else
    /// holds them).
    public func forward(_ x: TensorView, gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>, into y: TensorView,
                        statistics: inout Statistics, threadPool: ThreadPool = .shared) throws {
        try checkShapes(x.shape, y.shape, what: "output")
        try checkCount("gamma", gamma.count)
        try checkCount("beta", beta.count)
        try checkCount("the statistics' mean", statistics.mean.count)
        try checkCount("the statistics' variance", statistics.variance.count)
        try checkCount("the statistics' invStd", statistics.invStd.count)
        var plan = try reshape(x, y, threadPool)
        let status = statistics.mean.withUnsafeMutableBufferPointer { mean in
            statistics.variance.withUnsafeMutableBufferPointer { variance in
                statistics.invStd.withUnsafeMutableBufferPointer { invStd in
                    scratch.with(bytes: plan.workspace_bytes) { workspace in
                        plan.workspace = workspace
                        return mk_batchnorm_train_f32_forward(op, &plan, x.pointer, gamma.baseAddress, beta.baseAddress, y.pointer,
                                                              mean.baseAddress,
                                                              variance.baseAddress, invStd.baseAddress, threadPool.handle)
                    }
                }
            }
        }
        try check(status, "\(name) on \(x) into \(y)")
        statistics.count = x.shape.pixels
    }

    /// The gradients for `dy` (the gradient of the forward's output `y`) given the forward's
    /// input `x` and its statistics: writes dx into `inputGradient` (x's shape; it may be `dy`
    /// itself when both are dense; nil to skip it) and returns dgamma and dbeta.
    /// - Throws: `.shapeMismatch` for mismatched shapes or parameter counts or statistics of
    ///   another batch size; `.invalidArgument` for overlapping views.
    public func backward(input x: TensorView, outputGradient dy: TensorView, gamma: [Float], beta: [Float],
                         statistics: Statistics, inputGradient dx: TensorView?,
                         threadPool: ThreadPool = .shared) throws -> (gamma: [Float], beta: [Float]) {
        var dGamma = [Float](repeating: 0, count: channels), dBeta = dGamma
        try dGamma.withUnsafeMutableBufferPointer { dg in
            try dBeta.withUnsafeMutableBufferPointer { db in
                try gamma.withUnsafeBufferPointer { g in
                    try beta.withUnsafeBufferPointer { b in
                        try backward(input: x, outputGradient: dy, gamma: g, beta: b, statistics: statistics, inputGradient: dx,
                                     gammaGradient: dg, betaGradient: db, threadPool: threadPool)
                    }
                }
            }
        }
        return (dGamma, dBeta)
    }

    /// `backward`, with gamma and beta in the caller's memory, writing dgamma and dbeta
    /// (`channels` floats each) into the caller's buffers.
    public func backward(input x: TensorView, outputGradient dy: TensorView, gamma: UnsafeBufferPointer<Float>,
                         beta: UnsafeBufferPointer<Float>,
                         statistics: Statistics, inputGradient dx: TensorView?, gammaGradient: UnsafeMutableBufferPointer<Float>,
                         betaGradient: UnsafeMutableBufferPointer<Float>, threadPool: ThreadPool = .shared) throws {
        try checkCount("the gamma gradient", gammaGradient.count)
        try checkCount("the beta gradient", betaGradient.count)
        try checkShapes(x.shape, dy.shape, what: "output gradient")
        if let dx { try checkShapes(x.shape, dx.shape, what: "input gradient") }
        try checkCount("gamma", gamma.count)
        try checkCount("beta", beta.count)
        try checkCount("the statistics' mean", statistics.mean.count)
        try checkCount("the statistics' invStd", statistics.invStd.count)
        guard statistics.count == x.shape.pixels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): statistics of \(statistics.count) values per channel for an input \(x.shape)")
        }
        if let dx, dx.pixelStride != x.pixelStride {
            throw MobileKernelsError(.invalidArgument, "\(name): the input gradient \(dx) must have the input's pixel stride \(x.pixelStride)")
        }
        var plan = try reshape(x, dy, threadPool)
        let status = scratch.with(bytes: plan.workspace_bytes) { workspace in
            plan.workspace = workspace
            return mk_batchnorm_train_f32_backward(op, &plan, x.pointer, dy.pointer, gamma.baseAddress, beta.baseAddress, statistics.mean,
                                                   statistics.invStd, dx?.pointer, gammaGradient.baseAddress, betaGradient.baseAddress,
                                                   threadPool.handle)
        }
        try check(status, "\(name) backward on \(x), \(dy)")
    }

    /// PyTorch's running-statistic update from a forward's statistics (unbiased variance;
    /// `momentum` 0.1 by default, 0.01 in MobileNetV3).
    /// - Throws: `.shapeMismatch` for running vectors without `channels` values; `.invalidArgument`
    ///   for a momentum outside [0, 1].
    public func updateRunningStatistics(mean runningMean: inout [Float], variance runningVar: inout [Float],
                                        from statistics: Statistics, momentum: Float = 0.1) throws {
        try checkCount("running_mean", runningMean.count)
        try checkCount("running_var", runningVar.count)
        try checkCount("the statistics' mean", statistics.mean.count)
        try checkCount("the statistics' variance", statistics.variance.count)
        try check(mk_batchnorm_update_running_f32(channels, statistics.mean, statistics.variance, statistics.count, momentum,
                                                  &runningMean, &runningVar),
                  "\(name): running-statistic update with momentum \(momentum) over \(statistics.count) values")
    }
}

/// The gradient of an activation, dx = act'(u) * dy (PyTorch's rules at the kinks), with the
/// bias gradient (the sum of dx over pixels, deterministic as in `BatchNormTraining`): the
/// backward of a convolution or linear layer's bias + activation epilogue.
public final class ActivationBackward: @unchecked Sendable {
    public let channels: Int
    public let activation: Activation
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer
    private let scratch = Scratch()

    public init(channels: Int, activation: Activation, variant: Variant = .auto) throws {
        name = "ActivationBackward(channels: \(channels), \(activation), \(variant))"
        guard channels >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels must be at least 1")
        }
        guard mk_activation_validate(activation.cValue) == MK_STATUS_OK else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(activation) needs min <= max and no NaN bound")
        }
        var handle: OpaquePointer?
        try check(mk_activation_backward_f32_create(channels, activation.cValue, variant.cValue, &handle), name)
        op = handle!
        self.channels = channels
        self.activation = activation
        self.variant = Variant(mk_activation_backward_f32_variant(op))
    }

    deinit { mk_activation_backward_f32_destroy(op) }

    /// Writes dx = act'(u) * dy into `inputGradient` (it may be `dy` itself) and returns the bias
    /// gradient when `biasGradient` is true (else an empty array). `u` is the activation's input;
    /// for `.none`, `.relu` and `.relu6` its output works as well (not for `.clamp`, whose
    /// gradient passes at its bounds, where a clamped output sits).
    /// - Throws: `.shapeMismatch` for views of different shapes or another channel count;
    ///   `.invalidArgument` for overlapping views.
    public func backward(preActivation u: TensorView, outputGradient dy: TensorView, into dx: TensorView,
                         biasGradient: Bool = true, threadPool: ThreadPool = .shared) throws -> [Float] {
        guard u.shape.c == channels, u.shape == dy.shape, u.shape == dx.shape else {
            throw MobileKernelsError(.shapeMismatch, "\(name): u \(u.shape), dy \(dy.shape) and dx \(dx.shape) must be one shape of \(channels) channels")
        }
        var plan = mk_activation_backward_f32_plan()
        try check(mk_activation_backward_f32_reshape(op, u.shape.pixels, u.pixelStride, dy.pixelStride, dx.pixelStride,
                                                     threadPool.handle, &plan), "\(name) on \(u)")
        var dBias = [Float](repeating: 0, count: biasGradient ? channels : 0)
        let status = scratch.with(bytes: biasGradient ? plan.workspace_bytes : 0) { workspace in
            plan.workspace = workspace
            return dBias.withUnsafeMutableBufferPointer { bias in
                mk_activation_backward_f32_run(op, &plan, u.pointer, dy.pointer, dx.pointer,
                                               biasGradient ? bias.baseAddress : nil, threadPool.handle)
            }
        }
        try check(status, "\(name) on \(u), \(dy) into \(dx)")
        return dBias
    }
}

/// A layer's reusable workspace (Conv2D's one-shot forwards, the training layers): grown to the
/// largest request and kept; a call that finds it in use by another thread gets memory of its
/// own for the call.
final class Scratch: @unchecked Sendable {
    private let lock = NSLock()
    private var memory: UnsafeMutableRawPointer?
    private var bytes = 0

    deinit { mk_aligned_free(memory) }

    func with(bytes needed: Int, _ body: (UnsafeMutableRawPointer?) -> mk_status) -> mk_status {
        guard needed > 0 else { return body(nil) }
        if lock.try() {
            defer { lock.unlock() }
            if bytes < needed {
                mk_aligned_free(memory)
                memory = mk_aligned_alloc(needed)
                bytes = memory == nil ? 0 : needed
            }
            guard let memory else { return MK_STATUS_OUT_OF_MEMORY }
            return body(memory)
        }
        guard let own = mk_aligned_alloc(needed) else { return MK_STATUS_OUT_OF_MEMORY }
        defer { mk_aligned_free(own) }
        return body(own)
    }
}

/// The backward of a depthwise convolution (`mk_training.h`): the input gradient as a gather
/// (every input pixel sums the taps that read it, so stride 2 costs what stride 1 does) and the
/// weight and bias gradients, vectorized over channels like the forward. Weight-gradient sums
/// are chunked by shape and combined in float64: the same bits for any thread count.
public final class DepthwiseConv2DBackward: @unchecked Sendable {
    public let channels: Int
    public let kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    public let padding: Padding
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer
    private let scratch = Scratch()
    private var hasWeights: Bool

    /// `weights` `[channels, 1, kernelH, kernelW]` (PyTorch's layout), or nil for weight
    /// gradients only (set them with `setWeights` before an input gradient).
    /// - Throws: `.invalidArgument` for a geometry the forward depthwise convolution rejects;
    ///   `.shapeMismatch` for a weight count other than channels * kernelH * kernelW;
    ///   `.unsupported` for a variant this CPU lacks.
    public init(channels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1, padding: Padding = .zero,
                dilationH: Int = 1, dilationW: Int = 1, weights: [Float]?, variant: Variant = .auto) throws {
        name = "DepthwiseConv2DBackward(\(channels), \(kernelH)x\(kernelW), stride \(strideH)x\(strideW), \(padding), \(variant))"
        guard [channels, kernelH, kernelW, strideH, strideW, dilationH, dilationW].allSatisfy({ $0 >= 1 }),
              [padding.top, padding.left, padding.bottom, padding.right].allSatisfy({ $0 >= 0 }) else {
            throw MobileKernelsError(.invalidArgument, "\(name): sizes must be positive and padding non-negative")
        }
        if let weights, weights.count != channels * kernelH * kernelW {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(weights.count) weights, expected \(channels * kernelH * kernelW)")
        }
        var params = mk_dwconv2d_params(channels: channels, kernel_h: kernelH, kernel_w: kernelW, stride_h: strideH,
                                        stride_w: strideW, dilation_h: dilationH, dilation_w: dilationW,
                                        pad_top: padding.top, pad_left: padding.left, pad_bottom: padding.bottom,
                                        pad_right: padding.right, activation: Activation.none.cValue)
        var handle: OpaquePointer?
        try check(mk_dwconv2d_backward_f32_create(&params, weights, variant.cValue, &handle), name)
        op = handle!
        (self.channels, self.kernelH, self.kernelW, self.strideH, self.strideW) = (channels, kernelH, kernelW, strideH, strideW)
        (self.dilationH, self.dilationW, self.padding) = (dilationH, dilationW, padding)
        hasWeights = weights != nil
        self.variant = Variant(mk_dwconv2d_backward_f32_variant(op))
    }

    deinit { mk_dwconv2d_backward_f32_destroy(op) }

    /// Replaces the weights (after an optimizer step).
    public func setWeights(_ weights: [Float]) throws {
        try weights.withUnsafeBufferPointer { try setWeights($0) }
    }

    /// Replaces the weights from the caller's memory, without allocating.
    public func setWeights(_ weights: UnsafeBufferPointer<Float>) throws {
        guard weights.count == channels * kernelH * kernelW, let w = weights.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(weights.count) weights, expected \(channels * kernelH * kernelW)")
        }
        try check(mk_dwconv2d_backward_f32_set_weights(op, w), name)
        hasWeights = true
    }

    /// The plan for the forward input `input` and its output gradient `output`, shapes checked.
    private func plan(input: TensorView, output: TensorView, _ threadPool: ThreadPool) throws -> mk_dwconv2d_backward_f32_plan {
        let s = input.shape
        guard s.c == channels, output.shape.c == channels, output.shape.n == s.n else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(s) and output gradient \(output.shape) need \(channels) channels and one batch")
        }
        var plan = mk_dwconv2d_backward_f32_plan()
        try check(mk_dwconv2d_backward_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, output.pixelStride, threadPool.handle, &plan),
                  "\(name) for an input \(s)")
        guard plan.out_h == output.shape.h, plan.out_w == output.shape.w else {
            throw MobileKernelsError(.shapeMismatch, "\(name): an input \(s) gives outputs of \(plan.out_h)x\(plan.out_w), but the output gradient is \(output.shape)")
        }
        return plan
    }

    /// dx (the forward input's shape) from dy (the forward output's shape); they must not overlap.
    /// - Throws: `.shapeMismatch` for shapes that do not belong together; `.invalidArgument`
    ///   without weights.
    public func inputGradient(_ dy: TensorView, into dx: TensorView, threadPool: ThreadPool = .shared) throws {
        guard hasWeights else { throw MobileKernelsError(.invalidArgument, "\(name): no weights for an input gradient") }
        var plan = try plan(input: dx, output: dy, threadPool)
        try check(mk_dwconv2d_backward_f32_input_gradient(op, &plan, dy.pointer, dx.pointer, threadPool.handle),
                  "\(name) input gradient \(dy) into \(dx)")
    }

    /// The weight gradient `[channels, 1, kernelH, kernelW]` and, when `bias` is true, the bias
    /// gradient (else empty) from the forward's input and the output gradient.
    public func weightGradient(input x: TensorView, outputGradient dy: TensorView, bias: Bool = false,
                               threadPool: ThreadPool = .shared) throws -> (weight: [Float], bias: [Float]) {
        var dWeight = [Float](repeating: 0, count: channels * kernelH * kernelW)
        var dBias = [Float](repeating: 0, count: bias ? channels : 0)
        try dWeight.withUnsafeMutableBufferPointer { w in
            try dBias.withUnsafeMutableBufferPointer { b in
                try weightGradient(input: x, outputGradient: dy, weightGradient: w, biasGradient: bias ? b : nil, threadPool: threadPool)
            }
        }
        return (dWeight, dBias)
    }

    /// `weightGradient`, writing into the caller's buffers (`channels * kernelH * kernelW` and
    /// `channels` floats; no bias gradient without `biasGradient`).
    /// - Throws: `.shapeMismatch` for buffers of another size, and as `weightGradient`.
    public func weightGradient(input x: TensorView, outputGradient dy: TensorView, weightGradient: UnsafeMutableBufferPointer<Float>,
                               biasGradient: UnsafeMutableBufferPointer<Float>?, threadPool: ThreadPool = .shared) throws {
        guard weightGradient.count == channels * kernelH * kernelW, biasGradient.map({ $0.count == channels }) ?? true else {
            throw MobileKernelsError(.shapeMismatch, "\(name): gradient buffers of \(weightGradient.count) and \(biasGradient?.count ?? 0) floats")
        }
        var plan = try plan(input: x, output: dy, threadPool)
        let status = scratch.with(bytes: plan.workspace_bytes) { workspace in
            plan.workspace = workspace
            return mk_dwconv2d_backward_f32_weight_gradient(op, &plan, x.pointer, dy.pointer, weightGradient.baseAddress,
                                                            biasGradient?.baseAddress, threadPool.handle)
        }
        try check(status, "\(name) weight gradient on \(x), \(dy)")
    }
}

/// The backward of max, average and adaptive (global) average pooling (`mk_training.h`): max
/// pooling's training forward keeps the index of each maximum (PyTorch's: y * w + x within the
/// image, the first maximum, a NaN wins); every input gradient is a gather in ascending output
/// order, the reference's sums bit for bit and the same bits for any thread count.
public final class PoolingBackward: @unchecked Sendable {
    public enum Kind: Sendable, Equatable {
        case max(kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padding: Padding)
        case average(kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padding: Padding, countIncludePad: Bool)
        /// PyTorch's AdaptiveAvgPool2d((outputH, outputW)); global average pooling is (1, 1).
        case adaptive(outputH: Int, outputW: Int)
    }

    public let kind: Kind
    public let channels: Int
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer

    /// - Throws: `.invalidArgument` for sizes below 1, padding not below the kernel, or windows
    ///   that overlap more than 32 deep per axis; `.unsupported` for a variant this CPU lacks.
    public init(_ kind: Kind, channels: Int, variant: Variant = .auto) throws {
        let label = "PoolingBackward(\(kind), channels: \(channels), \(variant))"
        name = label
        func params(_ kh: Int, _ kw: Int, _ sh: Int, _ sw: Int, _ p: Padding, _ include: Bool) throws -> mk_pool2d_params {
            guard [kh, kw, sh, sw].allSatisfy({ $0 >= 1 }), [p.top, p.left, p.bottom, p.right].allSatisfy({ $0 >= 0 }) else {
                throw MobileKernelsError(.invalidArgument, "\(label): sizes must be positive and padding non-negative")
            }
            return mk_pool2d_params(kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pad_top: p.top, pad_left: p.left,
                                    pad_bottom: p.bottom, pad_right: p.right, count_include_pad: include,
                                    activation: Activation.none.cValue)
        }
        guard channels >= 1 else { throw MobileKernelsError(.invalidArgument, "\(name): channels must be at least 1") }
        var handle: OpaquePointer?
        switch kind {
        case let .max(kh, kw, sh, sw, p):
            var q = try params(kh, kw, sh, sw, p, false)
            try check(mk_max_pool2d_backward_f32_create(&q, channels, variant.cValue, &handle), name)
        case let .average(kh, kw, sh, sw, p, include):
            var q = try params(kh, kw, sh, sw, p, include)
            try check(mk_avg_pool2d_backward_f32_create(&q, channels, variant.cValue, &handle), name)
        case let .adaptive(oh, ow):
            guard oh >= 1, ow >= 1 else { throw MobileKernelsError(.invalidArgument, "\(name): output size must be positive") }
            try check(mk_adaptive_avg_pool2d_backward_f32_create(channels, oh, ow, variant.cValue, &handle), name)
        }
        op = handle!
        self.kind = kind
        self.channels = channels
        self.variant = Variant(mk_pool2d_backward_f32_variant(op))
    }

    deinit { mk_pool2d_backward_f32_destroy(op) }

    private func plan(input: TensorView, output: TensorView, _ threadPool: ThreadPool) throws -> mk_pool2d_backward_f32_plan {
        let s = input.shape
        guard s.c == channels, output.shape.c == channels, output.shape.n == s.n else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(s) and output \(output.shape) need \(channels) channels and one batch")
        }
        var plan = mk_pool2d_backward_f32_plan()
        try check(mk_pool2d_backward_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, output.pixelStride, threadPool.handle, &plan),
                  "\(name) for an input \(s)")
        guard plan.out_h == output.shape.h, plan.out_w == output.shape.w else {
            throw MobileKernelsError(.shapeMismatch, "\(name): an input \(s) gives outputs of \(plan.out_h)x\(plan.out_w), not \(output.shape)")
        }
        return plan
    }

    /// Max pooling's training forward: y and the index of each maximum (`y.shape.count` values
    /// in `indices`, resized if needed).
    /// - Throws: `.invalidArgument` for an average or adaptive pooling; `.shapeMismatch` for
    ///   shapes that do not belong together.
    public func forwardWithIndices(_ x: TensorView, into y: TensorView, indices: inout [Int32],
                                   threadPool: ThreadPool = .shared) throws {
        guard case .max = kind else { throw MobileKernelsError(.invalidArgument, "\(name): indices exist for max pooling only") }
        var plan = try plan(input: x, output: y, threadPool)
        if indices.count != y.shape.count { indices = [Int32](repeating: 0, count: y.shape.count) }
        try check(mk_max_pool2d_f32_forward_indices(op, &plan, x.pointer, y.pointer, &indices, threadPool.handle),
                  "\(name) forward on \(x) into \(y)")
    }

    /// dx (the forward input's shape) from dy, with the forward's indices for max pooling.
    /// - Throws: `.invalidArgument` without indices for max pooling (or with a count other than
    ///   dy's); `.shapeMismatch` for shapes that do not belong together.
    public func inputGradient(_ dy: TensorView, indices: [Int32]? = nil, into dx: TensorView,
                              threadPool: ThreadPool = .shared) throws {
        var plan = try plan(input: dx, output: dy, threadPool)
        if case .max = kind {
            guard let indices, indices.count == dy.shape.count else {
                throw MobileKernelsError(.invalidArgument, "\(name): max pooling's gradient needs the forward's \(dy.shape.count) indices")
            }
            try check(mk_pool2d_backward_f32_run(op, &plan, dy.pointer, indices, dx.pointer, threadPool.handle), name)
        } else {
            try check(mk_pool2d_backward_f32_run(op, &plan, dy.pointer, nil, dx.pointer, threadPool.handle), name)
        }
    }
}
