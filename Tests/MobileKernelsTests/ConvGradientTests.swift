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

@Suite("Convolution input gradient on the forward kernels")
struct ConvGradientTests {
    /// (n, h, w, cin, cout, groups, kh, kw, padding, dilation): dense, 1x1, grouped, depthwise,
    /// dilated, every padding side, odd sizes, channels off the vector width, 1x1 images, batch > 1,
    /// and 3x3 layers wide enough for Winograd under `.auto`.
    static let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Padding, Int)] = [
        (2, 7, 5, 3, 13, 1, 3, 3, .symmetric(1), 1),
        (1, 9, 6, 20, 17, 1, 1, 1, .zero, 1),
        (3, 5, 5, 24, 36, 3, 1, 1, .zero, 1),
        (2, 8, 7, 19, 19, 19, 3, 3, .symmetric(1), 1),
        (1, 9, 9, 11, 11, 11, 5, 5, .symmetric(2), 1),
        (2, 6, 7, 6, 10, 2, 3, 2, Padding(top: 2, left: 0, bottom: 0, right: 1), 1),
        (1, 9, 8, 5, 7, 1, 3, 3, .symmetric(2), 2),
        (2, 1, 1, 9, 12, 1, 3, 3, .symmetric(1), 1),
        (2, 10, 9, 40, 48, 1, 3, 3, .symmetric(1), 1),
        (1, 4, 4, 33, 65, 1, 1, 1, .zero, 1),
    ]

    @Test("dx matches the reference backward for every variant and algorithm, 1 and 2 threads", arguments: 0..<cases.count)
    func matchesReference(_ index: Int) throws {
        let (n, h, w, cin, cout, g, kh, kw, pad, d) = Self.cases[index]
        let weights = values(cout * cin / g * kh * kw, seed: UInt64(index))
        let x = RefTensorOf<Float>(n: n, h: h, w: w, c: cin, data: values(n * h * w * cin, seed: 50 + UInt64(index)))
        let geometry = RefConvGeometry(outChannels: cout, kernelH: kh, kernelW: kw,
                                       padding: RefPadding(top: pad.top, left: pad.left, bottom: pad.bottom, right: pad.right),
                                       dilationH: d, dilationW: d, groups: g)
        let y = RefTrain.conv2d(x, weight: weights, bias: nil, geometry)
        let dy = RefTensorOf<Float>(n: n, h: y.h, w: y.w, c: cout, data: values(y.count, seed: 90 + UInt64(index)))
        let want = RefTrain.conv2dBackward(x, weight: weights, geometry, dy: dy).dx.data
        let dyTensor = try Tensor(shape: TensorShape(n: n, h: y.h, w: y.w, c: cout), nhwc: dy.data)
        for variant in Variant.available where variant != .blis && variant.hasFloatKernels {
            for algorithm in [ConvAlgorithm.auto, .direct] {
                let layer = try ConvInputGradient.make(inChannels: cin, outChannels: cout, kernelH: kh, kernelW: kw, padding: pad,
                                                       dilationH: d, dilationW: d, groups: g, weights: weights, variant: variant,
                                                       algorithm: algorithm)
                var outputs: [[Float]] = []
                for threads in [1, 2] {
                    var dx = try Tensor(shape: TensorShape(n: n, h: h, w: w, c: cin), repeating: .nan)
                    try layer.forward(dyTensor, into: &dx, threadPool: ThreadPool(threads: threads))
                    outputs.append(dx.toArray())
                }
                #expect(outputs[0] == outputs[1], "\(layer.name): 1 and 2 threads differ")
                let reduction = Float(cout / g * kh * kw)
                let bad = zip(outputs[0], want).enumerated().first { abs($1.0 - $1.1) > 2e-6 * reduction + 1e-5 * abs($1.1) }
                #expect(bad == nil, "\(layer.name): dx[\(bad?.offset ?? -1)] = \(bad?.element.0 ?? 0), reference \(bad?.element.1 ?? 0)")
            }
        }
    }

    @Test func strideTwoIsNotYetSupported() {
        #expect(throws: MobileKernelsError.self) {
            _ = try ConvInputGradient.make(inChannels: 3, outChannels: 8, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                                           padding: .symmetric(1), weights: values(8 * 27, seed: 1))
        }
        #expect(throws: MobileKernelsError.self) {
            _ = try ConvInputGradient.make(inChannels: 3, outChannels: 8, kernelH: 3, kernelW: 3, weights: values(5, seed: 1))
        }
        // Padding beyond the kernel, negative padding, and sizes whose weight count overflows.
        for padding in [Padding.symmetric(3), Padding(top: -1, left: 0, bottom: 0, right: 0)] {
            #expect(throws: MobileKernelsError.self) {
                _ = try ConvInputGradient.make(inChannels: 3, outChannels: 8, kernelH: 3, kernelW: 3, padding: padding,
                                               weights: values(8 * 27, seed: 1))
            }
        }
        #expect(throws: MobileKernelsError.self) {
            _ = try ConvInputGradient.make(inChannels: 1 << 40, outChannels: 1 << 40, kernelH: 3, kernelW: 3, weights: [])
        }
    }
}

@Suite("1x1 convolution weight gradient on the GEMM microkernels")
struct ConvWeightGradientTests {
    /// (n, h, w, cin, cout): odd sizes, channels off the vector width, one pixel, many pixels
    /// (several K blocks), batch > 1.
    @Test(arguments: [(2, 5, 7, 3, 13), (1, 1, 1, 9, 17), (3, 9, 8, 24, 40), (2, 23, 23, 33, 16), (1, 4, 4, 65, 7)])
    func matchesReference(_ shape: (Int, Int, Int, Int, Int)) throws {
        let (n, h, w, cin, cout) = shape
        let x = values(n * h * w * cin, seed: UInt64(cin)), dy = values(n * h * w * cout, seed: UInt64(cout) + 100)
        let weights = values(cout * cin, seed: 3)
        let want = RefTrain.conv2dBackward(RefTensorOf(n: n, h: h, w: w, c: cin, data: x), weight: weights,
                                           RefConvGeometry(outChannels: cout, kernelH: 1, kernelW: 1),
                                           dy: RefTensorOf(n: n, h: h, w: w, c: cout, data: dy))
        let xt = try Tensor(shape: TensorShape(n: n, h: h, w: w, c: cin), nhwc: x)
        let dyt = try Tensor(shape: TensorShape(n: n, h: h, w: w, c: cout), nhwc: dy)
        let tolerance = 1e-5 * Float(n * h * w).squareRoot()
        for variant in Variant.available where variant != .blis && variant.hasFloatKernels {
            let one = try ConvWeightGradient.pointwise(input: xt, outputGradient: dyt, variant: variant, threadPool: ThreadPool(threads: 1))
            let two = try ConvWeightGradient.pointwise(input: xt, outputGradient: dyt, variant: variant, threadPool: ThreadPool(threads: 2))
            #expect(one.weight == two.weight && one.bias == two.bias, "\(variant): 1 and 2 threads differ")
            for (got, ref) in [(one.weight, want.dWeight), (one.bias, want.dBias)] {
                let bad = zip(got, ref).enumerated().first { abs($1.0 - $1.1) > tolerance * max(1, abs($1.1)) }
                #expect(got.count == ref.count && bad == nil, "\(variant): element \(bad?.offset ?? -1): \(bad?.element.0 ?? 0) vs \(bad?.element.1 ?? 0)")
            }
        }
    }

    @Test func mismatchedShapesThrow() throws {
        let x = try Tensor(shape: TensorShape(n: 1, h: 3, w: 3, c: 4)), dy = try Tensor(shape: TensorShape(n: 1, h: 3, w: 2, c: 5))
        #expect(throws: MobileKernelsError.self) { _ = try ConvWeightGradient.pointwise(input: x, outputGradient: dy) }
        #expect(throws: MobileKernelsError.self) {
            _ = try ConvWeightGradient.general(input: x, outputGradient: dy, kernelH: 3, kernelW: 3, padding: .symmetric(1))
        }
        let dy3 = try Tensor(shape: TensorShape(n: 1, h: 3, w: 3, c: 6))
        #expect(throws: MobileKernelsError.self) {  // 4 input channels in 3 groups
            _ = try ConvWeightGradient.general(input: x, outputGradient: dy3, kernelH: 1, kernelW: 1, groups: 3)
        }
        #expect(throws: MobileKernelsError.self) {  // padding 3 >= the 3-tap kernel
            _ = try ConvWeightGradient.general(input: x, outputGradient: dy3, kernelH: 3, kernelW: 3, padding: .symmetric(3))
        }
    }

    /// (n, h, w, cin, cout, kh, kw, stride, padding, dilation, groups): VGG's and the stems' 3x3,
    /// AlexNet's 11x11 stride 4 and 5x5, ShuffleNet's grouped 1x1, asymmetric padding, dilation,
    /// 1x1 spatial, and one past every block of the GEMM.
    static let generalCases: [(Int, Int, Int, Int, Int, Int, Int, Int, Padding, Int, Int)] = [
        (2, 9, 8, 5, 7, 3, 3, 1, .symmetric(1), 1, 1),
        (1, 11, 12, 3, 16, 3, 3, 2, .symmetric(1), 1, 1),
        (2, 23, 23, 3, 8, 11, 11, 4, .symmetric(2), 1, 1),
        (1, 7, 7, 6, 9, 5, 5, 1, .symmetric(2), 1, 3),
        (3, 5, 6, 12, 24, 1, 1, 1, .zero, 1, 3),
        (2, 8, 9, 4, 6, 2, 3, 2, Padding(top: 1, left: 0, bottom: 0, right: 2), 2, 2),
        (2, 1, 1, 8, 5, 3, 3, 1, .symmetric(1), 1, 1),
        // Past the kernel's blocks: 288 pixels (256 per block), 80 output channels (72 per
        // block), 1080 patch columns (1024 per pass, the boundary inside a tap).
        (2, 12, 12, 120, 80, 3, 3, 1, Padding(top: 1, left: 2, bottom: 1, right: 0), 1, 1),
        // Grouped 1x1 in one job (mk_grouped_weight_gradient_f32): ShuffleNet's 3 groups of 20
        // input and 27 output channels over 286 pixels (two blocks; 5 row tiles a group, so
        // two threads split one group), and 8 groups of 3 and 5 (a tile a group).
        (2, 13, 11, 60, 81, 1, 1, 1, .zero, 1, 3),
        (1, 17, 17, 24, 40, 1, 1, 1, .zero, 1, 8),
        // A strided 1x1 (not the GEMM on the input itself: patches, then the reorder).
        (1, 7, 7, 4, 6, 1, 1, 2, .zero, 1, 2),
    ]

    @Test(arguments: 0..<generalCases.count)
    func generalMatchesReference(_ index: Int) throws {
        let (n, h, w, cin, cout, kh, kw, s, p, d, g) = Self.generalCases[index]
        let geometry = RefConvGeometry(outChannels: cout, kernelH: kh, kernelW: kw, strideH: s, strideW: s,
                                       padding: RefPadding(top: p.top, left: p.left, bottom: p.bottom, right: p.right),
                                       dilationH: d, dilationW: d, groups: g)
        let oh = (h + p.top + p.bottom - d * (kh - 1) - 1) / s + 1, ow = (w + p.left + p.right - d * (kw - 1) - 1) / s + 1
        let x = values(n * h * w * cin, seed: UInt64(index)), dy = values(n * oh * ow * cout, seed: UInt64(index) + 50)
        let want = RefTrain.conv2dBackward(RefTensorOf(n: n, h: h, w: w, c: cin, data: x.map(Double.init)),
                                           weight: [Double](repeating: 0, count: cout * cin / g * kh * kw), geometry,
                                           dy: RefTensorOf(n: n, h: oh, w: ow, c: cout, data: dy.map(Double.init)))
        let xt = try Tensor(shape: TensorShape(n: n, h: h, w: w, c: cin), nhwc: x)
        let dyt = try Tensor(shape: TensorShape(n: n, h: oh, w: ow, c: cout), nhwc: dy)
        let tolerance = 1e-6 * Double(n * oh * ow)
        for variant in Variant.available where variant != .blis && variant.hasFloatKernels {
            func run(_ threads: Int) throws -> (weight: [Float], bias: [Float]) {
                try ConvWeightGradient.general(input: xt, outputGradient: dyt, kernelH: kh, kernelW: kw, strideH: s, strideW: s,
                                               padding: p, dilationH: d, dilationW: d, groups: g, variant: variant,
                                               threadPool: ThreadPool(threads: threads))
            }
            let one = try run(1), two = try run(2)
            #expect(one.weight == two.weight && one.bias == two.bias, "\(variant): 1 and 2 threads differ")
            let noBias = try ConvWeightGradient.general(input: xt, outputGradient: dyt, kernelH: kh, kernelW: kw, strideH: s, strideW: s,
                                                        padding: p, dilationH: d, dilationW: d, groups: g, bias: false, variant: variant)
            #expect(noBias.bias.isEmpty && noBias.weight == one.weight, "\(variant): without the bias gradient")
            for (got, ref) in [(one.weight, want.dWeight), (one.bias, want.dBias)] {
                let bad = zip(got, ref).enumerated().first { abs(Double($1.0) - $1.1) > tolerance }
                #expect(got.count == ref.count && bad == nil,
                        "case \(index) \(variant): element \(bad?.offset ?? -1): \(bad?.element.0 ?? 0) vs \(bad?.element.1 ?? 0)")
            }
        }
    }
}
