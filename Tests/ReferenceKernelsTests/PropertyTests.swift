// Property checks on random data: each kernel against an independent formulation of the same math.

import ReferenceKernels
import Testing

@Suite("Properties")
struct PropertyTests {
    @Test func identity1x1ConvReturnsInput() {
        var rng = SeededGenerator(seed: 10)
        let c = 5
        let x = randomTensor(n: 2, h: 3, w: 4, c: c, &rng)
        var eye = [Float](repeating: 0, count: c * c)
        for i in 0..<c { eye[i * c + i] = 1 }
        #expect(Reference.conv2d(x, weight: eye, bias: nil, outChannels: c, kernelH: 1, kernelW: 1) == x)
        // A permutation matrix permutes channels: o takes input channel (o + 1) % c.
        var perm = [Float](repeating: 0, count: c * c)
        for o in 0..<c { perm[o * c + (o + 1) % c] = 1 }
        let y = Reference.conv2d(x, weight: perm, bias: nil, outChannels: c, kernelH: 1, kernelW: 1)
        #expect(y[n: 1, y: 2, x: 3, ch: 4] == x[n: 1, y: 2, x: 3, ch: 0])
        #expect(y[n: 0, y: 1, x: 0, ch: 2] == x[n: 0, y: 1, x: 0, ch: 3])
    }

    @Test func centredIdentity3x3ConvReturnsInput() {
        // A 3x3 kernel with a single 1 at the centre, padding 1, is the identity for each channel.
        var rng = SeededGenerator(seed: 11)
        let x = randomTensor(n: 1, h: 5, w: 4, c: 3, &rng)
        var weight = [Float](repeating: 0, count: 3 * 9)
        for ch in 0..<3 { weight[ch * 9 + 4] = 1 }
        #expect(Reference.depthwiseConv2d(x, weight: weight, bias: nil, kernelH: 3, kernelW: 3,
                                          padding: .symmetric(1)) == x)
    }

    struct DWCase: Sendable, CustomTestStringConvertible {
        var h, w, c, kh, kw, sh, sw, dh, dw: Int
        var pad: RefPadding
        var act: RefActivation
        var testDescription: String { "\(h)x\(w)x\(c) k\(kh)x\(kw) s\(sh)x\(sw) d\(dh)x\(dw) \(pad)" }
    }

    static let dwCases: [DWCase] = [
        DWCase(h: 7, w: 7, c: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pad: .symmetric(1), act: .relu6),
        DWCase(h: 8, w: 9, c: 5, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1,
               pad: RefPadding(top: 0, left: 0, bottom: 1, right: 1), act: .hardswish),
        DWCase(h: 9, w: 6, c: 3, kh: 5, kw: 5, sh: 1, sw: 2, dh: 2, dw: 1, pad: .symmetric(2), act: .none),
        DWCase(h: 4, w: 6, c: 2, kh: 2, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
               pad: RefPadding(top: 1, left: 0, bottom: 0, right: 2), act: .clamp(min: -0.5, max: 0.5)),
    ]

    @Test(arguments: dwCases)
    func depthwiseEqualsConvWithGroupsC(_ k: DWCase) {
        var rng = SeededGenerator(seed: UInt64(k.h * 100 + k.w * 10 + k.c))
        let x = randomTensor(n: 2, h: k.h, w: k.w, c: k.c, &rng)
        let weight = randomFloats(k.c * k.kh * k.kw, &rng)
        let bias = randomFloats(k.c, &rng)
        let dw = Reference.depthwiseConv2d(x, weight: weight, bias: bias, kernelH: k.kh, kernelW: k.kw,
                                           strideH: k.sh, strideW: k.sw, padding: k.pad,
                                           dilationH: k.dh, dilationW: k.dw, activation: k.act)
        let conv = Reference.conv2d(x, weight: weight, bias: bias, outChannels: k.c, kernelH: k.kh, kernelW: k.kw,
                                    strideH: k.sh, strideW: k.sw, padding: k.pad, dilationH: k.dh, dilationW: k.dw,
                                    groups: k.c, activation: k.act)
        #expect(dw == conv)
        #expect(dw.h == Reference.outputSize(input: k.h, kernel: k.kh, stride: k.sh, padBefore: k.pad.top,
                                             padAfter: k.pad.bottom, dilation: k.dh))
    }

    @Test func groupedConvEqualsConcatOfPerGroupConvs() {
        var rng = SeededGenerator(seed: 12)
        let (groups, cin, cout, kh, kw) = (3, 6, 9, 3, 2)
        let x = randomTensor(n: 2, h: 6, w: 5, c: cin, &rng)
        let weight = randomFloats(cout * (cin / groups) * kh * kw, &rng)
        let bias = randomFloats(cout, &rng)
        let pad = RefPadding(top: 1, left: 0, bottom: 2, right: 1)
        let grouped = Reference.conv2d(x, weight: weight, bias: bias, outChannels: cout, kernelH: kh, kernelW: kw,
                                       strideH: 2, padding: pad, dilationW: 2, groups: groups, activation: .relu)
        let perW = (cin / groups) * kh * kw
        let (ci, co) = (cin / groups, cout / groups)
        let parts = (0..<groups).map { g in
            Reference.conv2d(sliceChannels(x, g * ci..<(g + 1) * ci),
                             weight: Array(weight[(g * co * perW)..<((g + 1) * co * perW)]),
                             bias: Array(bias[(g * co)..<((g + 1) * co)]), outChannels: co, kernelH: kh, kernelW: kw,
                             strideH: 2, padding: pad, dilationW: 2, activation: .relu)
        }
        #expect(grouped == Reference.concatChannels(parts))
    }

    @Test func pointwiseConvEqualsFullyConnectedOverPixels() {
        var rng = SeededGenerator(seed: 13)
        let x = randomTensor(n: 2, h: 3, w: 5, c: 7, &rng)
        let weight = randomFloats(4 * 7, &rng)
        let bias = randomFloats(4, &rng)
        let conv = Reference.conv2d(x, weight: weight, bias: bias, outChannels: 4, kernelH: 1, kernelW: 1,
                                    activation: .hardswish)
        let fc = Reference.fullyConnected(x.data, batch: 2 * 3 * 5, inFeatures: 7, weight: weight, bias: bias,
                                          outFeatures: 4, activation: .hardswish)
        #expect(conv.data == fc)
    }

    @Test func pointwisePathEqualsGeneralPath() {
        // conv2d runs 1x1 kernels through a shorter loop; a 1x2 kernel whose second column is zero goes
        // through the general loop and must give the same numbers (the extra terms are +-0).
        var rng = SeededGenerator(seed: 20)
        let (cin, cout, groups) = (6, 4, 2)
        let x = randomTensor(n: 2, h: 5, w: 4, c: cin, &rng)
        let w1 = randomFloats(cout * (cin / groups), &rng)
        var w2 = [Float](repeating: 0, count: cout * (cin / groups) * 2)
        for k in 0..<w1.count { w2[k * 2] = w1[k] }
        let bias = randomFloats(cout, &rng)
        let pad = RefPadding(top: 1, left: 2, bottom: 0, right: 1)
        let a = Reference.conv2d(x, weight: w1, bias: bias, outChannels: cout, kernelH: 1, kernelW: 1,
                                 strideH: 2, strideW: 1, padding: pad, groups: groups, activation: .relu6)
        let b = Reference.conv2d(x, weight: w2, bias: bias, outChannels: cout, kernelH: 1, kernelW: 2,
                                 strideH: 2, strideW: 1, padding: RefPadding(top: 1, left: 2, bottom: 0, right: 2),
                                 groups: groups, activation: .relu6)
        #expect(a == b)
    }

    @Test func paddedConvEqualsUnpaddedConvOnZeroPaddedInput() {
        var rng = SeededGenerator(seed: 14)
        let x = randomTensor(n: 1, h: 5, w: 6, c: 3, &rng)
        let weight = randomFloats(4 * 3 * 3 * 3, &rng)
        let pad = RefPadding(top: 2, left: 1, bottom: 0, right: 3)
        let a = Reference.conv2d(x, weight: weight, bias: nil, outChannels: 4, kernelH: 3, kernelW: 3,
                                 strideH: 2, strideW: 1, padding: pad)
        let b = Reference.conv2d(padded(x, pad, value: 0), weight: weight, bias: nil, outChannels: 4,
                                 kernelH: 3, kernelW: 3, strideH: 2, strideW: 1)
        #expect(a.hasSameShape(as: b))
        expectClose(a.data, b.data, tolerance: 0)   // adding +0 terms changes nothing
    }

    @Test(arguments: [6, 12, 24, 9])
    func shuffleTwiceIsIdentity(_ c: Int) {
        var rng = SeededGenerator(seed: UInt64(c))
        let x = randomTensor(n: 2, h: 2, w: 3, c: c, &rng)
        for g in 1...c where c % g == 0 {
            let once = Reference.channelShuffle(x, groups: g)
            #expect(Reference.channelShuffle(once, groups: c / g) == x, "groups \(g) then \(c / g)")
            if g != 1 && g != c { #expect(once != x, "groups \(g) must move channels") }
        }
    }

    @Test func foldedBatchNormMatchesConvThenBatchNorm() {
        var rng = SeededGenerator(seed: 15)
        let (cin, cout) = (3, 4)
        let x = randomTensor(n: 1, h: 5, w: 5, c: cin, &rng)
        let weight = randomFloats(cout * cin * 9, &rng)
        let bias = randomFloats(cout, &rng)
        let gamma = randomFloats(cout, &rng)
        let beta = randomFloats(cout, &rng)
        let mean = randomFloats(cout, &rng)
        let variance = randomFloats(cout, &rng).map { abs($0) + 0.1 }
        let eps: Float = 1e-5
        let conv = Reference.conv2d(x, weight: weight, bias: bias, outChannels: cout, kernelH: 3, kernelW: 3,
                                    padding: .symmetric(1))
        // BatchNorm applied after the conv, written out directly.
        var expected = conv
        for p in 0..<(conv.count / cout) {
            for o in 0..<cout {
                let v = conv.data[p * cout + o]
                expected.data[p * cout + o] = (v - mean[o]) / (variance[o] + eps).squareRoot() * gamma[o] + beta[o]
            }
        }
        let folded = Reference.foldBatchNorm(weight: weight, bias: bias, outChannels: cout, gamma: gamma, beta: beta,
                                             mean: mean, variance: variance, eps: eps)
        let y = Reference.conv2d(x, weight: folded.weight, bias: folded.bias, outChannels: cout, kernelH: 3, kernelW: 3,
                                 padding: .symmetric(1))
        expectClose(y.data, expected.data, tolerance: 1e-4)
    }

    @Test func avgPoolIncludePadEqualsPoolOnZeroPaddedInput() {
        var rng = SeededGenerator(seed: 16)
        let x = randomTensor(n: 2, h: 7, w: 6, c: 3, &rng)
        let pad = RefPadding(top: 1, left: 2, bottom: 2, right: 0)
        let a = Reference.avgPool2d(x, kernelH: 3, kernelW: 3, strideH: 2, strideW: 1, padding: pad)
        let b = Reference.avgPool2d(padded(x, pad, value: 0), kernelH: 3, kernelW: 3, strideH: 2, strideW: 1)
        #expect(a == b)
    }

    @Test func maxPoolPaddingEqualsMinusInfinityPadding() {
        var rng = SeededGenerator(seed: 17)
        let x = randomTensor(n: 2, h: 6, w: 7, c: 3, &rng)
        let pad = RefPadding(top: 1, left: 0, bottom: 2, right: 1)
        let a = Reference.maxPool2d(x, kernelH: 3, kernelW: 2, strideH: 2, strideW: 2, padding: pad)
        let b = Reference.maxPool2d(padded(x, pad, value: -.infinity), kernelH: 3, kernelW: 2, strideH: 2, strideW: 2)
        #expect(a == b)
    }

    @Test func globalAveragePoolEqualsFullWindowAvgPool() {
        var rng = SeededGenerator(seed: 18)
        let x = randomTensor(n: 2, h: 4, w: 5, c: 3, &rng)
        #expect(Reference.globalAveragePool(x) == Reference.avgPool2d(x, kernelH: 4, kernelW: 5, strideH: 1, strideW: 1))
    }

    @Test func squeezeExcitationEqualsItsSteps() {
        // SE written from PyTorch's modules: avgpool -> 1x1 conv -> relu -> 1x1 conv -> hardsigmoid -> multiply.
        var rng = SeededGenerator(seed: 19)
        let (c, s) = (6, 2)
        let x = randomTensor(n: 2, h: 3, w: 3, c: c, &rng)
        let (w1, b1, w2, b2) = (randomFloats(s * c, &rng), randomFloats(s, &rng), randomFloats(c * s, &rng),
                                randomFloats(c, &rng))
        let pooled = Reference.avgPool2d(x, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1)
        let t = Reference.conv2d(pooled, weight: w1, bias: b1, outChannels: s, kernelH: 1, kernelW: 1, activation: .relu)
        let g = Reference.conv2d(t, weight: w2, bias: b2, outChannels: c, kernelH: 1, kernelW: 1,
                                 activation: .hardsigmoid)
        var expected = x
        for b in 0..<2 { for yy in 0..<3 { for xx in 0..<3 { for ch in 0..<c {
            expected[n: b, y: yy, x: xx, ch: ch] = x[n: b, y: yy, x: xx, ch: ch] * g[n: b, y: 0, x: 0, ch: ch]
        } } } }
        let y = Reference.squeezeExcitation(x, fc1Weight: w1, fc1Bias: b1, squeezeChannels: s, fc2Weight: w2, fc2Bias: b2)
        #expect(y == expected)
    }
}
