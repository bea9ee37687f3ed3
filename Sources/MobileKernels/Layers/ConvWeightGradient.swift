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

    /// `out[c * rows + r] = a[r * columns + c]`, in 16 x 16 blocks (both sides stay in cache).
    private static func transpose(_ a: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<Float>) {
        let block = 16
        for r0 in stride(from: 0, to: rows, by: block) {
            for c0 in stride(from: 0, to: columns, by: block) {
                for r in r0..<min(r0 + block, rows) {
                    for c in c0..<min(c0 + block, columns) { out[c * rows + r] = a[r * columns + c] }
                }
            }
        }
    }
}
