// Pooling: max, average (PyTorch count_include_pad semantics) and global average.

extension Reference {
    /// 2-D max pooling over NHWC `[n, h, w, c]`, per channel, floor mode (PyTorch `MaxPool2d`,
    /// `ceil_mode=False`, `dilation=1`).
    ///
    /// Output `[n, oh, ow, c]` with `oh = (h + top + bottom - kernelH) / strideH + 1` (likewise `ow`).
    /// `y[b, oy, ox, ch]` is the maximum of `x[b, iy, ix, ch]` over the window
    /// `iy = oy * strideH - top + 0..<kernelH`, `ix = ox * strideW - left + 0..<kernelW`, restricted to
    /// the image: padded positions are ignored (PyTorch pads with `-inf`), never treated as zero.
    /// The window is scanned in order (rows, then columns) keeping `v` when `v > best || v.isNaN`, as
    /// PyTorch does, so any NaN in the window gives NaN.
    /// - Precondition: kernel and stride `>= 1`; `0 <= padding < kernel` on each side (so every window
    ///   holds at least one real element; PyTorch is stricter: `pad <= kernel / 2`); output `>= 1`.
    public static func maxPool2d(_ x: RefTensor, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
                                 padding: RefPadding = .zero) -> RefTensor {
        let (oh, ow) = poolOutputSize("Reference.maxPool2d", x, kernelH, kernelW, strideH, strideW, padding)
        let (h, w, c) = (x.h, x.w, x.c)
        let src = x.data
        var out = [Float](repeating: 0, count: x.n * oh * ow * c)
        for b in 0..<x.n {
            for oy in 0..<oh {
                let y0 = max(oy * strideH - padding.top, 0)
                let y1 = min(oy * strideH - padding.top + kernelH, h)
                for ox in 0..<ow {
                    let x0 = max(ox * strideW - padding.left, 0)
                    let x1 = min(ox * strideW - padding.left + kernelW, w)
                    for ch in 0..<c {
                        var best = src[((b * h + y0) * w + x0) * c + ch]
                        for iy in y0..<y1 {
                            for ix in x0..<x1 {
                                let v = src[((b * h + iy) * w + ix) * c + ch]
                                if v > best || v.isNaN { best = v }
                            }
                        }
                        out[((b * oh + oy) * ow + ox) * c + ch] = best
                    }
                }
            }
        }
        return RefTensor(n: x.n, h: oh, w: ow, c: c, data: out)
    }

    /// 2-D average pooling over NHWC `[n, h, w, c]`, per channel, floor mode, following PyTorch's
    /// `AvgPool2d` (`ceil_mode=False`, no `divisor_override`) exactly.
    ///
    /// Output `[n, oh, ow, c]` with `oh = (h + top + bottom - kernelH) / strideH + 1` (likewise `ow`).
    /// For output row `oy` (columns alike), as in PyTorch's `avg_pool2d` CPU kernel:
    /// ```
    /// hstart = oy * strideH - top
    /// hend   = min(hstart + kernelH, h + bottom)     // clipped to the *padded* bounds
    /// poolSize = (hend - hstart) * (wend - wstart)   // computed before clipping to the image
    /// hstart = max(hstart, 0); hend = min(hend, h)   // now clipped to the image
    /// divisor = countIncludePad ? poolSize : (hend - hstart) * (wend - wstart)
    /// ```
    /// The sum of the real elements in the window (rows, then columns, in `Float` from `0`) is divided
    /// by `divisor`. So with `countIncludePad == true` (PyTorch's default) padded positions count as
    /// zeros; in floor mode every window lies inside the padded bounds, so the divisor is always
    /// `kernelH * kernelW` (it would be smaller only for ceil-mode windows running past the padding).
    /// With `countIncludePad == false` the divisor is the number of real elements in the window.
    /// - Precondition: kernel and stride `>= 1`; `0 <= padding < kernel` on each side (every window
    ///   holds at least one real element; PyTorch requires `pad <= kernel / 2`); output `>= 1`.
    public static func avgPool2d(_ x: RefTensor, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
                                 padding: RefPadding = .zero, countIncludePad: Bool = true) -> RefTensor {
        let (oh, ow) = poolOutputSize("Reference.avgPool2d", x, kernelH, kernelW, strideH, strideW, padding)
        let (h, w, c) = (x.h, x.w, x.c)
        let src = x.data
        var out = [Float](repeating: 0, count: x.n * oh * ow * c)
        for b in 0..<x.n {
            for oy in 0..<oh {
                var hstart = oy * strideH - padding.top
                var hend = min(hstart + kernelH, h + padding.bottom)
                let poolH = hend - hstart
                hstart = max(hstart, 0)
                hend = min(hend, h)
                for ox in 0..<ow {
                    var wstart = ox * strideW - padding.left
                    var wend = min(wstart + kernelW, w + padding.right)
                    let poolW = wend - wstart
                    wstart = max(wstart, 0)
                    wend = min(wend, w)
                    let divisor = countIncludePad ? poolH * poolW : (hend - hstart) * (wend - wstart)
                    for ch in 0..<c {
                        var sum: Float = 0
                        for iy in hstart..<hend {
                            for ix in wstart..<wend {
                                sum += src[((b * h + iy) * w + ix) * c + ch]
                            }
                        }
                        out[((b * oh + oy) * ow + ox) * c + ch] = sum / Float(divisor)
                    }
                }
            }
        }
        return RefTensor(n: x.n, h: oh, w: ow, c: c, data: out)
    }

    /// Global average pooling: `[n, h, w, c]` to `[n, 1, 1, c]`,
    /// `y[b, 0, 0, ch] = (sum over y then x of x[b, y, x, ch]) / Float(h * w)`, the sum taken in
    /// `Float` from `0` in row-major pixel order, then one division.
    public static func globalAveragePool(_ x: RefTensor) -> RefTensor {
        let (h, w, c) = (x.h, x.w, x.c)
        let src = x.data
        var out = [Float](repeating: 0, count: x.n * c)
        let divisor = Float(h * w)
        for b in 0..<x.n {
            for ch in 0..<c {
                var sum: Float = 0
                for p in 0..<(h * w) {
                    sum += src[(b * h * w + p) * c + ch]
                }
                out[b * c + ch] = sum / divisor
            }
        }
        return RefTensor(n: x.n, h: 1, w: 1, c: c, data: out)
    }

    /// Shared argument checks and floor-mode output size of the windowed pools.
    private static func poolOutputSize(_ fn: String, _ x: RefTensor, _ kernelH: Int, _ kernelW: Int,
                                       _ strideH: Int, _ strideW: Int, _ padding: RefPadding) -> (Int, Int) {
        precondition(kernelH >= 1 && kernelW >= 1, "\(fn): kernel must be >= 1, got \(kernelH)x\(kernelW)")
        precondition(strideH >= 1 && strideW >= 1, "\(fn): stride must be >= 1, got \(strideH)x\(strideW)")
        precondition(padding.isValid, "\(fn): padding must be >= 0, got \(padding)")
        precondition(padding.top < kernelH && padding.bottom < kernelH && padding.left < kernelW && padding.right < kernelW,
                     "\(fn): padding \(padding) must be smaller than the kernel \(kernelH)x\(kernelW) on each side")
        let oh = outputSize(input: x.h, kernel: kernelH, stride: strideH, padBefore: padding.top, padAfter: padding.bottom)
        let ow = outputSize(input: x.w, kernel: kernelW, stride: strideW, padBefore: padding.left, padAfter: padding.right)
        return (oh, ow)
    }
}
