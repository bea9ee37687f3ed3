internal import CKernels

/// The weight and bias gradients of convolutions as one GEMM over the batch's pixels on the
/// `f32_wgrad` microkernels (`mk_weight_gradient_f32`), both operands read in place from NHWC:
///
///     dW[o, i] = sum over pixels p of dy[p, o] * x[p, i],   dBias[o] = sum over p of dy[p, o]
///
/// (for a KxK convolution x is replaced by its im2col patches, built in blocks of pixels). Each
/// element is one chain of multiply-adds in pixel order and threads split the output channels,
/// so the result is bit-identical for any thread count.
public enum ConvWeightGradient {
    /// `dW` in PyTorch's layout `[outChannels, inChannels]` (`[out, in, 1, 1]`) and `dBias`
    /// `[outChannels]` (empty when `bias` is false) of a 1x1 stride-1 convolution with one
    /// group, from its input `x` `[n, h, w, inChannels]` and the gradient `dy`
    /// `[n, h, w, outChannels]` of its output.
    /// - Throws: `.shapeMismatch` when x and dy differ in batch or size; `.unsupported` for a
    ///   variant this CPU lacks.
    public static func pointwise(input x: Tensor, outputGradient dy: Tensor, bias wantsBias: Bool = true, variant: Variant = .auto,
                                 threadPool: ThreadPool = .shared) throws -> (weight: [Float], bias: [Float]) {
        let (xs, ys) = (x.shape, dy.shape)
        guard xs.n == ys.n, xs.h == ys.h, xs.w == ys.w else {
            throw MobileKernelsError(.shapeMismatch, "ConvWeightGradient.pointwise: input \(xs) and output gradient \(ys) differ in batch or size")
        }
        let (pixels, cin, cout) = (xs.pixels, xs.c, ys.c)
        var weight = [Float](repeating: 0, count: cout * cin), bias = [Float](repeating: 0, count: wantsBias ? cout : 0)
        let status = x.withUnsafeBufferPointer { xv in
            dy.withUnsafeBufferPointer { dv in
                bias.withUnsafeMutableBufferPointer { bv in
                    mk_weight_gradient_f32(pixels, cout, cin, dv.baseAddress, cout, xv.baseAddress, cin, &weight, cin,
                                           wantsBias ? bv.baseAddress : nil, false, variant.cValue, threadPool.handle)
                }
            }
        }
        try check(status, "ConvWeightGradient.pointwise(\(cin) -> \(cout), \(variant))")
        return (weight, bias)
    }

    /// `dW` in PyTorch's layout `[outChannels, inChannels / groups, kernelH, kernelW]` and `dBias`
    /// `[outChannels]` (empty when `bias` is false) of any convolution (dense KxK, grouped,
    /// strided, padded, dilated), from its input `x` `[n, h, w, inChannels]` and the gradient
    /// `dy` of its output: per group, the GEMM of `pointwise` with x's im2col patches (one column
    /// per (ky, kx, input channel), zeros for padding) in place of x, built in blocks of pixels.
    /// Deterministic for any thread count as `pointwise` is.
    /// - Throws: `.shapeMismatch` when dy is not the output this geometry gives x, or the
    ///   channels do not divide into the groups; `.invalidArgument` for non-positive sizes or
    ///   padding not below the dilated kernel; `.unsupported` for a variant this CPU lacks.
    public static func general(input x: Tensor, outputGradient dy: Tensor, kernelH: Int, kernelW: Int,
                               strideH: Int = 1, strideW: Int = 1, padding: Padding = .zero,
                               dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1, bias wantsBias: Bool = true,
                               variant: Variant = .auto, threadPool: ThreadPool = .shared) throws -> (weight: [Float], bias: [Float]) {
        let (xs, ys) = (x.shape, dy.shape)
        let name = "ConvWeightGradient.general(\(kernelH)x\(kernelW), stride \(strideH)x\(strideW), \(padding), groups \(groups))"
        guard [kernelH, kernelW, strideH, strideW, dilationH, dilationW, groups].allSatisfy({ $0 >= 1 }),
              [padding.top, padding.left, padding.bottom, padding.right].allSatisfy({ $0 >= 0 }) else {
            throw MobileKernelsError(.invalidArgument, "\(name): sizes must be positive and padding non-negative")
        }
        let extentH = dilationH * (kernelH - 1) + 1, extentW = dilationW * (kernelW - 1) + 1
        guard padding.top < extentH, padding.bottom < extentH, padding.left < extentW, padding.right < extentW else {
            throw MobileKernelsError(.invalidArgument, "\(name): padding must be below the dilated kernel")
        }
        guard xs.c % groups == 0, ys.c % groups == 0 else {
            throw MobileKernelsError(.shapeMismatch, "\(name): \(xs.c) input and \(ys.c) output channels do not divide into \(groups) groups")
        }
        let paddedH = xs.h + padding.top + padding.bottom, paddedW = xs.w + padding.left + padding.right
        guard paddedH >= extentH, paddedW >= extentW, ys.n == xs.n,
              ys.h == (paddedH - extentH) / strideH + 1, ys.w == (paddedW - extentW) / strideW + 1 else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(xs) does not give the output gradient's \(ys)")
        }
        if kernelH == 1, kernelW == 1, strideH == 1, strideW == 1, padding == .zero, groups == 1 {
            return try pointwise(input: x, outputGradient: dy, bias: wantsBias, variant: variant, threadPool: threadPool)
        }
        let (cinG, coutG, taps) = (xs.c / groups, ys.c / groups, kernelH * kernelW)
        let pixels = ys.n * ys.h * ys.w, k = taps * cinG
        if kernelH == 1, kernelW == 1, strideH == 1, strideW == 1, padding == .zero {
            // Grouped 1x1: each group's GEMM reads its channel slices of x and dy in place.
            var weight = [Float](repeating: 0, count: ys.c * cinG), bias = [Float](repeating: 0, count: wantsBias ? ys.c : 0)
            for g in 0..<groups {
                let status = x.withUnsafeBufferPointer { xv in
                    dy.withUnsafeBufferPointer { dv in
                        weight.withUnsafeMutableBufferPointer { wv in
                            bias.withUnsafeMutableBufferPointer { bv in
                                mk_weight_gradient_f32(pixels, coutG, cinG, dv.baseAddress! + g * coutG, ys.c, xv.baseAddress! + g * cinG, xs.c,
                                                       wv.baseAddress! + g * coutG * cinG, cinG, wantsBias ? bv.baseAddress! + g * coutG : nil,
                                                       false, variant.cValue, threadPool.handle)
                            }
                        }
                    }
                }
                try check(status, name)
            }
            return (weight, bias)
        }
        // Patches in blocks of pixels (about 4M floats): the GEMM continues its chains across
        // blocks, in order.
        let block = max(64, min(pixels, (1 << 22) / k))
        var patches = [Float](repeating: 0, count: block * k)
        var product = [Float](repeating: 0, count: coutG * k)
        var weight = [Float](repeating: 0, count: ys.c * k), bias = [Float](repeating: 0, count: wantsBias ? ys.c : 0)
        for g in 0..<groups {
            for p0 in stride(from: 0, to: pixels, by: block) {
                let count = min(block, pixels - p0)
                patches.withUnsafeMutableBufferPointer { out in
                    x.withUnsafeBufferPointer { xv in
                        for q in 0..<count {
                            let p = p0 + q
                            let (n, rest) = p.quotientAndRemainder(dividingBy: ys.h * ys.w)
                            let (oy, ox) = rest.quotientAndRemainder(dividingBy: ys.w)
                            let base = q * k
                            for i in base..<(base + k) { out[i] = 0 }
                            for ky in 0..<kernelH {
                                let iy = oy * strideH - padding.top + ky * dilationH
                                guard iy >= 0, iy < xs.h else { continue }
                                for kx in 0..<kernelW {
                                    let ix = ox * strideW - padding.left + kx * dilationW
                                    guard ix >= 0, ix < xs.w else { continue }
                                    let src = ((n * xs.h + iy) * xs.w + ix) * xs.c + g * cinG
                                    let dst = base + (ky * kernelW + kx) * cinG
                                    for ci in 0..<cinG { out[dst + ci] = xv[src + ci] }
                                }
                            }
                        }
                    }
                }
                let status = dy.withUnsafeBufferPointer { dv in
                    patches.withUnsafeBufferPointer { pv in
                        product.withUnsafeMutableBufferPointer { cv in
                            bias.withUnsafeMutableBufferPointer { bv in
                                mk_weight_gradient_f32(count, coutG, k, dv.baseAddress! + p0 * ys.c + g * coutG, ys.c, pv.baseAddress, k,
                                                       cv.baseAddress, k, wantsBias ? bv.baseAddress! + g * coutG : nil, p0 > 0, variant.cValue,
                                                       threadPool.handle)
                            }
                        }
                    }
                }
                try check(status, name)
            }
            // Product [coutG][(ky, kx, ci)] to PyTorch's [out][ci][ky][kx].
            for o in 0..<coutG {
                let out = g * coutG + o
                for tap in 0..<taps {
                    for ci in 0..<cinG { weight[(out * cinG + ci) * taps + tap] = product[o * k + tap * cinG + ci] }
                }
            }
        }
        return (weight, bias)
    }
}
