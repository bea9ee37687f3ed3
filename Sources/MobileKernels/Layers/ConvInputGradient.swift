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
    /// - Throws: `.invalidArgument` for sizes below 1, channels not divisible by `groups`,
    ///   weights that do not fill `[out, in / groups, kh, kw]`, padding outside `0 ... d * (k - 1)`,
    ///   and what `Conv2D.init` or `DepthwiseConv2D.init` throws for the transposed convolution;
    ///   `.unsupported` for a stride above 1 or a variant this CPU lacks.
    public static func make(inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                            padding: Padding = .zero, dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1,
                            weights: [Float], variant: Variant = .auto, algorithm: ConvAlgorithm = .auto) throws -> any Layer {
        // Checked here: what the transposed convolution cannot see (the forward's padding, which it
        // takes mirrored) and the weight count, before the weights are read. It checks the rest.
        let extentH = dilationH * (kernelH - 1), extentW = dilationW * (kernelW - 1)
        let (count, overflow) = [inChannels / max(groups, 1), kernelH, kernelW].reduce((outChannels, false)) {
            let (product, o) = $0.0.multipliedReportingOverflow(by: $1)
            return (product, $0.1 || o)
        }
        guard groups >= 1, inChannels >= 1, outChannels >= 1, inChannels % groups == 0, outChannels % groups == 0,
              kernelH >= 1, kernelW >= 1, dilationH >= 1, dilationW >= 1, !overflow, weights.count == count else {
            throw MobileKernelsError(.invalidArgument, "ConvInputGradient: \(weights.count) weights for [\(outChannels), \(inChannels) / \(groups), \(kernelH), \(kernelW)]")
        }
        guard (0...extentH).contains(padding.top), (0...extentH).contains(padding.bottom),
              (0...extentW).contains(padding.left), (0...extentW).contains(padding.right) else {
            throw MobileKernelsError(.invalidArgument, "ConvInputGradient: padding \(padding) must lie within the dilated kernel's extent \(extentH)x\(extentW)")
        }
        guard strideH == 1 && strideW == 1 else {
            throw MobileKernelsError(.unsupported, "ConvInputGradient: stride \(strideH)x\(strideW) (only stride 1 runs on the forward kernels so far)")
        }
        let transposedPadding = Padding(top: extentH - padding.top, left: extentW - padding.left,
                                        bottom: extentH - padding.bottom, right: extentW - padding.right)
        var transposed = [Float](repeating: 0, count: weights.count)
        weights.withUnsafeBufferPointer { w in
            transposed.withUnsafeMutableBufferPointer {
                transpose(w, into: $0, inChannels: inChannels, outChannels: outChannels, groups: groups, taps: kernelH * kernelW)
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

    /// The input-gradient layer's weights from the forward's `[outChannels, inChannels / groups,
    /// taps]`: per group `[inChannels / groups, outChannels / groups, taps]`, each kernel flipped.
    static func transpose(_ weights: UnsafeBufferPointer<Float>, into transposed: UnsafeMutableBufferPointer<Float>,
                          inChannels: Int, outChannels: Int, groups: Int, taps: Int) {
        let (cinG, coutG) = (inChannels / groups, outChannels / groups)
        if taps == 1 {
            // A plain transpose per group (1x1 convolutions, Linear layers of up to 102M weights):
            // in 32 x 32 tiles, so neither side walks memory a row apart per element.
            let tile = 32
            for g in 0..<groups {
                let base = g * coutG * cinG
                for o0 in stride(from: 0, to: coutG, by: tile) {
                    for i0 in stride(from: 0, to: cinG, by: tile) {
                        for o in o0..<min(o0 + tile, coutG) {
                            for i in i0..<min(i0 + tile, cinG) { transposed[base + i * coutG + o] = weights[base + o * cinG + i] }
                        }
                    }
                }
            }
            return
        }
        for g in 0..<groups {
            for o in 0..<coutG {
                for i in 0..<cinG {
                    let source = ((g * coutG + o) * cinG + i) * taps, target = ((g * cinG + i) * coutG + o) * taps
                    for t in 0..<taps { transposed[target + t] = weights[source + taps - 1 - t] }
                }
            }
        }
    }

    /// Gives `layer` (made by `make` with these sizes) the input gradient of new forward
    /// `weights`, transposed into `scratch` (at least `weights.count` floats): no allocation.
    /// - Throws: `.invalidArgument` for a layer `make` did not make or a small scratch; the
    ///   layer's `setWeights` errors.
    public static func setWeights(_ layer: any Layer, weights: UnsafeBufferPointer<Float>, inChannels: Int, outChannels: Int,
                                  kernelH: Int, kernelW: Int, groups: Int = 1, scratch: UnsafeMutableBufferPointer<Float>) throws {
        guard groups >= 1, inChannels % groups == 0, outChannels % groups == 0,
              weights.count == outChannels * (inChannels / groups) * kernelH * kernelW else {
            throw MobileKernelsError(.invalidArgument, "ConvInputGradient.setWeights: \(weights.count) weights for [\(outChannels), \(inChannels) / \(groups), \(kernelH), \(kernelW)]")
        }
        // A 1x1 single-group layer packs straight from the forward's weights (their transpose
        // is the input gradient's): no transpose pass, no scratch.
        if kernelH == 1, kernelW == 1, groups == 1, let conv = layer as? Conv2D, try conv.setWeights(transposed: weights) {
            return
        }
        guard scratch.count >= weights.count else {
            throw MobileKernelsError(.invalidArgument, "ConvInputGradient.setWeights: \(weights.count) weights to transpose with \(scratch.count) floats of scratch")
        }
        let target = UnsafeMutableBufferPointer(rebasing: scratch[0..<weights.count])
        transpose(weights, into: target, inChannels: inChannels, outChannels: outChannels, groups: groups, taps: kernelH * kernelW)
        if let conv = layer as? Conv2D {
            try conv.setWeights(UnsafeBufferPointer(target), bias: nil)
        } else if let depthwise = layer as? DepthwiseConv2D {
            try depthwise.setWeights(UnsafeBufferPointer(target), bias: nil)
        } else {
            throw MobileKernelsError(.invalidArgument, "ConvInputGradient.setWeights: \(type(of: layer)) is not a layer ConvInputGradient.make makes")
        }
    }
}
