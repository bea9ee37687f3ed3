internal import CKernels

/// Depthwise 2D convolution (depth multiplier 1) over NHWC tensors, with a fused bias and
/// activation:
///   y[n, oy, ox, c] = activation(bias[c] + sum over ky, kx of
///                     w[c, 0, ky, kx] * x[n, oy * strideH - top + ky * dilationH,
///                                          ox * strideW - left + kx * dilationW, c])
/// with zero padding. 3x3 and 5x5 kernels (dilation 1, horizontal stride 1 or 2) run on
/// specialized microkernels; any other kernel from 1x1 to 11x11 on a generic one.
public final class DepthwiseConv2D: Layer, @unchecked Sendable {
    public let channels: Int
    public let kernelH: Int
    public let kernelW: Int
    public let strideH: Int
    public let strideW: Int
    public let dilationH: Int
    public let dilationW: Int
    public let padding: Padding
    public let activation: Activation
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer
    /// The bytes the layer holds for its packed weights, bias and zero row.
    public var weightBytes: Int { mk_dwconv2d_f32_weight_bytes(op) }

    /// - Parameters:
    ///   - weights: PyTorch's layout [channels, 1, kernelH, kernelW] (`conv.weight` of a
    ///     `Conv2d(c, c, k, groups=c)`), `channels * kernelH * kernelW` values.
    ///   - bias: `channels` values, or nil.
    /// - Throws: `.invalidArgument` for a size below 1, a kernel over 11, padding not smaller than
    ///   the dilated kernel, weights or bias of the wrong length, or bad clamp bounds;
    ///   `.unsupported` for a variant this CPU or layer lacks.
    public init(channels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                weights: [Float], bias: [Float]? = nil, activation: Activation = .none,
                variant: Variant = .auto) throws {
        let name = "DepthwiseConv2D(channels: \(channels), kernel: \(kernelH)x\(kernelW), stride: \(strideH)x\(strideW), padding: \(padding), dilation: \(dilationH)x\(dilationW), \(activation), \(variant))"
        let sizes = [channels, kernelH, kernelW, strideH, strideW, dilationH, dilationW]
        guard sizes.allSatisfy({ $0 >= 1 }), [padding.top, padding.left, padding.bottom, padding.right].allSatisfy({ $0 >= 0 }) else {
            throw MobileKernelsError(.invalidArgument, "\(name): sizes must be at least 1 and padding at least 0")
        }
        let (taps, overflow) = kernelH.multipliedReportingOverflow(by: kernelW)
        let (expected, overflow2) = channels.multipliedReportingOverflow(by: taps)
        guard !overflow, !overflow2, weights.count == expected else {
            throw MobileKernelsError(.invalidArgument, "\(name): weights have \(weights.count) values, expected [\(channels), 1, \(kernelH), \(kernelW)] = \(overflow || overflow2 ? "too many" : String(expected))")
        }
        if let bias, bias.count != channels {
            throw MobileKernelsError(.invalidArgument, "\(name): bias has \(bias.count) values, expected \(channels)")
        }
        var params = DepthwiseConv2D.params(channels: channels, kernelH: kernelH, kernelW: kernelW,
                                            strideH: strideH, strideW: strideW, padding: padding,
                                            dilationH: dilationH, dilationW: dilationW, activation: activation)
        var handle: OpaquePointer?
        let status = bias.withOptionalUnsafeBufferPointer { b in
            mk_dwconv2d_f32_create(&params, weights, b, variant.cValue, &handle)
        }
        try check(status, name)
        op = handle!
        self.channels = channels
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.padding = padding
        self.activation = activation
        self.variant = Variant(mk_dwconv2d_f32_variant(op))
        self.name = name
    }

    private static func params(channels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
                               padding: Padding, dilationH: Int, dilationW: Int,
                               activation: Activation) -> mk_dwconv2d_params {
        mk_dwconv2d_params(
            channels: channels, kernel_h: kernelH, kernel_w: kernelW, stride_h: strideH, stride_w: strideW,
            dilation_h: dilationH, dilation_w: dilationW, pad_top: padding.top, pad_left: padding.left,
            pad_bottom: padding.bottom, pad_right: padding.right, activation: activation.cValue)
    }

    /// Whether `variant` runs this depthwise convolution on this CPU (the catalogue's one rule,
    /// `mk_dwconv2d_f32_supports`: kernels up to 11x11, a variant with depthwise microkernels that the
    /// CPU runs). False for invalid parameters too; a network runs other depthwise convolutions
    /// as grouped `Conv2D`s.
    public static func supports(channels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                                padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                                activation: Activation = .none, variant: Variant) -> Bool {
        let sizes = [channels, kernelH, kernelW, strideH, strideW, dilationH, dilationW,
                     padding.top + 1, padding.left + 1, padding.bottom + 1, padding.right + 1]
        guard sizes.allSatisfy({ $0 >= 1 }) else { return false }
        var p = params(channels: channels, kernelH: kernelH, kernelW: kernelW, strideH: strideH, strideW: strideW,
                       padding: padding, dilationH: dilationH, dilationW: dilationW, activation: activation)
        return mk_dwconv2d_f32_supports(&p, variant.cValue) == MK_STATUS_OK
    }

    /// A square kernel, stride and dilation.
    public convenience init(channels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .zero,
                            dilation: Int = 1, weights: [Float], bias: [Float]? = nil,
                            activation: Activation = .none, variant: Variant = .auto) throws {
        try self.init(channels: channels, kernelH: kernelSize, kernelW: kernelSize, strideH: stride,
                      strideW: stride, padding: padding, dilationH: dilation, dilationW: dilation,
                      weights: weights, bias: bias, activation: activation, variant: variant)
    }

    /// Weights as a tensor of shape [channels, kernelH, kernelW, 1] (NHWC), which holds PyTorch's
    /// [channels, 1, kernelH, kernelW] values in the same order.
    public convenience init(kernelSize: Int, stride: Int = 1, padding: Padding = .zero, dilation: Int = 1,
                            weights: Tensor, bias: [Float]? = nil, activation: Activation = .none,
                            variant: Variant = .auto) throws {
        let s = weights.shape
        guard s.h == kernelSize, s.w == kernelSize, s.c == 1 else {
            throw MobileKernelsError(.shapeMismatch, "DepthwiseConv2D: weight tensor \(s) is not [channels, \(kernelSize), \(kernelSize), 1]")
        }
        try self.init(channels: s.n, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation,
                      weights: weights.toArray(), bias: bias, activation: activation, variant: variant)
    }

    deinit { mk_dwconv2d_f32_destroy(op) }

    /// Replaces the weights (`[channels, 1, kernelH, kernelW]`) and bias (nil: zeros) without
    /// allocating: a training step's update. Not while a `forward` of this layer runs.
    /// - Throws: `.shapeMismatch` for counts other than the layer's.
    public func setWeights(_ weights: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?) throws {
        let expected = channels * kernelH * kernelW
        guard weights.count == expected, (bias?.count ?? channels) == channels, let w = weights.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "\(name): setWeights got \(weights.count) weights and \(bias?.count ?? 0) biases, expected \(expected) and \(channels)")
        }
        try check(mk_dwconv2d_f32_set_weights(op, w, bias?.baseAddress), name)
    }

    /// Whether interior pixels run on a specialized (3x3 / 5x5) microkernel.
    public var isSpecialized: Bool { mk_dwconv2d_f32_is_specialized(op) }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        var oh = 0, ow = 0
        let status = mk_dwconv2d_f32_output_size(op, input.h, input.w, &oh, &ow)
        guard status == MK_STATUS_OK else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(input) is smaller than the (padded, dilated) kernel")
        }
        return try TensorShape(n: input.n, h: oh, w: ow, c: channels)
    }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        let s = input.shape
        var plan = mk_dwconv2d_f32_plan()
        let status = then(mk_dwconv2d_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, output.pixelStride,
                                                  threadPool.handle, &plan)) {
            mk_dwconv2d_f32_run(op, &plan, input.pointer, output.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(input) into \(output)")
    }

    /// The input rows that output rows `outputRows` of an image `inputH` rows high read
    /// (padding aside): the band `forward(inputH:...)` needs.
    func inputRows(inputH: Int, outputRows: Range<Int>) throws -> Range<Int> {
        var first = 0, count = 0
        try check(mk_dwconv2d_f32_input_rows(op, inputH, outputRows.lowerBound, outputRows.upperBound, &first, &count),
                  "\(name): rows \(outputRows) of an image \(inputH) rows high")
        return first..<(first + count)
    }

    /// Output rows `outputRows` of one `inputH` x `inputW` image from a band of its input rows
    /// (`rows` rows from image row `firstRow`, at `input`), into `output` (output row
    /// `outputRows.lowerBound`): what an inference plan runs while the producer fills the band.
    func forward(inputH: Int, inputW: Int, firstRow: Int, rows: Int, input: UnsafePointer<Float>,
                 inputStride: Int, outputRows: Range<Int>, output: UnsafeMutablePointer<Float>,
                 outputStride: Int, threadPool: ThreadPool) throws {
        let status = mk_dwconv2d_f32_run_rows(op, inputH, inputW, firstRow, rows, input, inputStride,
                                          outputRows.lowerBound, outputRows.upperBound, output,
                                          outputStride, threadPool.handle)
        try check(status, "\(name) on rows \(outputRows) of \(inputH)x\(inputW)")
    }
}
