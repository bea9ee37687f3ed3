import MobileKernels
import ReferenceKernels
import Testing

/// Deterministic values in [-1, 1).
private func values(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
}

private func firstMismatch(_ got: [Float], _ want: [Float], reduction: Int) -> Int? {
    guard got.count == want.count else { return -1 }
    for i in 0..<got.count where abs(got[i] - want[i]) > 1e-5 * Float(reduction) + 1e-4 * abs(want[i]) {
        return i
    }
    return nil
}

@Suite("Conv2D, PointwiseConv2D and ChannelShuffle layers")
struct ConvLayerTests {
    @Test("Conv2D matches ReferenceKernels: dense, grouped, strided, padded; every variant, batch 2, two threads")
    func conv2DMatchesReference() throws {
        let pool = try ThreadPool(threads: 2)
        // (cin, cout, groups, kernel, stride, padding, h)
        let cases: [(Int, Int, Int, Int, Int, Padding, Int)] = [
            (3, 16, 1, 3, 2, .symmetric(1), 9), (24, 40, 1, 1, 1, .zero, 6), (48, 36, 3, 1, 1, .zero, 5),
            (8, 12, 4, 3, 1, Padding(top: 1, left: 0, bottom: 0, right: 1), 7), (5, 7, 1, 5, 2, .symmetric(2), 8),
        ]
        for variant in Variant.available.filter(\.hasFloatKernels) + [.auto] {
            for (i, (cin, cout, g, k, s, pad, h)) in cases.enumerated() {
                let blisOK = k == 1 && pad == .zero
                let x = values(2 * h * h * cin, seed: UInt64(i))
                let w = values(cout * cin / g * k * k, seed: 99), b = values(cout, seed: 5)
                let make = { try Conv2D(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: pad, groups: g,
                                        weights: w, bias: b, activation: .hardswish, variant: variant) }
                if variant == .blis && !blisOK {
                    #expect(throws: MobileKernelsError.self) { try make() }
                    continue
                }
                let layer = try make()
                let y = try layer(Tensor(shape: TensorShape(n: 2, h: h, w: h, c: cin), nhwc: x), threadPool: pool)
                let want = Reference.conv2d(RefTensor(n: 2, h: h, w: h, c: cin, data: x), weight: w, bias: b, outChannels: cout,
                                            kernelH: k, kernelW: k, strideH: s, strideW: s,
                                            padding: RefPadding(top: pad.top, left: pad.left, bottom: pad.bottom, right: pad.right),
                                            groups: g, activation: .hardswish)
                #expect(y.shape == (try TensorShape(n: 2, h: want.h, w: want.w, c: cout)))
                let bad = firstMismatch(y.toArray(), want.data, reduction: cin / g * k * k)
                #expect(bad == nil, "\(layer.name): first mismatch at \(bad ?? -1)")
            }
        }
    }

    @Test("PointwiseConv2D with a residual, and channel slices of wider tensors (split and concat without copies)")
    func pointwiseResidualAndSlices() throws {
        let (h, cin, cout) = (6, 20, 12)
        let wide = values(h * h * (cin + 5), seed: 1)  // channels 3..<23 are the layer's input
        let w = values(cout * cin, seed: 2), b = values(cout, seed: 3), r = values(h * h * cout, seed: 4)
        let layer = try PointwiseConv2D(inChannels: cin, outChannels: cout, weights: w, bias: b)
        let input = try Tensor(shape: TensorShape(h: h, w: h, c: cin + 5), nhwc: wide)
        let residual = try Tensor(shape: TensorShape(h: h, w: h, c: cout), nhwc: r)
        var output = try Tensor(shape: TensorShape(h: h, w: h, c: cout + 10), repeating: -7)
        try layer.forward(input, inputChannelOffset: 3, residual: residual, into: &output, outputChannelOffset: 4)

        var slice: [Float] = []
        let wideC = cin + 5
        for p in 0..<(h * h) {
            let start: Int = p * wideC + 3
            slice.append(contentsOf: wide[start..<(start + cin)])
        }
        let conv = Reference.conv2d(RefTensor(n: 1, h: h, w: h, c: cin, data: slice), weight: w, bias: b, outChannels: cout,
                                    kernelH: 1, kernelW: 1)
        let want = Reference.add(conv, RefTensor(n: 1, h: h, w: h, c: cout, data: r))
        let got = output.toArray()
        var inside: [Float] = []
        for p in 0..<(h * h) {
            for c in 0..<(cout + 10) {
                let v = got[p * (cout + 10) + c]
                if c >= 4 && c < 4 + cout { inside.append(v) } else { #expect(v == -7, "wrote outside the slice") }
            }
        }
        #expect(firstMismatch(inside, want.data, reduction: cin + 2) == nil)

        // The residual may be the output itself: out = conv + out.
        var acc = residual
        try layer.forward(Tensor(shape: TensorShape(h: h, w: h, c: cin), nhwc: slice), residual: acc, into: &acc)
        #expect(firstMismatch(acc.toArray(), want.data, reduction: cin + 2) == nil)
    }

    @Test("the fused shuffle equals conv then ChannelShuffle, bit for bit; in-place shuffle too")
    func fusedShuffle() throws {
        let (h, cin, cout, g) = (5, 48, 60, 3)
        let x = try Tensor(shape: TensorShape(n: 2, h: h, w: h, c: cin), nhwc: values(2 * h * h * cin, seed: 8))
        let w = values(cout * cin / g, seed: 9), b = values(cout, seed: 10)
        for variant in Catalogue.variants(of: .gemm) where variant.isAvailable {
            let plain = try Conv2D(inChannels: cin, outChannels: cout, kernelSize: 1, groups: g, weights: w, bias: b,
                                   activation: .relu, variant: variant)
            let fused = try Conv2D(inChannels: cin, outChannels: cout, kernelSize: 1, groups: g, weights: w, bias: b,
                                   activation: .relu, shuffleOutput: true, variant: variant)
            let shuffle = try ChannelShuffle(groups: g, channels: cout, variant: variant)
            let y = try plain(x)
            let shuffled = try shuffle(y)
            #expect(try fused(x).toArray().map(\.bitPattern) == shuffled.toArray().map(\.bitPattern))
            var inPlace = y
            try shuffle.shuffle(&inPlace)
            #expect(inPlace.toArray().map(\.bitPattern) == shuffled.toArray().map(\.bitPattern))
            let want = Reference.channelShuffle(RefTensor(n: 2, h: h, w: h, c: cout, data: y.toArray()), groups: g)
            #expect(shuffled.toArray().map(\.bitPattern) == want.data.map(\.bitPattern))
        }
    }

    @Test("bad arguments throw clear errors")
    func errors() throws {
        func kind(_ body: () throws -> Void) -> MobileKernelsError.Kind? {
            do { try body() } catch let e as MobileKernelsError { return e.kind } catch { return nil }
            return nil
        }
        #expect(kind { _ = try Conv2D(inChannels: 6, outChannels: 4, kernelSize: 1, groups: 4, weights: []) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 4, outChannels: 4, kernelSize: 3, weights: [Float](repeating: 0, count: 4 * 4 * 3)) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 4, outChannels: 4, kernelSize: 1, weights: [Float](repeating: 0, count: 16), bias: [1]) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 0, outChannels: 4, kernelSize: 1, weights: []) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 1 << 40, outChannels: 1 << 40, kernelSize: 1, weights: []) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 4, outChannels: 4, kernelSize: 3, padding: .symmetric(3), weights: [Float](repeating: 0, count: 144)) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 66, outChannels: 66, kernelSize: 1, groups: 33, weights: [Float](repeating: 0, count: 132), shuffleOutput: true) } == .invalidArgument)
        #expect(kind { _ = try Conv2D(inChannels: 4, outChannels: 4, kernelSize: 3, weights: [Float](repeating: 0, count: 144), variant: .blis) } == .unsupported)
        #expect(kind { _ = try Conv2D(inChannels: 4, outChannels: 4, kernelSize: 1, weights: [Float](repeating: 0, count: 16), variant: .neon) } == .unsupported)
        #expect(kind { _ = try ChannelShuffle(groups: 3, channels: 10) } == .invalidArgument)

        let conv = try Conv2D(inChannels: 4, outChannels: 8, kernelSize: 3, weights: [Float](repeating: 0.5, count: 8 * 4 * 9))
        #expect(kind { _ = try conv(Tensor(shape: TensorShape(h: 5, w: 5, c: 3))) } == .shapeMismatch)
        #expect(kind { _ = try conv(Tensor(shape: TensorShape(h: 2, w: 5, c: 4))) } == .shapeMismatch)  // smaller than the kernel
        var small = try Tensor(shape: TensorShape(h: 4, w: 3, c: 8))
        #expect(kind { try conv.forward(Tensor(shape: TensorShape(h: 5, w: 5, c: 4)), into: &small) } == .shapeMismatch)
        var out = try Tensor(shape: TensorShape(h: 3, w: 3, c: 10))
        #expect(kind { try conv.forward(Tensor(shape: TensorShape(h: 5, w: 5, c: 4)), residual: nil, into: &out, outputChannelOffset: 3) } == .shapeMismatch)
        #expect(kind { try conv.forward(Tensor(shape: TensorShape(h: 5, w: 5, c: 4)), residual: Tensor(shape: TensorShape(h: 3, w: 3, c: 4)), into: &out) } == .shapeMismatch)
        let shuffled = try Conv2D(inChannels: 4, outChannels: 4, kernelSize: 1, groups: 2, weights: [Float](repeating: 1, count: 8), shuffleOutput: true)
        var o = try Tensor(shape: TensorShape(h: 2, w: 2, c: 4))
        #expect(kind { try shuffled.forward(Tensor(shape: TensorShape(h: 2, w: 2, c: 4)), residual: o, into: &o) } == .invalidArgument)
    }
}
