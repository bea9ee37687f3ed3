/// The gradient of a stride-1 convolution with respect to its input, run on the forward
/// convolution's kernels: for `y = conv(x, W)` with stride 1, dilation `d` and padding
/// `top, left, bottom, right`,
///
///     dx = conv(dy, W'),  W'[g * Cin/G + i, o, ky, kx] = W[g * Cout/G + o, i, kh - 1 - ky, kw - 1 - kx]
///
/// with the same groups and dilation and padding `d * (k - 1) - p` on each side (the transposed
/// convolution written as a convolution: no col2im, no scatter). Dense, 1x1 and grouped
/// convolutions run as a `Conv2D` (Winograd included where `.auto` picks it), depthwise ones as a
/// `DepthwiseConv2D`, on every variant the forward has. Stride-2 convolutions need the phase
/// decomposition and are not covered yet: they throw `.unsupported`.
public enum ConvInputGradient {
    /// The convolution that maps `dy` `[n, oh, ow, outChannels]` to `dx` `[n, h, w, inChannels]`
    /// for the forward convolution described by the arguments (PyTorch weight layout `[out, in /
    /// groups, kh, kw]`). Run it with `forward(_:into:threadPool:)` like any layer.
    /// - Throws: what `Conv2D.init` throws for the forward geometry, and `.unsupported` for a
    ///   stride above 1.
    public static func make(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                            padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1,
                            weights: [Float], variant: Variant = .auto, algorithm: ConvAlgorithm = .auto) throws -> any Layer {
        // The forward geometry and weights are checked by creating the forward convolution.
        _ = try Conv2D(inChannels: inChannels, outChannels: outChannels, kernelH: kernelH, kernelW: kernelW,
                       strideH: strideH, strideW: strideW, padding: padding, dilationH: dilationH, dilationW: dilationW,
                       groups: groups, weights: weights, variant: variant, algorithm: .direct)
        guard strideH == 1 && strideW == 1 else {
            throw MobileKernelsError(.unsupported, "ConvInputGradient: stride \(strideH)x\(strideW) (only stride 1 runs on the forward kernels so far)")
        }
        let extentH = dilationH * (kernelH - 1), extentW = dilationW * (kernelW - 1)
        let transposedPadding = Padding(top: extentH - padding.top, left: extentW - padding.left,
                                        bottom: extentH - padding.bottom, right: extentW - padding.right)
        let (cinG, coutG, taps) = (inChannels / groups, outChannels / groups, kernelH * kernelW)
        var transposed = [Float](repeating: 0, count: weights.count)
        for g in 0..<groups {
            for o in 0..<coutG {
                for i in 0..<cinG {
                    let source = ((g * coutG + o) * cinG + i) * taps, target = ((g * cinG + i) * coutG + o) * taps
                    for t in 0..<taps { transposed[target + t] = weights[source + taps - 1 - t] }
                }
            }
        }
        if groups == inChannels && groups == outChannels {
            return try DepthwiseConv2D(channels: inChannels, kernelH: kernelH, kernelW: kernelW, padding: transposedPadding,
                                       dilationH: dilationH, dilationW: dilationW, weights: transposed, variant: variant)
        }
        return try Conv2D(inChannels: outChannels, outChannels: inChannels, kernelH: kernelH, kernelW: kernelW,
                          padding: transposedPadding, dilationH: dilationH, dilationW: dilationW, groups: groups,
                          weights: transposed, variant: variant, algorithm: algorithm)
    }
}
