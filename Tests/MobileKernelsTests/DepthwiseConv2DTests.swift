import MobileKernels
import ReferenceKernels
import Testing

@Suite("DepthwiseConv2D layer")
struct DepthwiseConv2DTests {
    @Test("matches ReferenceKernels for every variant, batch 2, two threads")
    func matchesReference() throws {
        var seed: UInt64 = 7
        func next() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 23)  // [-1, 1)
        }
        let pool = try ThreadPool(threads: 2)
        for variant in Catalogue.variants(of: .dwconv).filter(\.isAvailable) + [.auto] {
            let same = Padding.same(inputH: 10, inputW: 10, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2)
            let cases: [(Int, Int, Int, Int, Padding)] = [
                (3, 1, 17, 9, .symmetric(1)), (3, 2, 32, 10, same), (5, 2, 24, 11, .symmetric(2)),
                (7, 1, 5, 6, .symmetric(3)), (1, 1, 3, 4, .zero),
            ]
            for (k, s, c, h, pad) in cases {
                let x = (0..<(2 * h * h * c)).map { _ in next() }
                let w = (0..<(c * k * k)).map { _ in next() }
                let b = (0..<c).map { _ in next() }
                let layer = try DepthwiseConv2D(channels: c, kernelSize: k, stride: s, padding: pad, weights: w, bias: b,
                                                activation: .relu6, variant: variant)
                let y = try layer(Tensor(shape: TensorShape(n: 2, h: h, w: h, c: c), nhwc: x), threadPool: pool)
                let want = Reference.conv2d(RefTensor(n: 2, h: h, w: h, c: c, data: x), weight: w, bias: b, outChannels: c,
                                            kernelH: k, kernelW: k, strideH: s, strideW: s,
                                            padding: RefPadding(top: pad.top, left: pad.left, bottom: pad.bottom, right: pad.right),
                                            groups: c, activation: .relu6)
                #expect(y.shape == (try TensorShape(n: 2, h: want.h, w: want.w, c: c)))
                let got = y.toArray()
                let taps = Float(k * k)
                var bad: Int?
                for i in 0..<got.count {
                    let tolerance: Float = 1e-5 * taps + 1e-4 * abs(want.data[i])
                    if abs(got[i] - want.data[i]) > tolerance { bad = i; break }
                }
                #expect(bad == nil, "\(layer.name): first mismatch at \(bad ?? -1)")
            }
        }
    }

    @Test func samePadding() {
        // TF SAME, stride 2, even input: total 1 for a 3x3 kernel, on the bottom/right.
        #expect(Padding.same(inputH: 112, inputW: 112, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2) == Padding(top: 0, left: 0, bottom: 1, right: 1))
        #expect(Padding.same(inputH: 7, inputW: 7, kernelH: 5, kernelW: 5) == .symmetric(2))
        #expect(Padding.same(inputH: 28, inputW: 28, kernelH: 5, kernelW: 5, strideH: 2, strideW: 2) == Padding(top: 1, left: 1, bottom: 2, right: 2))
    }

    @Test func badInputs() throws {
        let w9 = [Float](repeating: 1, count: 9 * 4)
        func kind(_ body: () throws -> Void) -> MobileKernelsError.Kind? {
            do { try body(); return nil } catch let e as MobileKernelsError { return e.kind } catch { return nil }
        }
        #expect(kind { _ = try DepthwiseConv2D(channels: 4, kernelSize: 3, weights: [1, 2]) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 4, kernelSize: 3, weights: w9, bias: [1]) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 0, kernelSize: 3, weights: []) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 4, kernelSize: 3, stride: 0, weights: w9) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 4, kernelSize: 3, padding: .symmetric(3), weights: w9) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 4, kernelSize: 3, padding: .symmetric(-1), weights: w9) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 1 << 40, kernelSize: 1 << 20, weights: []) } == .invalidArgument)
        #expect(kind { _ = try DepthwiseConv2D(channels: 4, kernelSize: 3, weights: w9, variant: .blis) } == .unsupported)
        let layer = try DepthwiseConv2D(channels: 4, kernelSize: 3, weights: w9)
        #expect(layer.isSpecialized)
        #expect(kind { _ = try layer(Tensor(shape: TensorShape(h: 5, w: 5, c: 3))) } == .shapeMismatch)
        #expect(kind { _ = try layer(Tensor(shape: TensorShape(h: 2, w: 5, c: 4))) } == .shapeMismatch)  // smaller than the kernel
        var wrong = try Tensor(shape: TensorShape(h: 3, w: 3, c: 4))
        #expect(kind { try layer.forward(Tensor(shape: TensorShape(h: 6, w: 6, c: 4)), into: &wrong, threadPool: .serial) } == .shapeMismatch)
        // Weights as a tensor [C, K, K, 1].
        let t = try Tensor(shape: TensorShape(n: 4, h: 3, w: 3, c: 1), nhwc: w9)
        #expect(try DepthwiseConv2D(kernelSize: 3, weights: t).channels == 4)
        #expect(kind { _ = try DepthwiseConv2D(kernelSize: 5, weights: t) } == .shapeMismatch)
    }
}
