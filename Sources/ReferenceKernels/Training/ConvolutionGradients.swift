// Convolution forward and backward (input, weight and bias gradients) in any precision.

/// The geometry of a 2-D convolution: what `Reference.conv2d` takes besides its tensors.
public struct RefConvGeometry: Equatable, Sendable {
    public var outChannels: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padding: RefPadding
    public var dilationH: Int
    public var dilationW: Int
    public var groups: Int

    public init(outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                padding: RefPadding = .zero, dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1) {
        (self.outChannels, self.kernelH, self.kernelW) = (outChannels, kernelH, kernelW)
        (self.strideH, self.strideW, self.padding) = (strideH, strideW, padding)
        (self.dilationH, self.dilationW, self.groups) = (dilationH, dilationW, groups)
    }

    /// Checks the geometry against an input of `inChannels` and a weight of `weightCount`
    /// elements and returns the output size `(oh, ow)` for an `h x w` input.
    func validate(_ fn: String, h: Int, w: Int, inChannels: Int, weightCount: Int) -> (oh: Int, ow: Int) {
        precondition(outChannels >= 1 && groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                     "\(fn): groups \(groups) must divide inChannels \(inChannels) and outChannels \(outChannels)")
        precondition(kernelH >= 1 && kernelW >= 1 && strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1
                     && padding.isValid, "\(fn): kernel, stride and dilation must be >= 1 and padding >= 0: \(self)")
        precondition(weightCount == outChannels * (inChannels / groups) * kernelH * kernelW,
                     "\(fn): weight count \(weightCount) != out*(in/groups)*kh*kw = \(outChannels)*\(inChannels / groups)*\(kernelH)*\(kernelW)")
        let oh = Reference.outputSize(input: h, kernel: kernelH, stride: strideH, padBefore: padding.top,
                                      padAfter: padding.bottom, dilation: dilationH)
        let ow = Reference.outputSize(input: w, kernel: kernelW, stride: strideW, padBefore: padding.left,
                                      padAfter: padding.right, dilation: dilationW)
        return (oh, ow)
    }

    /// Every multiply-accumulate of the convolution of `x` (taps in the padding skipped), in the
    /// order batch, output row, output column, output channel, input channel of the group, kernel
    /// row, kernel column: the one loop nest forward and backward share. Forward (`dy == nil`)
    /// accumulates `y[out] += x[in] * weight[tap]`; backward accumulates `dx[in] += dy[out] *
    /// weight[tap]` and `dWeight[tap] += dy[out] * x[in]`. (Plain loops, not a closure per tap:
    /// the oracle runs whole networks in debug test builds.)
    func accumulate<T>(_ x: RefTensorOf<T>, weight: [T], oh: Int, ow: Int, y: inout [T], dy: [T]?, dx: inout [T],
                       dWeight: inout [T]) {
        let cinG = x.c / groups, coutG = outChannels / groups
        // Locals, not `x.` in the loop: each generic member access looks up metadata in debug builds.
        let (xs, h, w, c) = (x.data, x.h, x.w, x.c)
        let backward = dy != nil, dys = dy ?? []
        for b in 0..<x.n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<outChannels {
                        let out = ((b * oh + oy) * ow + ox) * outChannels + o
                        let g = o / coutG
                        for i in 0..<cinG {
                            for ky in 0..<kernelH {
                                let iy = oy * strideH - padding.top + ky * dilationH
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kernelW {
                                    let ix = ox * strideW - padding.left + kx * dilationW
                                    if ix < 0 || ix >= w { continue }
                                    let input = ((b * h + iy) * w + ix) * c + g * cinG + i
                                    let tap = ((o * cinG + i) * kernelH + ky) * kernelW + kx
                                    if backward {
                                        dx[input] += dys[out] * weight[tap]
                                        dWeight[tap] += dys[out] * xs[input]
                                    } else {
                                        y[out] += xs[input] * weight[tap]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension RefTrain {
    /// `y = conv(x, weight) + bias` (no activation), as `Reference.conv2d` computes it: each
    /// output summed in `T` from 0 over input channel, kernel row, kernel column, then the bias.
    @_specialize(exported: true, where T == Float)
    public static func conv2d<T>(_ x: RefTensorOf<T>, weight: [T], bias: [T]?, _ g: RefConvGeometry) -> RefTensorOf<T> {
        let (oh, ow) = g.validate("RefTrain.conv2d", h: x.h, w: x.w, inChannels: x.c, weightCount: weight.count)
        if let bias { precondition(bias.count == g.outChannels, "RefTrain.conv2d: bias count \(bias.count) != \(g.outChannels)") }
        var y = RefTensorOf<T>(n: x.n, h: oh, w: ow, c: g.outChannels)
        var (unusedDx, unusedDWeight): ([T], [T]) = ([], [])
        g.accumulate(x, weight: weight, oh: oh, ow: ow, y: &y.data, dy: nil, dx: &unusedDx, dWeight: &unusedDWeight)
        if let bias {
            for p in 0..<y.pixels { for o in 0..<g.outChannels { y.data[p * g.outChannels + o] += bias[o] } }
        }
        return y
    }

    /// The convolution's gradients for `dy` (the gradient of its output, bias included):
    /// `dx[input] = sum dy[out] * weight[tap]`, `dWeight[tap] = sum dy[out] * x[input]` over every
    /// multiply-accumulate of the forward, and `dBias[o] = sum dy[..., o]` over batch and pixels.
    @_specialize(exported: true, where T == Float)
    public static func conv2dBackward<T>(_ x: RefTensorOf<T>, weight: [T], _ g: RefConvGeometry, dy: RefTensorOf<T>)
        -> (dx: RefTensorOf<T>, dWeight: [T], dBias: [T]) {
        let (oh, ow) = g.validate("RefTrain.conv2dBackward", h: x.h, w: x.w, inChannels: x.c, weightCount: weight.count)
        precondition(dy.n == x.n && dy.h == oh && dy.w == ow && dy.c == g.outChannels,
                     "RefTrain.conv2dBackward: dy \(dy.shapeDescription) != output [n: \(x.n), h: \(oh), w: \(ow), c: \(g.outChannels)]")
        var dx = RefTensorOf<T>(zerosLike: x)
        var dWeight = [T](repeating: 0, count: weight.count)
        var unused: [T] = []
        g.accumulate(x, weight: weight, oh: oh, ow: ow, y: &unused, dy: dy.data, dx: &dx.data, dWeight: &dWeight)
        return (dx, dWeight, channelSums(dy))
    }

    /// `sum over batch and pixels of t[..., ch]` per channel.
    @_specialize(exported: true, where T == Float)
    public static func channelSums<T>(_ t: RefTensorOf<T>) -> [T] {
        var sums = [T](repeating: 0, count: t.c)
        for p in 0..<t.pixels { for ch in 0..<t.c { sums[ch] += t.data[p * t.c + ch] } }
        return sums
    }
}
