// int8 (QS8, per-channel weights) reference kernels: the definitions the C qs8 kernels must match
// bit for bit (CKernels/include/mk_qs8.h).

/// A per-tensor affine quantization: `real = scale * (q - zeroPoint)`.
public struct RefQuantization: Equatable, Sendable {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// `zeroPoint + round_half_even(v / scale)` (float division; the quotient clamped to
    /// [-512, 512] first, so infinities work), clamped to [-128, 127]: where a real bound (an
    /// activation's) falls in int8.
    public func quantizedBound(_ v: Float) -> Int32 {
        var x = v / scale
        if !(x > -512) { x = -512 }
        if !(x < 512) { x = 512 }
        return min(127, max(-128, Int32(x.rounded(.toNearestOrEven)) + zeroPoint))
    }

    /// The int8 range of `activation` (none, relu, relu6 or clamp) at this quantization.
    public func clampRange(_ activation: RefActivation) -> (lo: Int32, hi: Int32) {
        switch activation {
        case .none: return (-128, 127)
        case .relu: return (quantizedBound(0), 127)
        case .relu6: return (quantizedBound(0), quantizedBound(6))
        case .clamp(let lo, let hi): return (quantizedBound(lo), quantizedBound(hi))
        case .hardswish, .hardsigmoid:
            preconditionFailure("RefQuantization.clampRange: \(activation) is not a clamp")
        }
    }
}

extension Reference {
    /// The int8 requantization of one int32 sum (bias included) for output channel scale
    /// `multiplier` (= input scale * weight scale / output scale, in float): `x = Float(acc) *
    /// multiplier`; with a residual `x = x + Float(r - rzp) * residualMultiplier` (one fused
    /// multiply-add); clamped to `[lo - zp, hi - zp]`; rounded half to even; plus the zero point.
    @inline(__always)
    public static func requantize(_ acc: Int32, multiplier: Float, residual: (value: Int8, zeroPoint: Int32, multiplier: Float)?,
                                  lo: Int32, hi: Int32, zeroPoint: Int32) -> Int8 {
        var x = Float(acc) * multiplier
        if let r = residual {
            x = x.addingProduct(Float(Int32(r.value) - r.zeroPoint), r.multiplier)
        }
        x = min(max(x, Float(lo - zeroPoint)), Float(hi - zeroPoint))
        return Int8(Int32(x.rounded(.toNearestOrEven)) + zeroPoint)
    }

    /// int8 2-D convolution (grouped, strided, dilated, padded), NHWC, QS8 with per-channel
    /// weights (see mk_qs8.h):
    /// `acc[o] = bias[o] + sum (x - input.zeroPoint) * w` in wrapping Int32 (taps in the padding
    /// add nothing: they read the zero point), then `requantize` with multiplier
    /// `input.scale * weightScales[o] / output.scale` and `activation`'s int8 range.
    ///
    /// - `x`: `[n, h, w, cin]` int8; `weight`: `[outChannels, cin / groups, kernelH, kernelW]` in
    ///   [-127, 127]; `bias`: `[outChannels]` or nil; `residual`: the output's shape or nil.
    /// - Returns `(data, oh, ow)`.
    public static func conv2dQS8(_ x: [Int8], n: Int, h: Int, w: Int, cin: Int, input: RefQuantization,
                                 weight: [Int8], weightScales: [Float], bias: [Int32]?, outChannels: Int,
                                 kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                                 padding: RefPadding = .zero, dilationH: Int = 1, dilationW: Int = 1,
                                 groups: Int = 1, activation: RefActivation = .none, output: RefQuantization,
                                 residual: [Int8]? = nil, residualQuantization: RefQuantization? = nil)
        -> (data: [Int8], oh: Int, ow: Int) {
        let fn = "Reference.conv2dQS8"
        precondition(groups >= 1 && cin % groups == 0 && outChannels % groups == 0, "\(fn): groups \(groups) must divide \(cin) and \(outChannels)")
        let cinG = cin / groups, coutG = outChannels / groups
        precondition(x.count == n * h * w * cin, "\(fn): x.count \(x.count) != \(n)*\(h)*\(w)*\(cin)")
        precondition(weight.count == outChannels * cinG * kernelH * kernelW, "\(fn): weight.count \(weight.count)")
        precondition(weightScales.count == outChannels, "\(fn): weightScales.count \(weightScales.count)")
        precondition(bias == nil || bias!.count == outChannels, "\(fn): bias.count")
        let oh = outputSize(input: h, kernel: kernelH, stride: strideH, padBefore: padding.top, padAfter: padding.bottom, dilation: dilationH)
        let ow = outputSize(input: w, kernel: kernelW, stride: strideW, padBefore: padding.left, padAfter: padding.right, dilation: dilationW)
        if let residual { precondition(residual.count == n * oh * ow * outChannels && residualQuantization != nil, "\(fn): residual") }
        let (lo, hi) = output.clampRange(activation)
        let multipliers = weightScales.map { input.scale * $0 / output.scale }
        let residualMultiplier = residualQuantization.map { $0.scale / output.scale } ?? 0
        var out = [Int8](repeating: 0, count: n * oh * ow * outChannels)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let pixel = (b * oh + oy) * ow + ox
                    for o in 0..<outChannels {
                        let g = o / coutG
                        var acc: Int32 = bias?[o] ?? 0
                        for c in 0..<cinG {
                            for ky in 0..<kernelH {
                                let iy = oy * strideH - padding.top + ky * dilationH
                                guard iy >= 0 && iy < h else { continue }
                                for kx in 0..<kernelW {
                                    let ix = ox * strideW - padding.left + kx * dilationW
                                    guard ix >= 0 && ix < w else { continue }
                                    let xv = Int32(x[((b * h + iy) * w + ix) * cin + g * cinG + c]) - input.zeroPoint
                                    let wv = Int32(weight[((o * cinG + c) * kernelH + ky) * kernelW + kx])
                                    acc = acc &+ xv &* wv
                                }
                            }
                        }
                        let r = residual.map { ($0[pixel * outChannels + o], residualQuantization!.zeroPoint, residualMultiplier) }
                        out[pixel * outChannels + o] = requantize(acc, multiplier: multipliers[o], residual: r, lo: lo, hi: hi,
                                                                  zeroPoint: output.zeroPoint)
                    }
                }
            }
        }
        return (out, oh, ow)
    }
}

extension Reference {
    /// One int8 result of a quantized computation's float value `x` (already in output units,
    /// before the zero point): clamped to `[lo - zp, hi - zp]`, rounded half to even, plus `zp`.
    @inline(__always)
    static func finishQS8(_ x: Float, lo: Int32, hi: Int32, zeroPoint: Int32) -> Int8 {
        let c = min(max(x, Float(lo - zeroPoint)), Float(hi - zeroPoint))
        return Int8(Int32(c.rounded(.toNearestOrEven)) + zeroPoint)
    }

    /// int8 pooling (see mk_qs8.h): `kind` "max" (input and output quantization equal; the
    /// window's maximum then the activation's range), "average" (`sum (x - zi)` over the real
    /// pixels times `input.scale / (output.scale * Float(divisor))`, the divisor the window's
    /// size when `countIncludePad`, else its real pixels) or "global" (the whole image).
    /// "adaptive" is PyTorch's AdaptiveAvgPool2d((adaptiveH, adaptiveW)) requantized as "average".
    public static func poolQS8(_ x: [Int8], n: Int, h: Int, w: Int, c: Int, kind: String, kernelH: Int = 1, kernelW: Int = 1,
                               strideH: Int = 1, strideW: Int = 1, padding: RefPadding = .zero, countIncludePad: Bool = true,
                               adaptiveH: Int = 1, adaptiveW: Int = 1,
                               activation: RefActivation = .none, input: RefQuantization, output: RefQuantization)
        -> (data: [Int8], oh: Int, ow: Int) {
        let global = kind == "global", adaptive = kind == "adaptive"
        let oh = global ? 1 : adaptive ? adaptiveH
            : outputSize(input: h, kernel: kernelH, stride: strideH, padBefore: padding.top, padAfter: padding.bottom)
        let ow = global ? 1 : adaptive ? adaptiveW
            : outputSize(input: w, kernel: kernelW, stride: strideW, padBefore: padding.left, padAfter: padding.right)
        let (lo, hi) = output.clampRange(activation)
        var out = [Int8](repeating: 0, count: n * oh * ow * c)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var y0 = 0, y1 = h, x0 = 0, x1 = w, d = h * w
                    if adaptive {
                        y0 = oy * h / oh
                        y1 = ((oy + 1) * h + oh - 1) / oh
                        x0 = ox * w / ow
                        x1 = ((ox + 1) * w + ow - 1) / ow
                        d = (y1 - y0) * (x1 - x0)
                    } else if !global {
                        y0 = max(0, oy * strideH - padding.top)
                        y1 = min(h, oy * strideH - padding.top + kernelH)
                        x0 = max(0, ox * strideW - padding.left)
                        x1 = min(w, ox * strideW - padding.left + kernelW)
                        d = countIncludePad ? kernelH * kernelW : (y1 - y0) * (x1 - x0)
                    }
                    let m = input.scale / (output.scale * Float(d))
                    for ch in 0..<c {
                        var best: Int32 = -128, sum: Int32 = 0
                        for y in y0..<y1 {
                            for xx in x0..<x1 {
                                let v = Int32(x[((b * h + y) * w + xx) * c + ch])
                                best = max(best, v)
                                sum += v - input.zeroPoint
                            }
                        }
                        let o = ((b * oh + oy) * ow + ox) * c + ch
                        out[o] = kind == "max" ? finishQS8(Float(best - output.zeroPoint), lo: lo, hi: hi, zeroPoint: output.zeroPoint)
                                               : finishQS8(Float(sum) * m, lo: lo, hi: hi, zeroPoint: output.zeroPoint)
                    }
                }
            }
        }
        return (out, oh, ow)
    }

    /// int8 add (see mk_qs8.h): `x = Float(a - za) * (sa / so)`, then `x + Float(b - zb) * (sb / so)`
    /// as one fused multiply-add, the activation's range, round half to even, + zo.
    public static func addQS8(_ a: [Int8], _ aq: RefQuantization, _ b: [Int8], _ bq: RefQuantization,
                              output: RefQuantization, activation: RefActivation = .none) -> [Int8] {
        precondition(a.count == b.count, "Reference.addQS8: \(a.count) != \(b.count) elements")
        let (lo, hi) = output.clampRange(activation)
        let ma = aq.scale / output.scale, mb = bq.scale / output.scale
        return zip(a, b).map { x, y in
            let v = (Float(Int32(x) - aq.zeroPoint) * ma).addingProduct(Float(Int32(y) - bq.zeroPoint), mb)
            return finishQS8(v, lo: lo, hi: hi, zeroPoint: output.zeroPoint)
        }
    }

    /// int8 squeeze-and-excitation (mk_qs8.h) on NHWC `[n, h, w, c]`: per image
    /// `mean[c] = (Float(sum of (x - zi)) / Float(h * w)) * si` (exact Int32 sums), the layers
    /// as the float operator computes them (each output a chain of fused multiply-adds from 0 in
    /// input order, then its bias; ReLU, then hardsigmoid as `min(max(v + 3, 0), 6)` times the
    /// float nearest 1/6), then every value requantized with `m[c] = g[c] * (si / so)` and no
    /// activation.
    public static func squeezeExcitationQS8(_ x: [Int8], n: Int, h: Int, w: Int, c: Int, input: RefQuantization,
                                            fc1Weight: [Float], fc1Bias: [Float], squeezeChannels: Int,
                                            fc2Weight: [Float], fc2Bias: [Float], output: RefQuantization) -> [Int8] {
        precondition(x.count == n * h * w * c, "Reference.squeezeExcitationQS8: \(x.count) values for [\(n), \(h), \(w), \(c)]")
        let hw = h * w
        var out = x
        let ratio = input.scale / output.scale
        let (lo, hi) = output.clampRange(.none)
        /// One layer as the float operator's fc kernels compute it.
        func layer(_ v: [Float], _ weight: [Float], _ bias: [Float], outputs: Int, _ act: (Float) -> Float) -> [Float] {
            (0..<outputs).map { o in
                var acc: Float = 0
                for i in v.indices { acc = acc.addingProduct(v[i], weight[o * v.count + i]) }
                return act(acc + bias[o])
            }
        }
        let oneSixth = Float(bitPattern: 0x3E2A_AAAB)  // the float nearest 1/6
        for b in 0..<n {
            var mean = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var sum: Int32 = 0
                for p in 0..<hw { sum += Int32(x[(b * hw + p) * c + ch]) - input.zeroPoint }
                mean[ch] = (Float(sum) / Float(hw)) * input.scale
            }
            let t = layer(mean, fc1Weight, fc1Bias, outputs: squeezeChannels) { max($0, 0) }
            let g = layer(t, fc2Weight, fc2Bias, outputs: c) { min(max($0 + 3, 0), 6) * oneSixth }
            for i in (b * hw * c)..<((b + 1) * hw * c) {
                out[i] = requantize(Int32(x[i]) - input.zeroPoint, multiplier: g[i % c] * ratio, residual: nil,
                                    lo: lo, hi: hi, zeroPoint: output.zeroPoint)
            }
        }
        return out
    }

    /// The int8 lookup table of `activation` (see mk_lut_qs8_table): entry `q + 128` is
    /// `output.quantizedBound(act(Float(q - zi) * si))` with the activation as PyTorch computes it.
    public static func lutQS8(_ activation: RefActivation, input: RefQuantization, output: RefQuantization) -> [Int8] {
        (-128...127).map { q in
            let v = Float(Int32(q) - input.zeroPoint) * input.scale
            let r = min(max(v + 3, 0), 6)
            let y: Float
            switch activation {
            case .none: y = v
            case .relu: y = max(v, 0)
            case .relu6: y = min(max(v, 0), 6)
            case .hardswish: y = (v * r) / 6
            case .hardsigmoid: y = r / 6
            case .clamp(let lo, let hi): y = min(max(v, lo), hi)
            }
            return Int8(output.quantizedBound(y))
        }
    }
}
