import Foundation
internal import CKernels

/// 2D convolution over NHWC tensors, dense or grouped, with a fused bias, optional residual add
/// and activation:
///   y[n, oy, ox, g * Cout/G + o] = activation(bias + residual + sum over ky, kx, c of
///       w[g * Cout/G + o, c, ky, kx] * x[n, oy * strideH - top + ky * dilationH,
///                                          ox * strideW - left + kx * dilationW, g * Cin/G + c])
/// with zero padding. Every shape runs on the library's GEMM microkernels (1x1, KxK, grouped);
/// `.blis` runs 1x1 convolutions on BLIS's sgemm. With `shuffleOutput`, the output channels are
/// written in ShuffleNet's channel-shuffled order (as `ChannelShuffle(groups:)` would leave them)
/// with no extra pass.
/// How a `Conv2D` computes: `.auto` is the catalogue's rule (Winograd F(4x4, 3x3) for 3x3
/// stride-1 single-group layers of at least 32 input and output channels, direct otherwise).
public enum ConvAlgorithm: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The catalogue's choice per layer.
    case auto
    /// The GEMM over the input read in place: every convolution.
    case direct
    /// Winograd F(4x4, 3x3): 3x3 kernels, stride and dilation 1, one group, no shuffled output;
    /// 4x fewer multiplications, a rounding difference from direct of about 1e-6 of the output's
    /// scale; the transformed weights (4x the weights) are held up to 4 MiB, computed in the run
    /// above.
    case winograd

    public var description: String { rawValue }

    var cValue: mk_conv2d_algorithm {
        switch self {
        case .auto: MK_CONV2D_ALGORITHM_AUTO
        case .direct: MK_CONV2D_ALGORITHM_DIRECT
        case .winograd: MK_CONV2D_ALGORITHM_WINOGRAD
        }
    }

    init(_ value: mk_conv2d_algorithm) {
        self = ConvAlgorithm.allCases.first { $0.cValue == value } ?? .auto
    }
}

public final class Conv2D: Layer, @unchecked Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let groups: Int
    public let kernelH: Int
    public let kernelW: Int
    public let strideH: Int
    public let strideW: Int
    public let dilationH: Int
    public let dilationW: Int
    public let padding: Padding
    public let activation: Activation
    public let shuffleOutput: Bool
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    /// The algorithm that runs (`.auto` resolved: `.direct` or `.winograd`).
    public let algorithm: ConvAlgorithm
    public let name: String
    private let op: OpaquePointer
    /// The bytes the layer holds for its packed weights (Winograd: transformed, 4x, up to 4 MiB of
    /// them; the weights themselves above), bias and zero row.
    public var weightBytes: Int { mk_conv2d_f32_weight_bytes(op) }

    /// - Parameters:
    ///   - weights: PyTorch's layout [outChannels, inChannels / groups, kernelH, kernelW]
    ///     (`conv.weight`), BatchNorm already folded in if there was one.
    ///   - bias: `outChannels` values, or nil.
    /// - Throws: `.invalidArgument` for a size below 1, channels not divisible by `groups`, a
    ///   kernel of more than 256 taps, padding not smaller than the dilated kernel, weights or
    ///   bias of the wrong length, bad clamp bounds, or `shuffleOutput` with more than 32 groups;
    ///   `.unsupported` for a variant this CPU or layer lacks (`.blis` runs 1x1 kernels only), or
    ///   an algorithm the layer cannot use (`.winograd` runs 3x3 stride-1 single-group layers).
    public convenience init(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1,
                strideW: Int = 1, padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                groups: Int = 1, weights: [Float], bias: [Float]? = nil, activation: Activation = .none,
                shuffleOutput: Bool = false, variant: Variant = .auto, algorithm: ConvAlgorithm = .auto) throws {
        try self.init(inChannels: inChannels, outChannels: outChannels, kernelH: kernelH, kernelW: kernelW,
                      strideH: strideH, strideW: strideW, padding: padding, dilationH: dilationH, dilationW: dilationW,
                      groups: groups, weightPointer: weights, weightCount: weights.count, biasPointer: bias ?? [],
                      biasCount: bias?.count, activation: activation, shuffleOutput: shuffleOutput, variant: variant,
                      algorithm: algorithm)
    }

    /// `init` with the weights (and bias) where they are, e.g. in a mapped file: packed, not kept.
    convenience init(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1,
                     strideW: Int = 1, padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                     groups: Int = 1, weights: UnsafeBufferPointer<Float>, bias: [Float]?, activation: Activation = .none,
                     shuffleOutput: Bool = false, variant: Variant = .auto, algorithm: ConvAlgorithm = .auto) throws {
        guard let start = weights.baseAddress else {
            throw MobileKernelsError(.invalidArgument, "Conv2D(\(inChannels) -> \(outChannels)): no weights")
        }
        try self.init(inChannels: inChannels, outChannels: outChannels, kernelH: kernelH, kernelW: kernelW,
                      strideH: strideH, strideW: strideW, padding: padding, dilationH: dilationH, dilationW: dilationW,
                      groups: groups, weightPointer: start, weightCount: weights.count, biasPointer: bias ?? [],
                      biasCount: bias?.count, activation: activation, shuffleOutput: shuffleOutput, variant: variant,
                      algorithm: algorithm)
    }

    /// The one initializer: `weightCount` floats at `weightPointer`; `biasCount` floats at
    /// `biasPointer`, or no bias when `biasCount` is nil.
    private init(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
                 padding: Padding, dilationH: Int, dilationW: Int, groups: Int, weightPointer: UnsafePointer<Float>,
                 weightCount: Int, biasPointer: UnsafePointer<Float>, biasCount: Int?, activation: Activation,
                 shuffleOutput: Bool, variant: Variant, algorithm: ConvAlgorithm) throws {
        var name = "Conv2D(\(inChannels) -> \(outChannels), kernel: \(kernelH)x\(kernelW), stride: \(strideH)x\(strideW), padding: \(padding), dilation: \(dilationH)x\(dilationW), groups: \(groups), \(activation)\(shuffleOutput ? ", shuffled output" : ""), \(variant)\(algorithm == .auto ? "" : ", \(algorithm)"))"
        let sizes = [inChannels, outChannels, groups, kernelH, kernelW, strideH, strideW, dilationH, dilationW]
        guard sizes.allSatisfy({ $0 >= 1 }), [padding.top, padding.left, padding.bottom, padding.right].allSatisfy({ $0 >= 0 }) else {
            throw MobileKernelsError(.invalidArgument, "\(name): sizes must be at least 1 and padding at least 0")
        }
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels \(inChannels) -> \(outChannels) are not divisible by \(groups) groups")
        }
        var expected = outChannels, overflow = false
        for factor in [inChannels / groups, kernelH, kernelW] {
            let (product, o) = expected.multipliedReportingOverflow(by: factor)
            expected = product
            overflow = overflow || o
        }
        guard !overflow, weightCount == expected else {
            throw MobileKernelsError(.invalidArgument, "\(name): weights have \(weightCount) values, expected [\(outChannels), \(inChannels / groups), \(kernelH), \(kernelW)] = \(overflow ? "too many" : String(expected))")
        }
        if let biasCount, biasCount != outChannels {
            throw MobileKernelsError(.invalidArgument, "\(name): bias has \(biasCount) values, expected \(outChannels)")
        }
        var params = Conv2D.params(inChannels: inChannels, outChannels: outChannels, kernelH: kernelH,
                                   kernelW: kernelW, strideH: strideH, strideW: strideW, padding: padding,
                                   dilationH: dilationH, dilationW: dilationW, groups: groups,
                                   activation: activation, shuffleOutput: shuffleOutput, algorithm: algorithm)
        var handle: OpaquePointer?
        let status = mk_conv2d_f32_create(&params, weightPointer, biasCount == nil ? nil : biasPointer, variant.cValue, &handle)
        try check(status, name)
        op = handle!
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.padding = padding
        self.activation = activation
        self.shuffleOutput = shuffleOutput
        self.variant = Variant(mk_conv2d_f32_variant(op))
        self.algorithm = ConvAlgorithm(mk_conv2d_f32_algorithm(op))
        if algorithm == .auto && self.algorithm == .winograd { name.removeLast(); name += ", winograd)" }
        self.name = name
    }

    private static func params(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int,
                               strideW: Int, padding: Padding, dilationH: Int, dilationW: Int, groups: Int,
                               activation: Activation, shuffleOutput: Bool,
                               algorithm: ConvAlgorithm) -> mk_conv2d_params {
        mk_conv2d_params(
            input_channels: inChannels, output_channels: outChannels, groups: groups, kernel_h: kernelH,
            kernel_w: kernelW, stride_h: strideH, stride_w: strideW, dilation_h: dilationH, dilation_w: dilationW,
            pad_top: padding.top, pad_left: padding.left, pad_bottom: padding.bottom, pad_right: padding.right,
            activation: activation.cValue, shuffle_output: shuffleOutput, algorithm: algorithm.cValue)
    }

    /// Whether `variant` runs this convolution on this CPU (the catalogue's one rule,
    /// `mk_conv2d_f32_supports`: every valid convolution on the GEMM microkernels; `.blis` only 1x1
    /// kernels without padding or shuffled output; `.winograd` only 3x3 stride-1 single-group
    /// layers). False for invalid parameters too.
    public static func supports(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1,
                                strideW: Int = 1, padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                                groups: Int = 1, activation: Activation = .none, shuffleOutput: Bool = false,
                                variant: Variant, algorithm: ConvAlgorithm = .auto) -> Bool {
        let sizes = [inChannels, outChannels, groups, kernelH, kernelW, strideH, strideW, dilationH, dilationW,
                     padding.top + 1, padding.left + 1, padding.bottom + 1, padding.right + 1]
        guard sizes.allSatisfy({ $0 >= 1 }) else { return false }
        var p = params(inChannels: inChannels, outChannels: outChannels, kernelH: kernelH, kernelW: kernelW,
                       strideH: strideH, strideW: strideW, padding: padding, dilationH: dilationH,
                       dilationW: dilationW, groups: groups, activation: activation, shuffleOutput: shuffleOutput,
                       algorithm: algorithm)
        return mk_conv2d_f32_supports(&p, variant.cValue) == MK_STATUS_OK
    }

    /// A square kernel, stride and dilation.
    public convenience init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                            padding: Padding = .zero, dilation: Int = 1, groups: Int = 1, weights: [Float],
                            bias: [Float]? = nil, activation: Activation = .none, shuffleOutput: Bool = false,
                            variant: Variant = .auto, algorithm: ConvAlgorithm = .auto) throws {
        try self.init(inChannels: inChannels, outChannels: outChannels, kernelH: kernelSize, kernelW: kernelSize,
                      strideH: stride, strideW: stride, padding: padding, dilationH: dilation, dilationW: dilation,
                      groups: groups, weights: weights, bias: bias, activation: activation,
                      shuffleOutput: shuffleOutput, variant: variant, algorithm: algorithm)
    }

    deinit { mk_conv2d_f32_destroy(op) }

    /// Replaces the weights (`[outChannels, inChannels / groups, kernelH, kernelW]`) and bias
    /// (nil: zeros), packed as `init` packs them (the same outputs as a new layer) without
    /// allocating: a training step's update. Not while a `forward` of this layer runs.
    /// - Throws: `.shapeMismatch` for counts other than the layer's.
    public func setWeights(_ weights: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?) throws {
        let expected = outChannels * (inChannels / groups) * kernelH * kernelW
        guard weights.count == expected, (bias?.count ?? outChannels) == outChannels, let w = weights.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "\(name): setWeights got \(weights.count) weights and \(bias?.count ?? 0) biases, expected \(expected) and \(outChannels)")
        }
        try check(mk_conv2d_f32_set_weights(op, w, bias?.baseAddress), name)
    }

    /// Whether `setWeights(transposed:)` packs this layer: a 1x1 single-group layer on our GEMM
    /// kernels (not `.blis`, direct algorithm). The one place the rule lives (a training plan
    /// sizes its transpose scratch by the layers that are not).
    public var acceptsTransposedWeights: Bool {
        kernelH == 1 && kernelW == 1 && groups == 1 && variant != .blis && algorithm == .direct
    }

    /// `setWeights` from the transpose of the weights, `[inChannels, outChannels]`, for a layer
    /// that `acceptsTransposedWeights`: a 1x1 convolution's input gradient updated from the
    /// forward's weights as they are (a training step's Linear layers use `LinearTraining`). Returns false (nothing done) for a layer of another form.
    public func setWeights(transposed weights: UnsafeBufferPointer<Float>) throws -> Bool {
        guard acceptsTransposedWeights, weights.count == inChannels * outChannels,
              let w = weights.baseAddress else { return false }
        let status = mk_conv2d_f32_set_weights_transposed(op, w, nil)
        if status == MK_STATUS_UNSUPPORTED { return false }
        try check(status, name)
        return true
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, inChannels)
        return try outputShape(n: input.n, h: input.h, w: input.w)
    }

    private func outputShape(n: Int, h: Int, w: Int) throws -> TensorShape {
        var oh = 0, ow = 0
        guard mk_conv2d_f32_output_size(op, h, w, &oh, &ow) == MK_STATUS_OK else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(h)x\(w) is smaller than the (padded, dilated) kernel")
        }
        return try TensorShape(n: n, h: oh, w: ow, c: outChannels)
    }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try forward(input, residual: nil, into: output, threadPool: threadPool)
    }

    /// Like `forward(_:into:threadPool:)`, adding `residual` (the output's shape, any pixel
    /// stride) before the activation; `residual` may be `output` itself (the same view:
    /// output += conv), but must not otherwise overlap it.
    /// - Throws: `.shapeMismatch` for an input without `inChannels` channels, or an output or
    ///   residual of another shape than the layer produces.
    public func forward(_ input: TensorView, residual: TensorView?, into output: TensorView,
                        threadPool: ThreadPool = .shared) throws {
        try checkShapes(input.shape, residual: residual?.shape, output: output.shape)
        var plan = mk_conv2d_f32_plan()
        let status = then(reshape(&plan, input, residual: residual, output: output, threadPool)) {
            withWorkspace(&plan) {
                mk_conv2d_f32_run(op, &$0, input.pointer, output.pointer, residual?.pointer, threadPool.handle)
            }
        }
        try check(status, "\(name) on \(input) into \(output)")
    }

    /// Runs on channels `inputChannelOffset ..< inputChannelOffset + inChannels` of `input` and
    /// writes channels `outputChannelOffset ..< outputChannelOffset + outChannels` of `output`
    /// (the rest of `output` is left as it is): a split and a concat without copies. `residual`,
    /// if given, has this layer's output shape and is added before the activation; it may be
    /// `output` itself.
    public func forward(_ input: Tensor, inputChannelOffset: Int = 0, residual: Tensor?,
                        into output: inout Tensor, outputChannelOffset: Int = 0,
                        threadPool: ThreadPool = .shared) throws {
        let s = input.shape
        guard inputChannelOffset >= 0, inputChannelOffset <= s.c - inChannels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(s) has no channels \(inputChannelOffset)..<\(inputChannelOffset + inChannels)")
        }
        let expected = try outputShape(n: s.n, h: s.h, w: s.w)
        let o = output.shape
        guard o.n == expected.n, o.h == expected.h, o.w == expected.w, outputChannelOffset >= 0,
              outputChannelOffset <= o.c - outChannels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(s) gives output \(expected), which does not fit channels \(outputChannelOffset)..<\(outputChannelOffset + outChannels) of the output tensor \(o)")
        }
        let x = try input.view(channels: inputChannelOffset..<(inputChannelOffset + inChannels))
        let r = try residual?.view()
        try output.withMutableView(channels: outputChannelOffset..<(outputChannelOffset + outChannels)) {
            try forward(x, residual: r, into: $0, threadPool: threadPool)
        }
    }

    /// Throws `.shapeMismatch` unless `input` has `inChannels` channels and `output` (and
    /// `residual`, if any) the shape this layer gives it.
    private func checkShapes(_ input: TensorShape, residual: TensorShape?, output: TensorShape) throws {
        try checkOutput(output, for: input)
        if let residual, residual != output {
            throw MobileKernelsError(.shapeMismatch, "\(name): residual \(residual) is not the output shape \(output)")
        }
    }

    /// `mk_conv2d_f32_reshape` for these views' shapes and strides.
    private func reshape(_ plan: inout mk_conv2d_f32_plan, _ input: TensorView, residual: TensorView?,
                         output: TensorView, _ threadPool: ThreadPool) -> mk_status {
        let s = input.shape
        return mk_conv2d_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, output.pixelStride,
                                     residual?.pixelStride ?? 0, threadPool.handle, &plan)
    }

    /// A convolution on fixed views (an inference plan's step), planned (`mk_conv2d_f32_reshape`:
    /// output size, tap offsets, the split) for the thread count of the pool it last ran on, and
    /// planned again when a run's pool has another. Its Winograd scratch is `workspace`, which
    /// the steps of one plan share (they run one at a time).
    final class Step: @unchecked Sendable {
        private let conv: Conv2D
        private let input: TensorView, residual: TensorView?, output: TensorView
        private let workspace: Workspace
        private var plan = mk_conv2d_f32_plan()
        private var threads = 0

        /// Planned for one thread, its workspace reserved (shapes checked as by `forward`).
        init(_ conv: Conv2D, input: TensorView, residual: TensorView?, output: TensorView, workspace: Workspace) throws {
            try conv.checkShapes(input.shape, residual: residual?.shape, output: output.shape)
            self.conv = conv
            self.input = input
            self.residual = residual
            self.output = output
            self.workspace = workspace
            try replan(.serial)
        }

        /// Plans for `pool`; the step keeps its old plan when planning or the workspace fails.
        private func replan(_ pool: ThreadPool) throws {
            var planned = mk_conv2d_f32_plan()
            try check(conv.reshape(&planned, input, residual: residual, output: output, pool),
                      "\(conv.name) planned for \(input) into \(output)")
            try workspace.reserve(planned.workspace_bytes)
            plan = planned
            threads = pool.threadCount
        }

        /// Runs on `pool`; allocates nothing unless the pool's thread count is new to it.
        func run(_ pool: ThreadPool) throws {
            if threads != pool.threadCount { try replan(pool) }
            plan.workspace = plan.workspace_bytes > 0 ? workspace.pointer : nil
            try check(mk_conv2d_f32_run(conv.op, &plan, input.pointer, output.pointer, residual?.pointer, pool.handle),
                      "\(conv.name) on \(input) into \(output)")
        }
    }

    /// Scratch memory for the steps of one plan, which run one at a time: as large as the
    /// largest any of them asked for.
    final class Workspace: @unchecked Sendable {
        fileprivate private(set) var pointer: UnsafeMutableRawPointer?
        /// Bytes held.
        private(set) var bytes = 0
        init() {}
        deinit { mk_aligned_free(pointer) }

        fileprivate func reserve(_ needed: Int) throws {
            guard needed > bytes else { return }
            guard let memory = mk_aligned_alloc(needed) else {
                throw MobileKernelsError(.outOfMemory, "Conv2D: no memory for a workspace of \(needed) bytes")
            }
            mk_aligned_free(pointer)
            pointer = memory
            bytes = needed
        }
    }

    /// The one-shot forwards' workspace (Winograd): grown to the largest plan and reused; a
    /// forward that finds it in use by another thread allocates its own for the call.
    private let scratch = Scratch()

    /// Runs `body` on `plan` with a workspace of the size it asks for (the one-shot forwards;
    /// a plan's steps share a `Workspace`).
    private func withWorkspace(_ plan: inout mk_conv2d_f32_plan,
                               _ body: (inout mk_conv2d_f32_plan) -> mk_status) -> mk_status {
        guard plan.workspace_bytes > 0 else { return body(&plan) }
        return scratch.with(bytes: plan.workspace_bytes) { memory in
            plan.workspace = memory
            return body(&plan)
        }
    }

    /// `batch` images of `h` x `w` pixels at `input` (pixel stride `inputStride`) into `output`
    /// (pixel stride `outputStride`): the raw form an inference plan runs on a band of rows.
    func forward(batch: Int, h: Int, w: Int, input: UnsafePointer<Float>, inputStride: Int,
                 output: UnsafeMutablePointer<Float>, outputStride: Int, threadPool: ThreadPool) throws {
        var plan = mk_conv2d_f32_plan()
        let status = then(mk_conv2d_f32_reshape(op, batch, h, w, inputStride, outputStride, 0, threadPool.handle,
                                                &plan)) {
            withWorkspace(&plan) { mk_conv2d_f32_run(op, &$0, input, output, nil, threadPool.handle) }
        }
        try check(status, "\(name) on \(batch)x\(h)x\(w) rows")
    }
}

/// Pointwise (1x1) convolution: a `Conv2D` with a 1x1 kernel, one group and no padding, the
/// GEMM [pixels x inChannels] x [inChannels x outChannels] that carries most of a MobileNet's
/// arithmetic. `stride` subsamples the input (ShuffleNet and ResNet-style shortcuts).
public final class PointwiseConv2D: Layer, @unchecked Sendable {
    public let conv: Conv2D
    public var name: String { conv.name }
    public var inChannels: Int { conv.inChannels }
    public var outChannels: Int { conv.outChannels }
    public var variant: Variant { conv.variant }

    /// - Parameter weights: [outChannels, inChannels] (PyTorch's [O, I, 1, 1]).
    public init(inChannels: Int, outChannels: Int, stride: Int = 1, weights: [Float], bias: [Float]? = nil,
                activation: Activation = .none, variant: Variant = .auto) throws {
        conv = try Conv2D(inChannels: inChannels, outChannels: outChannels, kernelSize: 1, stride: stride,
                          weights: weights, bias: bias, activation: activation, variant: variant)
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape { try conv.outputShape(for: input) }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try conv.forward(input, into: output, threadPool: threadPool)
    }

    /// See `Conv2D.forward(_:inputChannelOffset:residual:into:outputChannelOffset:threadPool:)`.
    public func forward(_ input: Tensor, inputChannelOffset: Int = 0, residual: Tensor?,
                        into output: inout Tensor, outputChannelOffset: Int = 0,
                        threadPool: ThreadPool = .shared) throws {
        try conv.forward(input, inputChannelOffset: inputChannelOffset, residual: residual, into: &output,
                         outputChannelOffset: outputChannelOffset, threadPool: threadPool)
    }
}
