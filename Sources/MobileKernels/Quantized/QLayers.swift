internal import CKernels

/// int8 convolution (dense, grouped, pointwise; a fully connected layer is a 1x1 one on a 1x1
/// image), QS8 with per-channel weights: see CKernels/include/mk_qs8.h for the arithmetic. The
/// activation (none, relu, relu6 or clamp, in real values) becomes the output's int8 clamp;
/// a residual (same shape as the output, quantized with `residual`) is added before it.
public final class QConv2D: @unchecked Sendable {
    public let inChannels: Int, outChannels: Int, groups: Int
    public let kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    public let padding: Padding
    public let activation: Activation
    public let input: Quantization, output: Quantization, residual: Quantization?
    /// Float output (`forward(_:into:)` on a `Tensor`): `(acc + bias) * input.scale * weightScale`.
    public let floatOutput: Bool
    /// The variant that runs (`.auto` resolved: `.avx512vnni` on a CPU with AVX-512 VNNI).
    public let variant: Variant
    public let name: String
    let op: OpaquePointer

    /// - Parameters:
    ///   - weights: PyTorch's layout `[outChannels, inChannels / groups, kernelH, kernelW]`,
    ///     int8 in [-127, 127].
    ///   - weightScales: `outChannels` finite positive scales (symmetric per output channel).
    ///   - bias: `outChannels` int32 values in units of `input.scale * weightScales[o]`, or nil.
    ///   - floatOutput: write float32 sums `(acc + bias) * input.scale * weightScales[o]` instead
    ///     of int8 (a network's logits from int8 features; `output` is then unused, the
    ///     activation must be `.none`, no residual).
    /// - Throws: `.invalidArgument` for bad sizes, weights (count, -128), scales or
    ///   quantizations; `.unsupported` for hard-swish / hard-sigmoid (use a lookup table after
    ///   the convolution) or a variant without int8 kernels on this CPU.
    public init(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1,
                weights: [Int8], weightScales: [Float], bias: [Int32]? = nil, activation: Activation = .none,
                input: Quantization, output: Quantization, residual: Quantization? = nil,
                variant: Variant = .auto, floatOutput: Bool = false) throws {
        let name = "QConv2D(\(inChannels)->\(outChannels), kernel: \(kernelH)x\(kernelW), stride: \(strideH)x\(strideW), padding: \(padding), groups: \(groups), \(activation), \(variant))"
        let sizes = [inChannels, outChannels, groups, kernelH, kernelW, strideH, strideW, dilationH, dilationW]
        guard sizes.allSatisfy({ $0 >= 1 }), [padding.top, padding.left, padding.bottom, padding.right].allSatisfy({ $0 >= 0 }),
              inChannels % groups == 0, outChannels % groups == 0 else {
            throw MobileKernelsError(.invalidArgument, "\(name): sizes must be at least 1, padding at least 0, channels multiples of groups")
        }
        let (taps, o0) = kernelH.multipliedReportingOverflow(by: kernelW)
        let (perOut, o1) = (inChannels / groups).multipliedReportingOverflow(by: taps)
        let (expected, o2) = outChannels.multipliedReportingOverflow(by: perOut)
        guard !o0, !o1, !o2, weights.count == expected else {
            throw MobileKernelsError(.invalidArgument, "\(name): weights have \(weights.count) values, expected [\(outChannels), \(inChannels / groups), \(kernelH), \(kernelW)]")
        }
        guard weightScales.count == outChannels, bias.map({ $0.count == outChannels }) ?? true else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(weightScales.count) weight scales and \(bias?.count ?? 0) biases, expected \(outChannels)")
        }
        var params = mk_conv2d_qs8_params(
            conv: mk_conv2d_params(input_channels: inChannels, output_channels: outChannels, groups: groups,
                                   kernel_h: kernelH, kernel_w: kernelW, stride_h: strideH, stride_w: strideW,
                                   dilation_h: dilationH, dilation_w: dilationW, pad_top: padding.top,
                                   pad_left: padding.left, pad_bottom: padding.bottom, pad_right: padding.right,
                                   activation: activation.cValue, shuffle_output: false,
                                   algorithm: MK_CONV2D_ALGORITHM_AUTO),
            input: input.cValue, output: output.cValue, residual: (residual ?? output).cValue, output_f32: floatOutput)
        var handle: OpaquePointer?
        let status: mk_status = bias.withOptionalInt32Pointer { b in
            mk_conv2d_qs8_create(&params, weights, weightScales, b, variant.cValue, &handle)
        }
        try check(status, name)
        op = handle!
        (self.inChannels, self.outChannels, self.groups) = (inChannels, outChannels, groups)
        (self.kernelH, self.kernelW, self.strideH, self.strideW) = (kernelH, kernelW, strideH, strideW)
        (self.dilationH, self.dilationW, self.padding, self.activation) = (dilationH, dilationW, padding, activation)
        (self.input, self.output, self.residual, self.floatOutput) = (input, output, residual, floatOutput)
        self.variant = Variant(mk_conv2d_qs8_variant(op))
        self.name = name
    }

    deinit { mk_conv2d_qs8_destroy(op) }

    /// The bytes held for the packed weights, biases and scales.
    public var weightBytes: Int { mk_conv2d_qs8_weight_bytes(op) }

    public func outputShape(for x: TensorShape) throws -> TensorShape {
        guard x.c == inChannels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(x) has \(x.c) channels, expected \(inChannels)")
        }
        var h = 0, w = 0
        try check(mk_conv2d_qs8_output_size(op, x.h, x.w, &h, &w), "\(name) on \(x)")
        return try TensorShape(n: x.n, h: h, w: w, c: outChannels)
    }

    /// `y = conv(x) (+ residual)`, requantized to `output`. `x` must carry `input`'s
    /// quantization, `residual` (when given) the layer's `residual` one; `y` must have the output
    /// shape (its quantization is set to `output`). Never allocates unless `y`'s storage is shared.
    public func forward(_ x: QTensor, into y: inout QTensor, residual r: QTensor? = nil, threadPool: ThreadPool = .shared) throws {
        guard !floatOutput else {
            throw MobileKernelsError(.invalidArgument, "\(name): a float-output layer writes a Tensor (forward(_:into: Tensor))")
        }
        let shape = try outputShape(for: x.shape)
        guard y.shape == shape else {
            throw MobileKernelsError(.shapeMismatch, "\(name): output \(y.shape), expected \(shape)")
        }
        guard x.quantization == input else {
            throw MobileKernelsError(.invalidArgument, "\(name): input quantized \(x.quantization), the layer expects \(input)")
        }
        if let r {
            guard r.shape == shape, r.quantization == (residual ?? output) else {
                throw MobileKernelsError(.shapeMismatch, "\(name): residual \(r), expected \(shape) \(residual ?? output)")
            }
        }
        y.quantization = output
        try y.makeUnique()
        var plan = mk_conv2d_qs8_plan()
        let status = then(mk_conv2d_qs8_reshape(op, x.shape.n, x.shape.h, x.shape.w, 0, 0, 0, threadPool.handle, &plan)) {
            mk_conv2d_qs8_run(op, &plan, x.storage.pointer, y.storage.pointer, r?.storage.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(x.shape)")
    }

    /// `y = conv(x)` in float32 for a layer made with `floatOutput` (`y` must have the output shape).
    public func forward(_ x: QTensor, into y: inout Tensor, threadPool: ThreadPool = .shared) throws {
        guard floatOutput else {
            throw MobileKernelsError(.invalidArgument, "\(name): an int8-output layer writes a QTensor")
        }
        let shape = try outputShape(for: x.shape)
        guard y.shape == shape else {
            throw MobileKernelsError(.shapeMismatch, "\(name): output \(y.shape), expected \(shape)")
        }
        guard x.quantization == input else {
            throw MobileKernelsError(.invalidArgument, "\(name): input quantized \(x.quantization), the layer expects \(input)")
        }
        var plan = mk_conv2d_qs8_plan()
        try y.withUnsafeMutableBufferPointer { out in
            let status = then(mk_conv2d_qs8_reshape(op, x.shape.n, x.shape.h, x.shape.w, 0, 0, 0, threadPool.handle, &plan)) {
                mk_conv2d_qs8_run_f32(op, &plan, x.storage.pointer, out.baseAddress!, threadPool.handle)
            }
            try check(status, "\(name) on \(x.shape)")
        }
    }

    /// Whether `variant` has int8 convolution kernels this CPU runs.
    public static func supports(variant: Variant) -> Bool {
        Catalogue.variants(of: .qs8Gemm).contains(variant) && variant.isAvailable || variant == .auto
    }
}

/// int8 depthwise convolution (depth multiplier 1), the same scheme as `QConv2D` (no residual).
public final class QDepthwiseConv2D: @unchecked Sendable {
    public let channels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    public let padding: Padding
    public let activation: Activation
    public let input: Quantization, output: Quantization
    public let variant: Variant
    public let name: String
    let op: OpaquePointer

    /// `weights` `[channels, 1, kernelH, kernelW]` int8 in [-127, 127]; `weightScales` and `bias`
    /// per channel (see `QConv2D`).
    public init(channels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1, padding: Padding = .zero,
                dilationH: Int = 1, dilationW: Int = 1, weights: [Int8], weightScales: [Float], bias: [Int32]? = nil,
                activation: Activation = .none, input: Quantization, output: Quantization, variant: Variant = .auto) throws {
        let name = "QDepthwiseConv2D(channels: \(channels), kernel: \(kernelH)x\(kernelW), stride: \(strideH)x\(strideW), padding: \(padding), \(activation), \(variant))"
        let sizes = [channels, kernelH, kernelW, strideH, strideW, dilationH, dilationW]
        guard sizes.allSatisfy({ $0 >= 1 }), [padding.top, padding.left, padding.bottom, padding.right].allSatisfy({ $0 >= 0 }) else {
            throw MobileKernelsError(.invalidArgument, "\(name): sizes must be at least 1 and padding at least 0")
        }
        let (taps, o0) = kernelH.multipliedReportingOverflow(by: kernelW)
        let (expected, overflow) = channels.multipliedReportingOverflow(by: taps)
        guard !o0, !overflow, weights.count == expected, weightScales.count == channels, bias.map({ $0.count == channels }) ?? true else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(weights.count) weights, \(weightScales.count) scales, \(bias?.count ?? 0) biases; expected [\(channels), 1, \(kernelH), \(kernelW)] and \(channels)")
        }
        var params = mk_dwconv2d_qs8_params(
            dw: mk_dwconv2d_params(channels: channels, kernel_h: kernelH, kernel_w: kernelW, stride_h: strideH,
                                   stride_w: strideW, dilation_h: dilationH, dilation_w: dilationW,
                                   pad_top: padding.top, pad_left: padding.left, pad_bottom: padding.bottom,
                                   pad_right: padding.right, activation: activation.cValue),
            input: input.cValue, output: output.cValue)
        var handle: OpaquePointer?
        let status: mk_status = bias.withOptionalInt32Pointer { b in
            mk_dwconv2d_qs8_create(&params, weights, weightScales, b, variant.cValue, &handle)
        }
        try check(status, name)
        op = handle!
        (self.channels, self.kernelH, self.kernelW, self.strideH, self.strideW) = (channels, kernelH, kernelW, strideH, strideW)
        (self.dilationH, self.dilationW, self.padding, self.activation) = (dilationH, dilationW, padding, activation)
        (self.input, self.output) = (input, output)
        self.variant = Variant(mk_dwconv2d_qs8_variant(op))
        self.name = name
    }

    deinit { mk_dwconv2d_qs8_destroy(op) }

    public var weightBytes: Int { mk_dwconv2d_qs8_weight_bytes(op) }

    public func outputShape(for x: TensorShape) throws -> TensorShape {
        guard x.c == channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(x) has \(x.c) channels, expected \(channels)")
        }
        var h = 0, w = 0
        try check(mk_dwconv2d_qs8_output_size(op, x.h, x.w, &h, &w), "\(name) on \(x)")
        return try TensorShape(n: x.n, h: h, w: w, c: channels)
    }

    public func forward(_ x: QTensor, into y: inout QTensor, threadPool: ThreadPool = .shared) throws {
        let shape = try outputShape(for: x.shape)
        guard y.shape == shape else {
            throw MobileKernelsError(.shapeMismatch, "\(name): output \(y.shape), expected \(shape)")
        }
        guard x.quantization == input else {
            throw MobileKernelsError(.invalidArgument, "\(name): input quantized \(x.quantization), the layer expects \(input)")
        }
        y.quantization = output
        try y.makeUnique()
        var plan = mk_dwconv2d_qs8_plan()
        let status = then(mk_dwconv2d_qs8_reshape(op, x.shape.n, x.shape.h, x.shape.w, 0, 0, threadPool.handle, &plan)) {
            mk_dwconv2d_qs8_run(op, &plan, x.storage.pointer, y.storage.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(x.shape)")
    }
}

extension Optional where Wrapped == [Int32] {
    func withOptionalInt32Pointer<R>(_ body: (UnsafePointer<Int32>?) throws -> R) rethrows -> R {
        switch self {
        case .none: try body(nil)
        case let .some(array): try array.withUnsafeBufferPointer { try body($0.baseAddress) }
        }
    }
}
