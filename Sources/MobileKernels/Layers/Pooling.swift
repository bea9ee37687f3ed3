internal import CKernels

/// A C pooling operator (any of the four kinds), created once; every run plans (reshape) on the
/// stack and runs.
final class PoolOperator: @unchecked Sendable {
    let op: OpaquePointer

    init(_ name: String, _ create: (UnsafeMutablePointer<OpaquePointer?>) -> mk_status) throws {
        var handle: OpaquePointer?
        try check(create(&handle), name)
        op = handle!
    }

    deinit { mk_pool2d_f32_destroy(op) }

    var variant: Variant { Variant(mk_pool2d_f32_variant(op)) }

    /// `input` into `output` (shapes checked by the layer); throws the operator's error, naming
    /// `name`.
    func run(_ name: String, _ input: TensorView, _ output: TensorView, _ threadPool: ThreadPool) throws {
        let s = input.shape
        var plan = mk_pool2d_f32_plan()
        let status = then(mk_pool2d_f32_reshape(op, s.n, s.h, s.w, input.pixelStride, output.pixelStride,
                                                threadPool.handle, &plan)) {
            mk_pool2d_f32_run(op, &plan, input.pointer, output.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(input) into \(output)")
    }
}

/// The window geometry max and average pooling share, checked once at init, and its operator.
struct PoolWindow {
    let params: mk_pool2d_params
    let name: String
    let pool: PoolOperator

    init(name: String, average: Bool, channels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
         padding: Padding, countIncludePad: Bool, activation: Activation, variant: Variant) throws {
        self.name = name
        guard channels >= 1, kernelH >= 1, kernelW >= 1, strideH >= 1, strideW >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels, kernel and stride must be at least 1")
        }
        guard padding.top >= 0, padding.left >= 0, padding.bottom >= 0, padding.right >= 0,
              padding.top < kernelH, padding.bottom < kernelH, padding.left < kernelW, padding.right < kernelW else {
            throw MobileKernelsError(.invalidArgument, "\(name): padding \(padding) must be at least 0 and smaller than the kernel \(kernelH)x\(kernelW) on each side")
        }
        guard mk_activation_validate(activation.cValue) == MK_STATUS_OK else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(activation) needs min <= max and no NaN bound")
        }
        var params = mk_pool2d_params(kernel_h: kernelH, kernel_w: kernelW, stride_h: strideH, stride_w: strideW,
                                      pad_top: padding.top, pad_left: padding.left, pad_bottom: padding.bottom,
                                      pad_right: padding.right, count_include_pad: countIncludePad,
                                      activation: activation.cValue)
        pool = try PoolOperator(name) {
            average ? mk_avg_pool2d_f32_create(&params, channels, variant.cValue, $0)
                    : mk_max_pool2d_f32_create(&params, channels, variant.cValue, $0)
        }
        self.params = params
    }

    func outputShape(n: Int, h: Int, w: Int, c: Int) throws -> TensorShape {
        var p = params, oh = 0, ow = 0
        guard mk_pool2d_output_size(&p, h, w, &oh, &ow) == MK_STATUS_OK else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(h)x\(w) is smaller than the (padded) window \(params.kernel_h)x\(params.kernel_w)")
        }
        return try TensorShape(n: n, h: oh, w: ow, c: c)
    }
}

/// Max pooling over NHWC tensors (PyTorch's MaxPool2d, dilation 1, floor mode), with an
/// optional fused activation:
///   y[n, oy, ox, c] = activation(max of x[n, oy * strideH - top + 0..<kernelH,
///                                          ox * strideW - left + 0..<kernelW, c])
/// over the pixels inside the image: padded cells never win. A NaN in the window gives NaN.
/// Bit-exact (no arithmetic but the activation).
public final class MaxPool2D: Layer, @unchecked Sendable {
    public let channels: Int
    public let kernelH: Int
    public let kernelW: Int
    public let strideH: Int
    public let strideW: Int
    public let padding: Padding
    public let activation: Activation
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let window: PoolWindow

    /// - Throws: `.invalidArgument` for channels, kernel or stride below 1, padding below 0 or not
    ///   smaller than the kernel, or bad clamp bounds; `.unsupported` for a variant this CPU
    ///   lacks (or `.blis`).
    public init(channels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padding: Padding = .zero,
                activation: Activation = .none, variant: Variant = .auto) throws {
        name = "MaxPool2D(channels: \(channels), kernel: \(kernelH)x\(kernelW), stride: \(strideH)x\(strideW), padding: \(padding), \(activation), \(variant))"
        window = try PoolWindow(name: name, average: false, channels: channels, kernelH: kernelH, kernelW: kernelW,
                                strideH: strideH, strideW: strideW, padding: padding, countIncludePad: false,
                                activation: activation,
                                variant: variant)
        self.channels = channels
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padding = padding
        self.activation = activation
        self.variant = window.pool.variant
    }

    /// A square window; `stride` defaults to the kernel size (PyTorch's default).
    public convenience init(channels: Int, kernel: Int, stride: Int? = nil, padding: Padding = .zero,
                            activation: Activation = .none, variant: Variant = .auto) throws {
        try self.init(channels: channels, kernelH: kernel, kernelW: kernel, strideH: stride ?? kernel,
                      strideW: stride ?? kernel, padding: padding, activation: activation, variant: variant)
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return try window.outputShape(n: input.n, h: input.h, w: input.w, c: channels)
    }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        try window.pool.run(name, input, output, threadPool)
    }
}

/// Average pooling over NHWC tensors (PyTorch's AvgPool2d, floor mode), with an optional fused
/// activation: the sum of the window's pixels inside the image, divided by kernelH * kernelW
/// when `countIncludePad` (PyTorch's default: padded cells count as zeros) or by the number of
/// pixels inside the image otherwise. Bit-exact against the reference's row-by-row sum.
public final class AvgPool2D: Layer, @unchecked Sendable {
    public let channels: Int
    public let kernelH: Int
    public let kernelW: Int
    public let strideH: Int
    public let strideW: Int
    public let padding: Padding
    public let countIncludePad: Bool
    public let activation: Activation
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let window: PoolWindow

    /// - Throws: as `MaxPool2D.init`.
    public init(channels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padding: Padding = .zero,
                countIncludePad: Bool = true, activation: Activation = .none, variant: Variant = .auto) throws {
        name = "AvgPool2D(channels: \(channels), kernel: \(kernelH)x\(kernelW), stride: \(strideH)x\(strideW), padding: \(padding)\(countIncludePad ? "" : ", padding not counted"), \(activation), \(variant))"
        window = try PoolWindow(name: name, average: true, channels: channels, kernelH: kernelH, kernelW: kernelW,
                                strideH: strideH, strideW: strideW, padding: padding, countIncludePad: countIncludePad,
                                activation: activation, variant: variant)
        self.channels = channels
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padding = padding
        self.countIncludePad = countIncludePad
        self.activation = activation
        self.variant = window.pool.variant
    }

    /// A square window; `stride` defaults to the kernel size (PyTorch's default).
    public convenience init(channels: Int, kernel: Int, stride: Int? = nil, padding: Padding = .zero,
                            countIncludePad: Bool = true, activation: Activation = .none,
                            variant: Variant = .auto) throws {
        try self.init(channels: channels, kernelH: kernel, kernelW: kernel, strideH: stride ?? kernel,
                      strideW: stride ?? kernel, padding: padding, countIncludePad: countIncludePad,
                      activation: activation, variant: variant)
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return try window.outputShape(n: input.n, h: input.h, w: input.w, c: channels)
    }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        try window.pool.run(name, input, output, threadPool)
    }

    /// Writes channels `outputChannelOffset ..< outputChannelOffset + channels` of `output` (the
    /// rest is left as it is), e.g. ShuffleNet's shortcut branch into its concatenation.
    public func forward(_ input: Tensor, into output: inout Tensor, outputChannelOffset: Int,
                        threadPool: ThreadPool = .shared) throws {
        let s = input.shape
        let expected = try outputShape(for: s)
        let o = output.shape
        guard o.n == expected.n, o.h == expected.h, o.w == expected.w, outputChannelOffset >= 0,
              outputChannelOffset <= o.c - channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(s) gives output \(expected), which does not fit channels \(outputChannelOffset)..<\(outputChannelOffset + channels) of the output tensor \(o)")
        }
        let x = try input.view()
        try output.withMutableView(channels: outputChannelOffset..<(outputChannelOffset + channels)) {
            try forward(x, into: $0, threadPool: threadPool)
        }
    }
}

/// Global average pooling: [n, h, w, c] -> [n, 1, 1, c], the mean of each channel over all
/// pixels (summed row by row from 0, then divided by h * w: bit-exact against the reference).
public final class GlobalAveragePool: Layer, @unchecked Sendable {
    public let channels: Int
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let pool: PoolOperator

    /// - Throws: `.invalidArgument` for channels below 1; `.unsupported` for a variant this CPU
    ///   lacks (or `.blis`).
    public init(channels: Int, variant: Variant = .auto) throws {
        name = "GlobalAveragePool(channels: \(channels), \(variant))"
        guard channels >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels must be at least 1")
        }
        pool = try PoolOperator(name) { mk_global_avg_pool_f32_create(channels, variant.cValue, $0) }
        self.channels = channels
        self.variant = pool.variant
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return try TensorShape(n: input.n, h: 1, w: 1, c: channels)
    }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        try pool.run(name, input, output, threadPool)
    }
}

/// PyTorch's AdaptiveAvgPool2d((outputH, outputW)) over NHWC tensors: output cell (i, j) is the
/// mean of input rows floor(i * h / outputH) ..< ceil((i + 1) * h / outputH) and the same for
/// columns (VGG16's 7x7 and AlexNet's 6x6 before the classifier). The identity when the input
/// already is outputH x outputW.
public final class AdaptiveAvgPool2D: Layer, @unchecked Sendable {
    public let channels: Int
    public let outputH: Int
    public let outputW: Int
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String
    private let pool: PoolOperator

    /// - Throws: `.invalidArgument` for channels or an output size below 1; `.unsupported` for a
    ///   variant this CPU lacks (or `.blis`).
    public init(channels: Int, outputH: Int, outputW: Int, variant: Variant = .auto) throws {
        name = "AdaptiveAvgPool2D(channels: \(channels), output: \(outputH)x\(outputW), \(variant))"
        guard channels >= 1, outputH >= 1, outputW >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels and the output size must be at least 1")
        }
        pool = try PoolOperator(name) {
            mk_adaptive_avg_pool2d_f32_create(channels, outputH, outputW, variant.cValue, $0)
        }
        self.channels = channels
        self.outputH = outputH
        self.outputW = outputW
        self.variant = pool.variant
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return try TensorShape(n: input.n, h: outputH, w: outputW, c: channels)
    }

    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        try pool.run(name, input, output, threadPool)
    }
}
