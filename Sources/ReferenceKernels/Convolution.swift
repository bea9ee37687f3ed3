// Convolution: general grouped / dilated conv2d, a separate depthwise loop, and the output-size rule.

extension Reference {
    /// Output length of one spatial dimension of a convolution or pooling window (floor mode):
    /// `(input + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride + 1`.
    /// - Precondition: `input, kernel, stride, dilation >= 1`, paddings `>= 0`, and the dilated kernel
    ///   fits in the padded input (the result is `>= 1`).
    public static func outputSize(input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int,
                                  dilation: Int = 1) -> Int {
        precondition(input >= 1 && kernel >= 1 && stride >= 1 && dilation >= 1 && padBefore >= 0 && padAfter >= 0,
                     "Reference.outputSize: need input, kernel, stride, dilation >= 1 and padding >= 0; got input: \(input), kernel: \(kernel), stride: \(stride), dilation: \(dilation), padding: \(padBefore)/\(padAfter)")
        let span = input + padBefore + padAfter - dilation * (kernel - 1) - 1
        precondition(span >= 0,
                     "Reference.outputSize: dilated kernel \(dilation * (kernel - 1) + 1) larger than padded input \(input + padBefore + padAfter)")
        return span / stride + 1
    }

    /// General 2-D convolution (cross-correlation, like PyTorch `Conv2d`), grouped and dilated, with
    /// zero padding, optional bias and a fused activation.
    ///
    /// - Input `x`: NHWC `[n, h, w, cin]`.
    /// - `weight`: PyTorch layout `[outChannels, cin / groups, kernelH, kernelW]`, i.e.
    ///   `weight[((o * (cin / groups) + i) * kernelH + ky) * kernelW + kx]`.
    /// - `bias`: `[outChannels]` or nil (no add).
    /// - Output: NHWC `[n, oh, ow, outChannels]` with
    ///   `oh = (h + top + bottom - dilationH * (kernelH - 1) - 1) / strideH + 1`, likewise `ow`.
    ///
    /// Output channel `o` belongs to group `g = o / (outChannels / groups)` and reads input channels
    /// `g * (cin / groups) ..< (g + 1) * (cin / groups)`. Input position for output `(oy, ox)` and tap
    /// `(ky, kx)` is `(oy * strideH - top + ky * dilationH, ox * strideW - left + kx * dilationW)`;
    /// taps falling in the padding contribute zero (they are skipped).
    /// Each output is accumulated in `Float` starting from `0`, in the order input channel, then `ky`,
    /// then `kx`; then the bias is added, then the activation applied.
    /// Depthwise is `groups == cin == outChannels`; pointwise is `kernelH == kernelW == 1` (run by a
    /// shorter loop with the same order, since it carries most of a MobileNet's FLOPs).
    ///
    /// - Precondition: `groups >= 1` divides both `cin` and `outChannels`; kernel, stride and dilation
    ///   `>= 1`; padding `>= 0`; `weight.count == outChannels * (cin / groups) * kernelH * kernelW`;
    ///   `bias` nil or `outChannels` long; output size `>= 1`; a `clamp` has `min <= max`.
    public static func conv2d(_ x: RefTensor, weight: [Float], bias: [Float]?, outChannels: Int,
                              kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                              padding: RefPadding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                              groups: Int = 1, activation: RefActivation = .none) -> RefTensor {
        let fn = "Reference.conv2d"
        activation.validate(fn)
        precondition(outChannels >= 1, "\(fn): outChannels must be >= 1, got \(outChannels)")
        precondition(groups >= 1, "\(fn): groups must be >= 1, got \(groups)")
        precondition(x.c % groups == 0, "\(fn): input channels \(x.c) not divisible by groups \(groups)")
        precondition(outChannels % groups == 0, "\(fn): outChannels \(outChannels) not divisible by groups \(groups)")
        precondition(kernelH >= 1 && kernelW >= 1, "\(fn): kernel must be >= 1, got \(kernelH)x\(kernelW)")
        precondition(strideH >= 1 && strideW >= 1, "\(fn): stride must be >= 1, got \(strideH)x\(strideW)")
        precondition(dilationH >= 1 && dilationW >= 1, "\(fn): dilation must be >= 1, got \(dilationH)x\(dilationW)")
        precondition(padding.isValid, "\(fn): padding must be >= 0, got \(padding)")
        let cinG = x.c / groups
        let coutG = outChannels / groups
        precondition(weight.count == outChannels * cinG * kernelH * kernelW,
                     "\(fn): weight.count \(weight.count) != outChannels*(cin/groups)*kh*kw = \(outChannels)*\(cinG)*\(kernelH)*\(kernelW)")
        if let bias {
            precondition(bias.count == outChannels, "\(fn): bias.count \(bias.count) != outChannels \(outChannels)")
        }
        let oh = outputSize(input: x.h, kernel: kernelH, stride: strideH, padBefore: padding.top,
                            padAfter: padding.bottom, dilation: dilationH)
        let ow = outputSize(input: x.w, kernel: kernelW, stride: strideW, padBefore: padding.left,
                            padAfter: padding.right, dilation: dilationW)

        let (h, w, cin) = (x.h, x.w, x.c)
        let src = x.data
        var out = [Float](repeating: 0, count: x.n * oh * ow * outChannels)
        for b in 0..<x.n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let outBase = ((b * oh + oy) * ow + ox) * outChannels
                    if kernelH == 1 && kernelW == 1 {
                        // Pointwise: the single tap, same order (input channels) without the tap loops.
                        let iy = oy * strideH - padding.top
                        let ix = ox * strideW - padding.left
                        let inside = iy >= 0 && iy < h && ix >= 0 && ix < w
                        let pixel = ((b * h + iy) * w + ix) * cin
                        for o in 0..<outChannels {
                            let g = o / coutG
                            var acc: Float = 0
                            if inside {
                                for i in 0..<cinG {
                                    acc += src[pixel + g * cinG + i] * weight[o * cinG + i]
                                }
                            }
                            if let bias { acc += bias[o] }
                            out[outBase + o] = activation.apply(acc)
                        }
                        continue
                    }
                    for o in 0..<outChannels {
                        let g = o / coutG
                        var acc: Float = 0
                        for i in 0..<cinG {
                            let ci = g * cinG + i
                            for ky in 0..<kernelH {
                                let iy = oy * strideH - padding.top + ky * dilationH
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kernelW {
                                    let ix = ox * strideW - padding.left + kx * dilationW
                                    if ix < 0 || ix >= w { continue }
                                    acc += src[((b * h + iy) * w + ix) * cin + ci]
                                        * weight[((o * cinG + i) * kernelH + ky) * kernelW + kx]
                                }
                            }
                        }
                        if let bias { acc += bias[o] }
                        out[outBase + o] = activation.apply(acc)
                    }
                }
            }
        }
        return RefTensor(n: x.n, h: oh, w: ow, c: outChannels, data: out)
    }

    /// Depthwise 2-D convolution (channel multiplier 1), written as its own loop so tests can check it
    /// against `conv2d(..., groups: c)`; the result is identical element for element.
    ///
    /// - Input `x`: NHWC `[n, h, w, c]`; `weight`: PyTorch layout `[c, 1, kernelH, kernelW]`, i.e.
    ///   `weight[(ch * kernelH + ky) * kernelW + kx]`; `bias`: `[c]` or nil.
    /// - Output: NHWC `[n, oh, ow, c]`, sizes as in `conv2d`.
    ///
    /// `y[b, oy, ox, ch] = act(sum_{ky, kx} x[b, oy*sH - top + ky*dH, ox*sW - left + kx*dW, ch] *
    /// weight[ch, 0, ky, kx] + bias[ch])`, summed in `Float` from `0` in `ky` then `kx` order, padded taps
    /// skipped.
    /// - Precondition: as `conv2d` with `groups == outChannels == c`.
    public static func depthwiseConv2d(_ x: RefTensor, weight: [Float], bias: [Float]?,
                                       kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                                       padding: RefPadding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                                       activation: RefActivation = .none) -> RefTensor {
        let fn = "Reference.depthwiseConv2d"
        activation.validate(fn)
        precondition(kernelH >= 1 && kernelW >= 1, "\(fn): kernel must be >= 1, got \(kernelH)x\(kernelW)")
        precondition(strideH >= 1 && strideW >= 1, "\(fn): stride must be >= 1, got \(strideH)x\(strideW)")
        precondition(dilationH >= 1 && dilationW >= 1, "\(fn): dilation must be >= 1, got \(dilationH)x\(dilationW)")
        precondition(padding.isValid, "\(fn): padding must be >= 0, got \(padding)")
        let (h, w, c) = (x.h, x.w, x.c)
        precondition(weight.count == c * kernelH * kernelW,
                     "\(fn): weight.count \(weight.count) != c*kh*kw = \(c)*\(kernelH)*\(kernelW)")
        if let bias {
            precondition(bias.count == c, "\(fn): bias.count \(bias.count) != channels \(c)")
        }
        let oh = outputSize(input: h, kernel: kernelH, stride: strideH, padBefore: padding.top,
                            padAfter: padding.bottom, dilation: dilationH)
        let ow = outputSize(input: w, kernel: kernelW, stride: strideW, padBefore: padding.left,
                            padAfter: padding.right, dilation: dilationW)
        let src = x.data
        var out = [Float](repeating: 0, count: x.n * oh * ow * c)
        for b in 0..<x.n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<c {
                        var acc: Float = 0
                        for ky in 0..<kernelH {
                            let iy = oy * strideH - padding.top + ky * dilationH
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<kernelW {
                                let ix = ox * strideW - padding.left + kx * dilationW
                                if ix < 0 || ix >= w { continue }
                                acc += src[((b * h + iy) * w + ix) * c + ch] * weight[(ch * kernelH + ky) * kernelW + kx]
                            }
                        }
                        if let bias { acc += bias[ch] }
                        out[((b * oh + oy) * ow + ox) * c + ch] = activation.apply(acc)
                    }
                }
            }
        }
        return RefTensor(n: x.n, h: oh, w: ow, c: c, data: out)
    }
}
