/// The weight and bias gradients of a 1x1 stride-1 convolution, as one GEMM on the forward
/// convolution's microkernels:
///
///     dW[o, i] = sum over pixels p of dy[p, o] * x[p, i],   dBias[o] = sum over p of dy[p, o]
///
/// is a 1x1 convolution whose "pixels" are the output channels `o` (rows of dy transposed), whose
/// "input channels" are the batch's pixels `p` (the reduction), and whose "weights" are x
/// transposed plus a row of ones (the bias column): the GEMM microkernels, their K blocking and
/// thread splits, unchanged. The sum over pixels runs in the same K blocks for any thread count
/// (threads split output tiles), so the result is bit-identical for 1 and 2 threads.
///
/// Not yet a planned hot path: each call transposes x and dy and packs x's panels anew (the weights
/// of a training step change every step).
public enum ConvWeightGradient {
    /// `dW` in PyTorch's layout `[outChannels, inChannels]` (`[out, in, 1, 1]`) and `dBias`
    /// `[outChannels]` of a 1x1 stride-1 convolution with one group, from its input `x`
    /// `[n, h, w, inChannels]` and the gradient `dy` `[n, h, w, outChannels]` of its output.
    /// - Throws: `.shapeMismatch` when x and dy differ in batch or size; `.unsupported` for a
    ///   variant this CPU lacks.
    public static func pointwise(input x: Tensor, outputGradient dy: Tensor, variant: Variant = .auto,
                                 threadPool: ThreadPool = .shared) throws -> (weight: [Float], bias: [Float]) {
        let (xs, ys) = (x.shape, dy.shape)
        guard xs.n == ys.n, xs.h == ys.h, xs.w == ys.w else {
            throw MobileKernelsError(.shapeMismatch, "ConvWeightGradient.pointwise: input \(xs) and output gradient \(ys) differ in batch or size")
        }
        let (pixels, cin, cout) = (xs.n * xs.h * xs.w, xs.c, ys.c)
        // "Weights" [cin + 1, pixels]: x transposed, then ones for the bias.
        var xT = [Float](repeating: 1, count: (cin + 1) * pixels)
        x.withUnsafeBufferPointer { src in xT.withUnsafeMutableBufferPointer { transpose(src, rows: pixels, columns: cin, into: $0) } }
        // "Input" [1, 1, cout, pixels]: dy transposed.
        var dyT = try Tensor(shape: TensorShape(n: 1, h: 1, w: cout, c: pixels))
        dy.withUnsafeBufferPointer { src in dyT.withUnsafeMutableBufferPointer { transpose(src, rows: pixels, columns: cout, into: $0) } }
        let gemm = try Conv2D(inChannels: pixels, outChannels: cin + 1, kernelH: 1, kernelW: 1, weights: xT, variant: variant,
                              algorithm: .direct)
        let product = try gemm(dyT, threadPool: threadPool).toArray()
        var weight = [Float](repeating: 0, count: cout * cin), bias = [Float](repeating: 0, count: cout)
        for o in 0..<cout {
            for i in 0..<cin { weight[o * cin + i] = product[o * (cin + 1) + i] }
            bias[o] = product[o * (cin + 1) + cin]
        }
        return (weight, bias)
    }

    /// `dW` in PyTorch's layout `[outChannels, inChannels / groups, kernelH, kernelW]` and `dBias`
    /// `[outChannels]` of any convolution (dense KxK, grouped, strided, padded, dilated), from
    /// its input `x` `[n, h, w, inChannels]` and the gradient `dy` of its output: per group, one
    /// GEMM as in `pointwise`, with x's patches (im2col, transposed: one row per (ky, kx, input
    /// channel), zeros for padding) as the "weights". Deterministic for any thread count as
    /// `pointwise` is. Each call builds the patches anew (`kernelH * kernelW` times x's size).
    /// - Throws: `.shapeMismatch` when dy is not the output this geometry gives x, or the
    ///   channels do not divide into the groups; `.invalidArgument` for non-positive sizes or
    ///   padding not below the dilated kernel; `.unsupported` for a variant this CPU lacks.
    public static func general(input x: Tensor, outputGradient dy: Tensor, kernelH: Int, kernelW: Int,
                               strideH: Int = 1, strideW: Int = 1, padding: Padding = .zero,
                               dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1,
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
            return try pointwise(input: x, outputGradient: dy, variant: variant, threadPool: threadPool)
        }
        let (cinG, coutG, taps) = (xs.c / groups, ys.c / groups, kernelH * kernelW)
        let pixels = ys.n * ys.h * ys.w, k = taps * cinG
        var weight = [Float](repeating: 0, count: ys.c * k), bias = [Float](repeating: 0, count: ys.c)
        let xValues = x.toArray(), dyValues = dy.toArray()
        for g in 0..<groups {
            // Patches [pixels, k + 1] (contiguous writes): column (ky, kx, ci) holds x at that tap
            // of every output pixel (0 in the padding), the last column ones for the bias; then
            // transposed in blocks into the GEMM's "weights" [k + 1, pixels].
            var patches = [Float](repeating: 0, count: pixels * (k + 1))
            patches.withUnsafeMutableBufferPointer { out in
                xValues.withUnsafeBufferPointer { xv in
                    for n in 0..<ys.n {
                        for oy in 0..<ys.h {
                            for ox in 0..<ys.w {
                                let p = (n * ys.h + oy) * ys.w + ox
                                let base = p * (k + 1)
                                out[base + k] = 1
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
                }
            }
            var patchesT = [Float](repeating: 0, count: (k + 1) * pixels)
            patches.withUnsafeBufferPointer { src in
                patchesT.withUnsafeMutableBufferPointer { transpose(src, rows: pixels, columns: k + 1, into: $0) }
            }
            // "Input" [1, 1, coutG, pixels]: this group's dy, transposed.
            var dyT = try Tensor(shape: TensorShape(n: 1, h: 1, w: coutG, c: pixels))
            dyValues.withUnsafeBufferPointer { src in
                dyT.withUnsafeMutableBufferPointer {
                    transpose(src, rows: pixels, columns: coutG, stride: ys.c, offset: g * coutG, into: $0)
                }
            }
            let gemm = try Conv2D(inChannels: pixels, outChannels: k + 1, kernelH: 1, kernelW: 1, weights: patchesT,
                                  variant: variant, algorithm: .direct)
            let product = try gemm(dyT, threadPool: threadPool).toArray()
            // Product [coutG][(ky, kx, ci) + bias] to PyTorch's [out][ci][ky][kx].
            for o in 0..<coutG {
                let out = g * coutG + o
                for tap in 0..<taps {
                    for ci in 0..<cinG { weight[(out * cinG + ci) * taps + tap] = product[o * (k + 1) + tap * cinG + ci] }
                }
                bias[out] = product[o * (k + 1) + k]
            }
        }
        return (weight, bias)
    }

    /// `out[c * rows + r] = a[r * stride + offset + c]` for c in `0..<columns` (stride defaults to
    /// `columns`), in 16 x 16 blocks (both sides stay in cache).
    private static func transpose(_ a: UnsafeBufferPointer<Float>, rows: Int, columns: Int, stride rowStride: Int? = nil,
                                  offset: Int = 0, into out: UnsafeMutableBufferPointer<Float>) {
        let block = 16, step = rowStride ?? columns
        for r0 in stride(from: 0, to: rows, by: block) {
            for c0 in stride(from: 0, to: columns, by: block) {
                for r in r0..<min(r0 + block, rows) {
                    for c in c0..<min(c0 + block, columns) { out[c * rows + r] = a[r * step + offset + c] }
                }
            }
        }
    }
}
