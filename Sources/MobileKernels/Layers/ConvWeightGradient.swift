internal import CKernels

/// The weight and bias gradients of convolutions as one GEMM over the batch's pixels on the
/// `f32_wgrad` microkernels (`mk_weight_gradient_f32`), both operands packed from NHWC by the
/// kernel:
///
///     dW[o, i] = sum over pixels p of dy[p, o] * x[p, i],   dBias[o] = sum over p of dy[p, o]
///
/// (for a KxK convolution x is replaced by its im2col patches, which the kernel builds while it
/// packs: `mk_conv2d_weight_gradient_f32`). Each element is one chain of multiply-adds in pixel
/// order and threads split the output channels, so the result is bit-identical for any thread
/// count. Each function comes in two forms: one returning new arrays, one writing into the
/// caller's buffers (a training step's planned gradients; no allocation).
public enum ConvWeightGradient {
    /// The GEMM's packing workspace (and a KxK convolution's gradient before its reordering),
    /// kept between calls: it grows to the largest asked for; a concurrent caller gets its own
    /// for the call.
    private static let workspace = Scratch()

    /// `dW` in PyTorch's layout `[outChannels, inChannels]` (`[out, in, 1, 1]`) and `dBias`
    /// `[outChannels]` (empty when `bias` is false) of a 1x1 stride-1 convolution with one
    /// group, from its input `x` `[n, h, w, inChannels]` and the gradient `dy`
    /// `[n, h, w, outChannels]` of its output.
    /// - Throws: `.shapeMismatch` when x and dy differ in batch or size; `.unsupported` for a
    ///   variant this CPU lacks.
    public static func pointwise(input x: Tensor, outputGradient dy: Tensor, bias wantsBias: Bool = true, variant: Variant = .auto,
                                 threadPool: ThreadPool = .shared) throws -> (weight: [Float], bias: [Float]) {
        try general(input: x, outputGradient: dy, kernelH: 1, kernelW: 1, bias: wantsBias, variant: variant, threadPool: threadPool)
    }

    /// `dW` in PyTorch's layout `[outChannels, inChannels / groups, kernelH, kernelW]` and `dBias`
    /// `[outChannels]` (empty when `bias` is false) of any convolution (dense KxK, grouped,
    /// strided, padded, dilated), from its input `x` `[n, h, w, inChannels]` and the gradient
    /// `dy` of its output: per group, the GEMM of `pointwise` with x's im2col patches (one column
    /// per (ky, kx, input channel), zeros for padding) in place of x.
    /// - Throws: `.shapeMismatch` when dy is not the output this geometry gives x, or the
    ///   channels do not divide into the groups; `.invalidArgument` for non-positive sizes or
    ///   padding not below the dilated kernel; `.unsupported` for a variant this CPU lacks.
    public static func general(input x: Tensor, outputGradient dy: Tensor, kernelH: Int, kernelW: Int,
                               strideH: Int = 1, strideW: Int = 1, padding: Padding = .zero,
                               dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1, bias wantsBias: Bool = true,
                               variant: Variant = .auto, threadPool: ThreadPool = .shared) throws -> (weight: [Float], bias: [Float]) {
        let problem = try Problem(x.shape, dy.shape, kernelH, kernelW, strideH, strideW, padding, dilationH, dilationW, groups)
        var weight = [Float](repeating: 0, count: problem.weightCount), bias = [Float](repeating: 0, count: wantsBias ? dy.shape.c : 0)
        try weight.withUnsafeMutableBufferPointer { w in
            try bias.withUnsafeMutableBufferPointer { b in
                try run(problem, x, dy, w.baseAddress!, wantsBias ? b.baseAddress! : nil, variant, threadPool)
            }
        }
        return (weight, bias)
    }

    /// `general`, writing `dW` (PyTorch's layout, `outChannels * inChannels / groups * kernelH *
    /// kernelW` floats) into `weightGradient` and `dBias` (`outChannels` floats) into
    /// `biasGradient` when it is given; nothing is allocated once the workspace has grown.
    /// - Throws: as `general`, and `.shapeMismatch` for buffers of another size.
    public static func general(input x: Tensor, outputGradient dy: Tensor, kernelH: Int, kernelW: Int,
                               strideH: Int = 1, strideW: Int = 1, padding: Padding = .zero,
                               dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1,
                               weightGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>?,
                               variant: Variant = .auto, threadPool: ThreadPool = .shared) throws {
        let problem = try Problem(x.shape, dy.shape, kernelH, kernelW, strideH, strideW, padding, dilationH, dilationW, groups)
        guard weightGradient.count == problem.weightCount, biasGradient.map({ $0.count == dy.shape.c }) ?? true else {
            throw MobileKernelsError(.shapeMismatch, "\(problem.name): gradient buffers of \(weightGradient.count) and \(biasGradient?.count ?? 0) floats for a weight of \(problem.weightCount) and a bias of \(dy.shape.c)")
        }
        try run(problem, x, dy, weightGradient.baseAddress!, biasGradient?.baseAddress, variant, threadPool)
    }

    /// A checked geometry.
    private struct Problem {
        let kernel: (h: Int, w: Int), stride: (h: Int, w: Int), padding: Padding
        /// For error messages (built only when one is thrown: no allocation per call).
        var name: String {
            "ConvWeightGradient(\(kernel.h)x\(kernel.w), stride \(stride.h)x\(stride.w), \(padding), groups \(groups))"
        }
        let geometry: mk_conv2d_wgrad_geometry
        let groups: Int, taps: Int
        /// A 1x1 stride-1 unpadded convolution: x's channel slices are the GEMM's B as they are.
        let pointwise: Bool
        var weightCount: Int { groups * Int(geometry.out_channels) * taps * Int(geometry.in_channels) }

        init(_ xs: TensorShape, _ ys: TensorShape, _ kernelH: Int, _ kernelW: Int, _ strideH: Int, _ strideW: Int, _ padding: Padding,
             _ dilationH: Int, _ dilationW: Int, _ groups: Int) throws {
            (kernel, stride, self.padding, self.groups) = ((kernelH, kernelW), (strideH, strideW), padding, groups)
            func name() -> String { "ConvWeightGradient(\(kernelH)x\(kernelW), stride \(strideH)x\(strideW), \(padding), groups \(groups))" }
            guard kernelH >= 1, kernelW >= 1, strideH >= 1, strideW >= 1, dilationH >= 1, dilationW >= 1, groups >= 1,
                  padding.top >= 0, padding.left >= 0, padding.bottom >= 0, padding.right >= 0 else {
                throw MobileKernelsError(.invalidArgument, "\(name()): sizes must be positive and padding non-negative")
            }
            let extentH = dilationH * (kernelH - 1) + 1, extentW = dilationW * (kernelW - 1) + 1
            guard padding.top < extentH, padding.bottom < extentH, padding.left < extentW, padding.right < extentW else {
                throw MobileKernelsError(.invalidArgument, "\(name()): padding must be below the dilated kernel")
            }
            guard xs.c % groups == 0, ys.c % groups == 0 else {
                throw MobileKernelsError(.shapeMismatch, "\(name()): \(xs.c) input and \(ys.c) output channels do not divide into \(groups) groups")
            }
            let paddedH = xs.h + padding.top + padding.bottom, paddedW = xs.w + padding.left + padding.right
            guard paddedH >= extentH, paddedW >= extentW, ys.n == xs.n,
                  ys.h == (paddedH - extentH) / strideH + 1, ys.w == (paddedW - extentW) / strideW + 1 else {
                throw MobileKernelsError(.shapeMismatch, "\(name()): input \(xs) does not give the output gradient's \(ys)")
            }
            taps = kernelH * kernelW
            pointwise = kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padding == .zero
            geometry = mk_conv2d_wgrad_geometry(
                batch: xs.n, in_h: xs.h, in_w: xs.w, out_h: ys.h, out_w: ys.w, kernel_h: kernelH, kernel_w: kernelW,
                stride_h: strideH, stride_w: strideW, dilation_h: dilationH, dilation_w: dilationW,
                pad_top: padding.top, pad_left: padding.left, in_channels: xs.c / groups, out_channels: ys.c / groups,
                input_pixel_stride: xs.c, output_pixel_stride: ys.c)
        }
    }

    private static func run(_ problem: Problem, _ x: Tensor, _ dy: Tensor, _ weight: UnsafeMutablePointer<Float>,
                            _ bias: UnsafeMutablePointer<Float>?, _ variant: Variant, _ threadPool: ThreadPool) throws {
        var geometry = problem.geometry
        let (cinG, coutG, taps) = (Int(geometry.in_channels), Int(geometry.out_channels), problem.taps)
        let k = taps * cinG, pixels = dy.shape.pixels
        var bytes = 0
        try check(mk_conv2d_weight_gradient_f32_workspace_bytes(&geometry, variant.cValue, threadPool.handle, &bytes), problem.name)
        // A KxK convolution's GEMM gives [out][(ky, kx, ci)]: computed beside the workspace, then
        // reordered into PyTorch's [out][ci][ky][kx], group by group (a strided or padded 1x1
        // one too: its reorder is a copy). A plain 1x1 one writes in place.
        let productFloats = problem.pointwise ? 0 : (coutG * k + 15) / 16 * 16
        if problem.pointwise {
            // Every group in one job: one pass over x and dy (mk_grouped_weight_gradient_f32).
            let status = x.withUnsafeBufferPointer { xv in
                dy.withUnsafeBufferPointer { dv in
                    workspace.with(bytes: bytes) { ws in
                        mk_grouped_weight_gradient_f32(pixels, problem.groups, coutG, cinG, dv.baseAddress!, dy.shape.c,
                                                       xv.baseAddress!, x.shape.c, weight, cinG, bias, false, ws, bytes,
                                                       variant.cValue, threadPool.handle)
                    }
                }
            }
            return try check(status, problem.name)
        }
        for g in 0..<problem.groups {
            let status = x.withUnsafeBufferPointer { xv in
                dy.withUnsafeBufferPointer { dv in
                    workspace.with(bytes: productFloats * 4 + bytes) { memory -> mk_status in
                        let base = memory!.assumingMemoryBound(to: Float.self)
                        let ws = UnsafeMutableRawPointer(base + productFloats)
                        let status = mk_conv2d_weight_gradient_f32(&geometry, xv.baseAddress! + g * cinG, dv.baseAddress! + g * coutG, base,
                                                                   bias.map { $0 + g * coutG }, false, ws, bytes, variant.cValue,
                                                                   threadPool.handle)
                        guard status == MK_STATUS_OK else { return status }
                        for o in 0..<coutG {
                            let src = base + o * k, dst = weight + (g * coutG + o) * k
                            for ci in 0..<cinG {
                                for tap in 0..<taps { dst[ci * taps + tap] = src[tap * cinG + ci] }
                            }
                        }
                        return status
                    }
                }
            }
            try check(status, problem.name)
        }
    }
}
