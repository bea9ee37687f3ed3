import MobileKernels
import ReferenceKernels
import Testing

// The depthwise backward kernels (f32_dwgrad) against the float64 training reference
// (RefTrain.conv2dBackward with groups = channels), for every variant this CPU runs: 3x3 and 5x5
// at stride 1 and 2, generic kernels with dilation and unequal strides, padding on every side
// (asymmetric too), batch > 1, 1x1 spatial, channel tails, channel slices of wider tensors,
// and 1 vs 2 threads bit for bit.

private let variants = Catalogue.variants(of: .dwgrad).filter(\.isAvailable)

private struct DepthwiseCase: CustomStringConvertible {
    var n: Int, h: Int, w: Int, c: Int
    var kh: Int, kw: Int, sh: Int, sw: Int, dh: Int = 1, dw: Int = 1
    var padding: Padding
    /// The tensors are channels offset..<offset + c of `width` channels (0: dense).
    var offset = 0, width = 0

    var stride: Int { width == 0 ? c : width }
    var outH: Int { (h + padding.top + padding.bottom - dh * (kh - 1) - 1) / sh + 1 }
    var outW: Int { (w + padding.left + padding.right - dw * (kw - 1) - 1) / sw + 1 }
    var description: String { "n\(n) \(h)x\(w) C\(c) k\(kh)x\(kw) s\(sh)x\(sw) d\(dh)x\(dw) \(padding) at \(offset)/\(stride)" }
}

private let cases: [DepthwiseCase] = [
    .init(n: 2, h: 9, w: 11, c: 19, kh: 3, kw: 3, sh: 1, sw: 1, padding: .symmetric(1)),
    .init(n: 2, h: 10, w: 9, c: 37, kh: 3, kw: 3, sh: 2, sw: 2, padding: .symmetric(1)),
    .init(n: 1, h: 11, w: 12, c: 24, kh: 3, kw: 3, sh: 2, sw: 2, padding: Padding(top: 0, left: 1, bottom: 1, right: 0),
          offset: 3, width: 30),
    .init(n: 3, h: 13, w: 13, c: 8, kh: 5, kw: 5, sh: 2, sw: 2, padding: .symmetric(2)),
    .init(n: 2, h: 7, w: 8, c: 67, kh: 5, kw: 5, sh: 1, sw: 1, padding: .symmetric(2)),
    .init(n: 2, h: 9, w: 10, c: 5, kh: 2, kw: 3, sh: 2, sw: 1, dh: 2, dw: 1, padding: Padding(top: 1, left: 0, bottom: 0, right: 2)),
    .init(n: 2, h: 1, w: 1, c: 33, kh: 3, kw: 3, sh: 1, sw: 1, padding: .symmetric(1)),   // 1x1 spatial
    .init(n: 1, h: 6, w: 5, c: 1, kh: 3, kw: 3, sh: 3, sw: 2, padding: .symmetric(2)),
    .init(n: 4, h: 40, w: 40, c: 16, kh: 3, kw: 3, sh: 1, sw: 1, padding: .symmetric(1)), // several chunks
    .init(n: 2, h: 5, w: 6, c: 300, kh: 3, kw: 3, sh: 2, sw: 2, padding: .symmetric(1),    // two channel tiles
          offset: 5, width: 310),
]

private func values(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)  // [-1, 1)
    }
}

/// The `offset..<offset + c` channels of each pixel of a `stride`-wide buffer, as float64.
private func dense(_ v: [Float], _ t: DepthwiseCase) -> [Double] {
    stride(from: 0, to: v.count, by: t.stride).flatMap { p in (0..<t.c).map { Double(v[p + t.offset + $0]) } }
}

private func maxError(_ got: [Float], _ want: [Double]) -> (error: Double, scale: Double) {
    var e = 0.0, s = 0.0
    for (g, w) in zip(got, want) { e = max(e, abs(Double(g) - w)); s = max(s, abs(w)) }
    return (e, s)
}

@Suite("Depthwise convolution backward (f32_dwgrad)")
struct DepthwiseBackwardTests {
    @Test("input, weight and bias gradients match the float64 reference; 2 threads give 1 thread's bits",
          arguments: variants)
    func matchesReference(variant: Variant) throws {
        let two = try ThreadPool(threads: 2)
        for (index, t) in cases.enumerated() {
            let weights = values(t.c * t.kh * t.kw, seed: UInt64(index))
            let xShape = try TensorShape(n: t.n, h: t.h, w: t.w, c: t.stride)
            let dyShape = try TensorShape(n: t.n, h: t.outH, w: t.outW, c: t.stride)
            let xValues = values(xShape.count, seed: UInt64(100 + index)), dyValues = values(dyShape.count, seed: UInt64(200 + index))
            let layer = try DepthwiseConv2DBackward(channels: t.c, kernelH: t.kh, kernelW: t.kw, strideH: t.sh, strideW: t.sw,
                                                    padding: t.padding, dilationH: t.dh, dilationW: t.dw, weights: weights,
                                                    variant: variant)
            #expect(layer.variant == variant)
            let geometry = RefConvGeometry(outChannels: t.c, kernelH: t.kh, kernelW: t.kw, strideH: t.sh, strideW: t.sw,
                                           padding: RefPadding(top: t.padding.top, left: t.padding.left,
                                                               bottom: t.padding.bottom, right: t.padding.right),
                                           dilationH: t.dh, dilationW: t.dw, groups: t.c)
            let want = RefTrain.conv2dBackward(RefTensorOf(n: t.n, h: t.h, w: t.w, c: t.c, data: dense(xValues, t)),
                                               weight: weights.map(Double.init), geometry,
                                               dy: RefTensorOf(n: t.n, h: t.outH, w: t.outW, c: t.c, data: dense(dyValues, t)))
            let range = t.offset..<(t.offset + t.c)
            let x = try Tensor(shape: xShape, nhwc: xValues), dy = try Tensor(shape: dyShape, nhwc: dyValues)
            var runs: [([Float], [Float], [Float])] = []
            for pool in [ThreadPool.serial, two] {
                var dx = try Tensor(shape: xShape, repeating: .nan)
                try dx.withMutableView(channels: range) { try layer.inputGradient(try dy.view(channels: range), into: $0, threadPool: pool) }
                let g = try layer.weightGradient(input: try x.view(channels: range), outputGradient: try dy.view(channels: range),
                                                 bias: true, threadPool: pool)
                let all = dx.toArray()
                if t.width > t.c {
                    let outside = all.enumerated().filter { !range.contains($0.offset % t.stride) }
                    #expect(outside.allSatisfy { $0.element.isNaN }, "\(t): wrote outside its channels")
                }
                runs.append((dense(all, t).map(Float.init), g.weight, g.bias))
            }
            let sameDx = runs[1].0 == runs[0].0, sameW = runs[1].1 == runs[0].1, sameB = runs[1].2 == runs[0].2
            #expect(sameDx && sameW && sameB, "\(t): 2 threads differ from 1")
            // Sums of at most k*k (dx) or n*oh*ow (weights) products of values below 1.
            let dxE = maxError(runs[0].0, want.dx.data), dwE = maxError(runs[0].1, want.dWeight), dbE = maxError(runs[0].2, want.dBias)
            #expect(dxE.error <= 1e-6 * Double(t.kh * t.kw), "\(t) \(variant): dx error \(dxE)")
            let pixels = Double(t.n * t.outH * t.outW)
            #expect(dwE.error <= 2e-7 * pixels, "\(t) \(variant): weight gradient error \(dwE)")
            #expect(dbE.error <= 2e-7 * pixels, "\(t) \(variant): bias gradient error \(dbE)")
        }
    }

    @Test("weights later, and bad shapes, give clear errors")
    func errors() throws {
        let layer = try DepthwiseConv2DBackward(channels: 4, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                                                padding: .symmetric(1), weights: nil)
        let x = try Tensor(shape: TensorShape(n: 1, h: 8, w: 8, c: 4), repeating: 1)
        let dy = try Tensor(shape: TensorShape(n: 1, h: 4, w: 4, c: 4), repeating: 1)
        var dx = x
        expectError(.invalidArgument, "no weights") {
            try dx.withMutableView { try layer.inputGradient(try dy.view(), into: $0) }
        }
        let g = try layer.weightGradient(input: try x.view(), outputGradient: try dy.view(), bias: true)
        #expect(g.weight.count == 36 && g.bias == [16, 16, 16, 16])
        // Center tap of a stride-2 3x3 on ones: every output reads a real pixel.
        #expect(g.weight[4] == 16)
        expectError(.shapeMismatch, "41 weights") { try layer.setWeights([Float](repeating: 0, count: 41)) }
        try layer.setWeights([Float](repeating: 1, count: 36))
        try dx.withMutableView { try layer.inputGradient(try dy.view(), into: $0) }
        let wrong = try Tensor(shape: TensorShape(n: 1, h: 5, w: 4, c: 4), repeating: 1)
        expectError(.shapeMismatch, "gives outputs of 4x4") {
            _ = try layer.weightGradient(input: try x.view(), outputGradient: try wrong.view())
        }
        let three = try Tensor(shape: TensorShape(n: 1, h: 4, w: 4, c: 3), repeating: 1)
        expectError(.shapeMismatch, "need 4 channels") {
            try dx.withMutableView { try layer.inputGradient(try three.view(), into: $0) }
        }
        expectError(.shapeMismatch, "3 weights") {
            _ = try DepthwiseConv2DBackward(channels: 4, kernelH: 3, kernelW: 3, weights: [1, 2, 3])
        }
        expectError(.invalidArgument, "DepthwiseConv2DBackward") {
            _ = try DepthwiseConv2DBackward(channels: 4, kernelH: 3, kernelW: 3, padding: .symmetric(3), weights: nil)
        }
        expectError(.invalidArgument, "positive") {
            _ = try DepthwiseConv2DBackward(channels: 0, kernelH: 3, kernelW: 3, weights: nil)
        }
    }
}
