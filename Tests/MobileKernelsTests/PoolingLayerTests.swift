import MobileKernels
import ReferenceKernels
import Testing

/// Deterministic values in [-2, 2).
private func values(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 22)
    }
}

private func refActivation(_ a: Activation) -> RefActivation {
    switch a {
    case .none: .none
    case .relu: .relu
    case .relu6: .relu6
    case .hardswish: .hardswish
    case .hardsigmoid: .hardsigmoid
    case let .clamp(lo, hi): .clamp(min: lo, max: hi)
    }
}

private func refPadding(_ p: Padding) -> RefPadding {
    RefPadding(top: p.top, left: p.left, bottom: p.bottom, right: p.right)
}

/// The first index where `got` and `want` differ by more than `tolerance` (relative, at least 1
/// absolute unit of it), or nil.
private func firstMismatch(_ got: [Float], _ want: [Float], tolerance: Float = 0) -> Int? {
    guard got.count == want.count else { return -1 }
    for i in 0..<got.count {
        if got[i].isNaN && want[i].isNaN { continue }
        if abs(got[i] - want[i]) > tolerance * max(1, abs(want[i])) { return i }
    }
    return nil
}

private func kind(_ body: () throws -> Void) -> MobileKernelsError.Kind? {
    do { try body() } catch let e as MobileKernelsError { return e.kind } catch { return nil }
    return nil
}

@Suite("Pooling, SqueezeExcitation and Add layers")
struct PoolingLayerTests {
    @Test("MaxPool2D and AvgPool2D match ReferenceKernels: rectangular kernels, per-side padding, activations; every variant, batch 2, two threads")
    func windowPools() throws {
        let pool = try ThreadPool(threads: 2)
        // (c, kh, kw, sh, sw, padding, h, w, activation)
        let cases: [(Int, Int, Int, Int, Int, Padding, Int, Int, Activation)] = [
            (24, 3, 3, 2, 2, .symmetric(1), 9, 9, .none), (5, 2, 2, 2, 2, .zero, 8, 7, .relu),
            (67, 5, 3, 1, 2, Padding(top: 2, left: 0, bottom: 4, right: 2), 6, 11, .hardswish),
            (16, 3, 3, 1, 1, .symmetric(1), 1, 1, .clamp(min: -0.5, max: 0.5)), (3, 3, 2, 2, 1, .zero, 5, 4, .relu6),
        ]
        for variant in Catalogue.variants(of: .pool).filter(\.isAvailable) + [.auto] {
            for (i, (c, kh, kw, sh, sw, pad, h, w, act)) in cases.enumerated() {
                let x = values(2 * h * w * c, seed: UInt64(i))
                let input = try Tensor(shape: TensorShape(n: 2, h: h, w: w, c: c), nhwc: x)
                let ref = RefTensor(n: 2, h: h, w: w, c: c, data: x)
                let tolerance: Float = act == .hardswish || act == .hardsigmoid ? 1e-6 : 0

                let maxPool = try MaxPool2D(channels: c, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw, padding: pad,
                                            activation: act, variant: variant)
                let y = try maxPool(input, threadPool: pool)
                let wantMax = Reference.activation(Reference.maxPool2d(ref, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw,
                                                                       padding: refPadding(pad)), refActivation(act))
                #expect(y.shape == (try TensorShape(n: 2, h: wantMax.h, w: wantMax.w, c: c)))
                #expect(firstMismatch(y.toArray(), wantMax.data, tolerance: tolerance) == nil, "\(maxPool.name)")

                for countIncludePad in [true, false] {
                    let avgPool = try AvgPool2D(channels: c, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw, padding: pad,
                                                countIncludePad: countIncludePad, activation: act, variant: variant)
                    let z = try avgPool(input, threadPool: pool)
                    let pooled = Reference.avgPool2d(ref, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw,
                                                     padding: refPadding(pad), countIncludePad: countIncludePad)
                    let wantAvg = Reference.activation(pooled, refActivation(act))
                    #expect(firstMismatch(z.toArray(), wantAvg.data, tolerance: tolerance) == nil, "\(avgPool.name)")
                }
            }
        }
    }

    @Test("AvgPool2D writes a channel slice of a wider output (ShuffleNet's concat), leaving the rest")
    func avgPoolChannelSlice() throws {
        let (h, c, extra, offset) = (7, 24, 216, 200)
        let x = values(2 * h * h * c, seed: 11)
        let layer = try AvgPool2D(channels: c, kernel: 3, stride: 2, padding: .symmetric(1))
        let outShape = try layer.outputShape(for: TensorShape(n: 2, h: h, w: h, c: c))
        var wide = try Tensor(shape: TensorShape(n: 2, h: outShape.h, w: outShape.w, c: c + extra), repeating: -7)
        try layer.forward(Tensor(shape: TensorShape(n: 2, h: h, w: h, c: c), nhwc: x), into: &wide, outputChannelOffset: offset)
        let want = Reference.avgPool2d(RefTensor(n: 2, h: h, w: h, c: c, data: x), kernelH: 3, kernelW: 3, strideH: 2,
                                       strideW: 2, padding: .symmetric(1))
        let got = wide.toArray()
        var slice: [Float] = []
        var outside = 0
        for p in 0..<(2 * outShape.h * outShape.w) {
            for ch in 0..<(c + extra) {
                let v = got[p * (c + extra) + ch]
                if ch >= offset && ch < offset + c { slice.append(v) } else if v != -7 { outside += 1 }
            }
        }
        #expect(outside == 0, "wrote outside the slice")
        #expect(firstMismatch(slice, want.data) == nil)
        // Offsets that do not fit, or a wrong spatial size, are shape mismatches.
        #expect(kind { try layer.forward(Tensor(shape: TensorShape(n: 2, h: h, w: h, c: c)), into: &wide, outputChannelOffset: offset + extra - 23) } == .shapeMismatch)
        #expect(kind { try layer.forward(Tensor(shape: TensorShape(n: 2, h: h, w: h, c: c)), into: &wide, outputChannelOffset: -1) } == .shapeMismatch)
        #expect(kind { try layer.forward(Tensor(shape: TensorShape(n: 2, h: h + 2, w: h, c: c)), into: &wide, outputChannelOffset: 0) } == .shapeMismatch)
    }

    @Test("GlobalAveragePool and AdaptiveAvgPool2D match the reference; the adaptive pool to 1x1 is the global pool")
    func globalAndAdaptive() throws {
        let pool = try ThreadPool(threads: 2)
        for variant in Catalogue.variants(of: .pool).filter(\.isAvailable) {
            for (h, w, c) in [(7, 7, 96), (1, 1, 5), (3, 5, 70)] {
                let x = values(2 * h * w * c, seed: UInt64(h * 100 + c))
                let input = try Tensor(shape: TensorShape(n: 2, h: h, w: w, c: c), nhwc: x)
                let gap = try GlobalAveragePool(channels: c, variant: variant)
                let y = try gap(input, threadPool: pool)
                let want = Reference.globalAveragePool(RefTensor(n: 2, h: h, w: w, c: c, data: x))
                #expect(y.shape == (try TensorShape(n: 2, h: 1, w: 1, c: c)))
                #expect(firstMismatch(y.toArray(), want.data) == nil, "\(gap.name) on \(input.shape)")
                let adaptive = try AdaptiveAvgPool2D(channels: c, outputH: 1, outputW: 1, variant: variant)
                #expect(firstMismatch(try adaptive(input, threadPool: pool).toArray(), want.data) == nil, "\(adaptive.name)")
            }
            // 13x13 -> 6x6 (AlexNet at 224 after its last pool has 6x6; 13 exercises overlapping windows).
            let (h, w, c, oh, ow) = (13, 10, 33, 6, 4)
            let x = values(h * w * c, seed: 3)
            let layer = try AdaptiveAvgPool2D(channels: c, outputH: oh, outputW: ow, variant: variant)
            let y = try layer(Tensor(shape: TensorShape(h: h, w: w, c: c), nhwc: x), threadPool: pool)
            var want = [Float](repeating: 0, count: oh * ow * c)
            for i in 0..<oh {
                let y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh
                for j in 0..<ow {
                    let x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow
                    for ch in 0..<c {
                        var sum: Float = 0
                        for yy in y0..<y1 { for xx in x0..<x1 { sum += x[(yy * w + xx) * c + ch] } }
                        want[(i * ow + j) * c + ch] = sum / Float((y1 - y0) * (x1 - x0))
                    }
                }
            }
            #expect(y.shape == (try TensorShape(h: oh, w: ow, c: c)))
            #expect(firstMismatch(y.toArray(), want) == nil, "\(layer.name)")
        }
    }

    @Test("SqueezeExcitation matches the reference, out of place and in place (scale), every variant")
    func squeezeExcitation() throws {
        let pool = try ThreadPool(threads: 2)
        let (h, w, c, s) = (7, 5, 72, 24)
        let x = values(2 * h * w * c, seed: 21)
        let w1 = values(s * c, seed: 22).map { $0 / 4 }, b1 = values(s, seed: 23)
        let w2 = values(c * s, seed: 24).map { $0 / 4 }, b2 = values(c, seed: 25)
        let want = Reference.squeezeExcitation(RefTensor(n: 2, h: h, w: w, c: c, data: x), fc1Weight: w1, fc1Bias: b1,
                                               squeezeChannels: s, fc2Weight: w2, fc2Bias: b2)
        for variant in Catalogue.variants(of: .pool).filter(\.isAvailable) + [.auto] {
            let se = try SqueezeExcitation(channels: c, squeezeChannels: s, fc1Weight: w1, fc1Bias: b1, fc2Weight: w2,
                                           fc2Bias: b2, variant: variant)
            #expect(se.variant != .auto)
            let input = try Tensor(shape: TensorShape(n: 2, h: h, w: w, c: c), nhwc: x)
            let y = try se(input, threadPool: pool)
            #expect(firstMismatch(y.toArray(), want.data, tolerance: 1e-5) == nil, "\(se.name)")
            var inPlace = input
            try se.scale(&inPlace, threadPool: pool)
            #expect(inPlace.toArray() == y.toArray(), "\(se.name): in place differs")
            #expect(input.toArray() == x, "\(se.name): scaling a copy changed the original")
        }
    }

    @Test("Add: out of place, into a new tensor and accumulating in place, every activation")
    func add() throws {
        let pool = try ThreadPool(threads: 2)
        let shape = try TensorShape(n: 2, h: 5, w: 3, c: 37)
        let a = values(shape.count, seed: 31), b = values(shape.count, seed: 32)
        let ta = try Tensor(shape: shape, nhwc: a), tb = try Tensor(shape: shape, nhwc: b)
        let activations: [Activation] = [.none, .relu, .relu6, .hardswish, .hardsigmoid, .clamp(min: -1, max: 0.5)]
        for variant in Catalogue.variants(of: .pool).filter(\.isAvailable) {
            for act in activations {
                let layer = try Add(channels: 37, activation: act, variant: variant)
                let want = Reference.add(RefTensor(n: 2, h: 5, w: 3, c: 37, data: a), RefTensor(n: 2, h: 5, w: 3, c: 37, data: b),
                                         activation: refActivation(act)).data
                let tolerance: Float = act == .hardswish || act == .hardsigmoid ? 1e-6 : 0
                let y = try layer(ta, tb, threadPool: pool)
                #expect(firstMismatch(y.toArray(), want, tolerance: tolerance) == nil, "\(layer.name)")
                var out = try Tensor(shape: shape, repeating: 9)
                try layer.forward(ta, tb, into: &out, threadPool: pool)
                #expect(out.toArray() == y.toArray(), "\(layer.name) forward")
                var acc = ta
                try layer.accumulate(tb, into: &acc, threadPool: pool)
                #expect(acc.toArray() == y.toArray(), "\(layer.name) accumulate")
                #expect(ta.toArray() == a, "\(layer.name): accumulating into a copy changed the original")
            }
        }
    }

    @Test("bad arguments throw clear errors")
    func errors() throws {
        #expect(kind { _ = try MaxPool2D(channels: 0, kernel: 3) } == .invalidArgument)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 0) } == .invalidArgument)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 3, stride: 0) } == .invalidArgument)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 3, padding: .symmetric(3)) } == .invalidArgument)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 3, padding: Padding(top: -1, left: 0, bottom: 0, right: 0)) } == .invalidArgument)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 3, activation: .clamp(min: 1, max: 0)) } == .invalidArgument)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 3, variant: .blis) } == .unsupported)
        #expect(kind { _ = try AvgPool2D(channels: 4, kernelH: 2, kernelW: 3, strideH: 1, strideW: 1, padding: Padding(top: 0, left: 3, bottom: 0, right: 0)) } == .invalidArgument)
        #expect(kind { _ = try AvgPool2D(channels: 4, kernel: 3, variant: .blis) } == .unsupported)
        #expect(kind { _ = try GlobalAveragePool(channels: 0) } == .invalidArgument)
        #expect(kind { _ = try GlobalAveragePool(channels: 4, variant: .blis) } == .unsupported)
        #expect(kind { _ = try AdaptiveAvgPool2D(channels: 4, outputH: 0, outputW: 7) } == .invalidArgument)
        #expect(kind { _ = try Add(channels: 0) } == .invalidArgument)
        #expect(kind { _ = try Add(channels: 4, activation: .clamp(min: .nan, max: 1)) } == .invalidArgument)
        #expect(kind { _ = try Add(channels: 4, variant: .blis) } == .unsupported)
        #if arch(x86_64)
        #expect(kind { _ = try MaxPool2D(channels: 4, kernel: 3, variant: .neon) } == .unsupported)
        #expect(kind { _ = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: [Float](repeating: 0, count: 8), fc1Bias: nil, fc2Weight: [Float](repeating: 0, count: 8), fc2Bias: nil, variant: .neon) } == .unsupported)
        #endif
        let w8 = [Float](repeating: 0.1, count: 8)
        #expect(kind { _ = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: w8, fc1Bias: nil, fc2Weight: [], fc2Bias: nil) } == .invalidArgument)
        #expect(kind { _ = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: [], fc1Bias: nil, fc2Weight: w8, fc2Bias: nil) } == .invalidArgument)
        #expect(kind { _ = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: w8, fc1Bias: [1], fc2Weight: w8, fc2Bias: nil) } == .invalidArgument)
        #expect(kind { _ = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: w8, fc1Bias: nil, fc2Weight: w8, fc2Bias: [1]) } == .invalidArgument)
        #expect(kind { _ = try SqueezeExcitation(channels: 0, squeezeChannels: 2, fc1Weight: [], fc1Bias: nil, fc2Weight: [], fc2Bias: nil) } == .invalidArgument)
        #expect(kind { _ = try SqueezeExcitation(channels: 8193, squeezeChannels: 1, fc1Weight: [Float](repeating: 0, count: 8193), fc1Bias: nil, fc2Weight: [Float](repeating: 0, count: 8193), fc2Bias: nil) } == .invalidArgument)
        #expect(kind { _ = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: w8, fc1Bias: nil, fc2Weight: w8, fc2Bias: nil, variant: .blis) } == .unsupported)

        let maxPool = try MaxPool2D(channels: 4, kernel: 3, stride: 2)
        #expect(kind { _ = try maxPool(Tensor(shape: TensorShape(h: 5, w: 5, c: 3))) } == .shapeMismatch)
        #expect(kind { _ = try maxPool(Tensor(shape: TensorShape(h: 2, w: 5, c: 4))) } == .shapeMismatch)  // smaller than the window
        var small = try Tensor(shape: TensorShape(h: 3, w: 2, c: 4))
        #expect(kind { try maxPool.forward(Tensor(shape: TensorShape(h: 5, w: 5, c: 4)), into: &small) } == .shapeMismatch)
        let gap = try GlobalAveragePool(channels: 4)
        var notOne = try Tensor(shape: TensorShape(h: 2, w: 1, c: 4))
        #expect(kind { try gap.forward(Tensor(shape: TensorShape(h: 5, w: 5, c: 4)), into: &notOne) } == .shapeMismatch)
        let adaptive = try AdaptiveAvgPool2D(channels: 4, outputH: 2, outputW: 2)
        #expect(kind { _ = try adaptive(Tensor(shape: TensorShape(h: 5, w: 5, c: 8))) } == .shapeMismatch)
        let se = try SqueezeExcitation(channels: 4, squeezeChannels: 2, fc1Weight: w8, fc1Bias: nil, fc2Weight: w8, fc2Bias: nil)
        var wrong = try Tensor(shape: TensorShape(h: 2, w: 2, c: 5))
        #expect(kind { try se.scale(&wrong) } == .shapeMismatch)
        let add = try Add(channels: 4)
        let t = try Tensor(shape: TensorShape(h: 2, w: 2, c: 4))
        #expect(kind { _ = try add(t, Tensor(shape: TensorShape(h: 2, w: 3, c: 4))) } == .shapeMismatch)
        #expect(kind { _ = try add(Tensor(shape: TensorShape(h: 2, w: 2, c: 5)), Tensor(shape: TensorShape(h: 2, w: 2, c: 5))) } == .shapeMismatch)
        var out = try Tensor(shape: TensorShape(h: 2, w: 2, c: 8))
        #expect(kind { try add.forward(t, t, into: &out) } == .shapeMismatch)
        do {
            _ = try maxPool(Tensor(shape: TensorShape(h: 5, w: 5, c: 3)))
        } catch let e as MobileKernelsError {
            #expect(e.message.contains("MaxPool2D") && e.message.contains("[1, 5, 5, 3]"), "\(e.message)")
        }
    }
}
