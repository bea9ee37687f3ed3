import MobileKernels
import Testing

// setWeights (a training step's update: repacking into the buffers init allocated) gives a layer
// that computes what a new layer with those weights computes, bit for bit, for every variant and
// algorithm: direct 1x1, grouped with a fused shuffle, KxK, the row-tap form of a 3-channel
// first layer, Winograd, BLIS; depthwise 3x3 / 5x5 with and without bias; squeeze-and-excitation.

private func values(_ count: Int, _ seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(state >> 40)) / Float(1 << 23) - 1
    }
}

private struct ConvCase: CustomStringConvertible {
    var cin: Int, cout: Int, k: Int, stride = 1, groups = 1, shuffle = false, algorithm = ConvAlgorithm.auto, hw = 9
    var description: String { "\(cin)->\(cout) \(k)x\(k)/\(stride) g\(groups)\(shuffle ? " shuffled" : "") \(algorithm)" }
}

private let convCases: [ConvCase] = [
    .init(cin: 24, cout: 40, k: 1),
    .init(cin: 24, cout: 36, k: 1, groups: 3, shuffle: true),
    .init(cin: 10, cout: 14, k: 3, stride: 2),
    .init(cin: 3, cout: 16, k: 3, stride: 2),                      // row taps
    .init(cin: 32, cout: 40, k: 3, algorithm: .winograd, hw: 10),
    .init(cin: 16, cout: 24, k: 5, hw: 11),
]

@Suite("setWeights: a repacked layer computes what a new one does")
struct SetWeightsTests {
    @Test("Conv2D", arguments: Catalogue.variants(of: .gemm).filter(\.isAvailable) + [.blis])
    func conv(variant: Variant) throws {
        for t in convCases {
            let count = t.cout * (t.cin / t.groups) * t.k * t.k
            guard variant != .blis || (t.k == 1 && !t.shuffle) else { continue }
            if variant == .blis, !Variant.blis.isAvailable { continue }
            func make(_ seed: UInt64, bias: Bool) throws -> Conv2D {
                try Conv2D(inChannels: t.cin, outChannels: t.cout, kernelH: t.k, kernelW: t.k, strideH: t.stride, strideW: t.stride,
                           padding: .symmetric(t.k / 2), groups: t.groups, weights: values(count, seed),
                           bias: bias ? values(t.cout, seed + 1) : nil, activation: .relu6, shuffleOutput: t.shuffle,
                           variant: variant, algorithm: t.algorithm)
            }
            let input = try Tensor(shape: TensorShape(n: 2, h: t.hw, w: t.hw, c: t.cin), nhwc: values(2 * t.hw * t.hw * t.cin, 9))
            for bias in [true, false] {
                let fresh = try make(5, bias: bias), updated = try make(3, bias: true)
                let w = values(count, 5), b = values(t.cout, 6)
                try w.withUnsafeBufferPointer { w in
                    try b.withUnsafeBufferPointer { b in try updated.setWeights(w, bias: bias ? b : nil) }
                }
                var want = try Tensor(shape: fresh.outputShape(for: input.shape)), got = want
                try fresh.forward(input, into: &want)
                try updated.forward(input, into: &got)
                let same = got.toArray() == want.toArray()
                #expect(same, "\(variant) \(t) bias \(bias)")
            }
            let layer = try make(1, bias: false)
            #expect(throws: MobileKernelsError.self) {
                try values(count - 1, 1).withUnsafeBufferPointer { try layer.setWeights($0, bias: nil) }
            }
        }
    }

    @Test("DepthwiseConv2D", arguments: Catalogue.variants(of: .dwconv).filter(\.isAvailable))
    func depthwise(variant: Variant) throws {
        for (c, k, stride) in [(19, 3, 1), (40, 5, 2), (8, 3, 2)] {
            func make(_ seed: UInt64, bias: Bool) throws -> DepthwiseConv2D {
                try DepthwiseConv2D(channels: c, kernelH: k, kernelW: k, strideH: stride, strideW: stride, padding: .symmetric(k / 2),
                                    weights: values(c * k * k, seed), bias: bias ? values(c, seed + 1) : nil, activation: .hardswish,
                                    variant: variant)
            }
            let input = try Tensor(shape: TensorShape(n: 2, h: 9, w: 7, c: c), nhwc: values(2 * 9 * 7 * c, 4))
            for bias in [true, false] {
                let fresh = try make(7, bias: bias), updated = try make(2, bias: true)
                let w = values(c * k * k, 7), b = values(c, 8)
                try w.withUnsafeBufferPointer { w in
                    try b.withUnsafeBufferPointer { b in try updated.setWeights(w, bias: bias ? b : nil) }
                }
                var want = try Tensor(shape: fresh.outputShape(for: input.shape)), got = want
                try fresh.forward(input, into: &want)
                try updated.forward(input, into: &got)
                let same = got.toArray() == want.toArray()
                #expect(same, "\(variant) C\(c) \(k)x\(k)/\(stride) bias \(bias)")
            }
            let layer = try make(1, bias: false)
            #expect(throws: MobileKernelsError.self) {
                try values(c * k * k, 1).withUnsafeBufferPointer { w in
                    try values(c + 1, 1).withUnsafeBufferPointer { try layer.setWeights(w, bias: $0) }
                }
            }
        }
    }

    @Test("SqueezeExcitation", arguments: Catalogue.variants(of: .fc).filter { $0.isAvailable && $0 != .blis })
    func squeezeExcitation(variant: Variant) throws {
        let (c, s) = (37, 9)
        func make(_ seed: UInt64) throws -> SqueezeExcitation {
            try SqueezeExcitation(channels: c, squeezeChannels: s, fc1Weight: values(c * s, seed), fc1Bias: values(s, seed + 1),
                                  fc2Weight: values(c * s, seed + 2), fc2Bias: values(c, seed + 3), variant: variant)
        }
        let fresh = try make(11), updated = try make(1)
        let (w1, b1, w2, b2) = (values(c * s, 11), values(s, 12), values(c * s, 13), values(c, 14))
        try w1.withUnsafeBufferPointer { w1 in
            try b1.withUnsafeBufferPointer { b1 in
                try w2.withUnsafeBufferPointer { w2 in
                    try b2.withUnsafeBufferPointer { b2 in try updated.setWeights(fc1Weight: w1, fc1Bias: b1, fc2Weight: w2, fc2Bias: b2) }
                }
            }
        }
        let input = try Tensor(shape: TensorShape(n: 2, h: 5, w: 5, c: c), nhwc: values(50 * c, 3))
        var want = try Tensor(shape: input.shape), got = want
        try fresh.forward(input, into: &want)
        try updated.forward(input, into: &got)
        let same = got.toArray() == want.toArray()
        #expect(same, "\(variant)")
        #expect(throws: MobileKernelsError.self) {
            try w1.withUnsafeBufferPointer { w in
                try updated.setWeights(fc1Weight: UnsafeBufferPointer(rebasing: w.dropLast()), fc1Bias: nil, fc2Weight: w, fc2Bias: nil)
            }
        }
    }

    @Test("Conv2D.setWeights(transposed:) packs a 1x1 layer from its transpose; other forms decline",
          arguments: Catalogue.variants(of: .gemm).filter(\.isAvailable))
    func transposed(variant: Variant) throws {
        let (cin, cout) = (37, 21)
        let w = values(cin * cout, 3)
        var t = [Float](repeating: 0, count: w.count)
        for o in 0..<cout { for i in 0..<cin { t[i * cout + o] = w[o * cin + i] } }
        let fresh = try Conv2D(inChannels: cin, outChannels: cout, kernelH: 1, kernelW: 1, weights: w, variant: variant)
        let updated = try Conv2D(inChannels: cin, outChannels: cout, kernelH: 1, kernelW: 1, weights: values(cin * cout, 4), variant: variant)
        let done = try t.withUnsafeBufferPointer { try updated.setWeights(transposed: $0) }
        #expect(done)
        let input = try Tensor(shape: TensorShape(n: 3, h: 1, w: 1, c: cin), nhwc: values(3 * cin, 5))
        var want = try Tensor(shape: TensorShape(n: 3, h: 1, w: 1, c: cout)), got = want
        try fresh.forward(input, into: &want)
        try updated.forward(input, into: &got)
        let same = got.toArray() == want.toArray()
        #expect(same, "\(variant)")
        let k3 = try Conv2D(inChannels: 4, outChannels: 4, kernelH: 3, kernelW: 3, weights: values(144, 1), variant: variant)
        #expect(try values(16, 1).withUnsafeBufferPointer { try k3.setWeights(transposed: $0) } == false)
        let grouped = try Conv2D(inChannels: 4, outChannels: 4, kernelH: 1, kernelW: 1, groups: 2, weights: values(8, 1), variant: variant)
        #expect(try values(16, 1).withUnsafeBufferPointer { try grouped.setWeights(transposed: $0) } == false)
    }
}
