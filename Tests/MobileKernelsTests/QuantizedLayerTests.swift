import MobileKernels
import ReferenceKernels
import Testing

/// The int8 Swift API: quantization helpers, QTensor, QConv2D and QDepthwiseConv2D against the
/// int8 reference.
@Suite struct QuantizedLayerTests {
    private func int8s(_ count: Int, seed: UInt64, _ lo: Int = -128, _ hi: Int = 127) -> [Int8] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int8(lo + Int((state >> 33) % UInt64(hi - lo + 1)))
        }
    }
    private func ref(_ q: Quantization) -> RefQuantization { RefQuantization(scale: q.scale, zeroPoint: q.zeroPoint) }

    @Test("Quantization: ranges, quantize and dequantize")
    func quantization() throws {
        let q = Quantization(min: -1, max: 3)
        #expect(q.isValid && abs(q.scale - 4.0 / 255) < 1e-7)
        #expect(q.dequantize(q.quantize(0)) == 0)  // real zero is exact
        #expect(q.quantize(-1) == -128 && q.quantize(3) == 127 && q.quantize(100) == 127 && q.quantize(.nan) == Int8(q.zeroPoint))
        let positive = Quantization(min: 0.5, max: 6)  // widened to include 0
        #expect(positive.zeroPoint == -128 && positive.quantize(0) == -128)
        #expect(!Quantization(scale: 0, zeroPoint: 0).isValid && !Quantization(scale: 1, zeroPoint: 200).isValid)
        let t = try Tensor(shape: TensorShape(h: 2, w: 3, c: 4), nhwc: (0..<24).map { Float($0) / 8 - 1 })
        let qt = try QTensor(quantizing: t, q)
        let back = try qt.dequantized().toArray()
        for (a, b) in zip(back, t.toArray()) { #expect(abs(a - b) <= q.scale / 2 + 1e-6) }
        #expect(expectError(.invalidArgument, "quantization") { _ = try QTensor(quantizing: t, Quantization(scale: -1, zeroPoint: 0)) } != nil)
        #expect(expectError(.shapeMismatch, "5 values") { _ = try QTensor(shape: t.shape, quantization: q, nhwc: [1, 2, 3, 4, 5]) } != nil)
    }

    @Test("QConv2D and QDepthwiseConv2D match the reference on every int8 variant")
    func layers() throws {
        let inQ = Quantization(scale: 0.03, zeroPoint: 7), outQ = Quantization(scale: 0.05, zeroPoint: -100)
        let resQ = Quantization(scale: 0.3, zeroPoint: 2)
        let shape = try TensorShape(n: 2, h: 9, w: 7, c: 12)
        let x = try QTensor(shape: shape, quantization: inQ, nhwc: int8s(shape.count, seed: 1))
        let w = int8s(21 * 4 * 9, seed: 2, -127, 127), scales = (0..<21).map { 0.01 + Float($0) / 1000 }
        let bias = (0..<21).map { Int32($0 * 100 - 1000) }
        let variants = [Variant.auto] + Catalogue.variants(of: .qs8Gemm).filter(\.isAvailable)
        for variant in variants {
            let conv = try QConv2D(inChannels: 12, outChannels: 21, kernelH: 3, kernelW: 3, strideH: 2, strideW: 1,
                                   padding: Padding(top: 1, left: 0, bottom: 1, right: 2), groups: 3, weights: w,
                                   weightScales: scales, bias: bias, activation: .relu6, input: inQ, output: outQ,
                                   residual: resQ, variant: variant)
            let outShape = try conv.outputShape(for: shape)
            let r = try QTensor(shape: outShape, quantization: resQ, nhwc: int8s(outShape.count, seed: 3))
            var y = try QTensor(shape: outShape, quantization: outQ)
            try conv.forward(x, into: &y, residual: r)
            let want = Reference.conv2dQS8(x.toArray(), n: 2, h: 9, w: 7, cin: 12, input: ref(inQ), weight: w, weightScales: scales,
                                           bias: bias, outChannels: 21, kernelH: 3, kernelW: 3, strideH: 2, strideW: 1,
                                           padding: RefPadding(top: 1, left: 0, bottom: 1, right: 2), groups: 3,
                                           activation: .relu6, output: ref(outQ), residual: r.toArray(), residualQuantization: ref(resQ))
            #expect(y.toArray() == want.data, "\(variant) -> \(conv.variant)")
            #expect(Set(y.toArray()).count > 20)
            if variant != .auto { #expect(conv.variant == variant) }
        }
        for variant in [Variant.auto] + Catalogue.variants(of: .qs8Dwconv).filter(\.isAvailable) {
            let dw = try QDepthwiseConv2D(channels: 12, kernelH: 5, kernelW: 5, strideH: 2, strideW: 2, padding: .symmetric(2),
                                          weights: int8s(12 * 25, seed: 4, -127, 127), weightScales: Array(scales[0..<12]),
                                          activation: .relu, input: inQ, output: outQ, variant: variant)
            var y = try QTensor(shape: try dw.outputShape(for: shape), quantization: outQ)
            try dw.forward(x, into: &y)
            let want = Reference.conv2dQS8(x.toArray(), n: 2, h: 9, w: 7, cin: 12, input: ref(inQ), weight: int8s(12 * 25, seed: 4, -127, 127),
                                           weightScales: Array(scales[0..<12]), bias: nil, outChannels: 12, kernelH: 5, kernelW: 5,
                                           strideH: 2, strideW: 2, padding: .init(top: 2, left: 2, bottom: 2, right: 2), groups: 12,
                                           activation: .relu, output: ref(outQ))
            #expect(y.toArray() == want.data, "\(variant)")
        }
    }

    @Test("int8 layers reject what they cannot run, with clear errors")
    func errors() throws {
        let inQ = Quantization(scale: 0.03, zeroPoint: 7), outQ = Quantization(scale: 0.4, zeroPoint: -3)
        let w = [Int8](repeating: 1, count: 8 * 4)
        #expect(expectError(.unsupported, "hardswish") {
            _ = try QConv2D(inChannels: 4, outChannels: 8, kernelH: 1, kernelW: 1, weights: w, weightScales: .init(repeating: 0.1, count: 8),
                            activation: .hardswish, input: inQ, output: outQ)
        } != nil)
        #expect(expectError(.invalidArgument, "weights have 31") {
            _ = try QConv2D(inChannels: 4, outChannels: 8, kernelH: 1, kernelW: 1, weights: Array(w.dropLast()),
                            weightScales: .init(repeating: 0.1, count: 8), input: inQ, output: outQ)
        } != nil)
        #expect(expectError(.invalidArgument) {
            _ = try QConv2D(inChannels: 4, outChannels: 8, kernelH: 1, kernelW: 1, weights: [-128] + w.dropFirst(),
                            weightScales: .init(repeating: 0.1, count: 8), input: inQ, output: outQ)
        } != nil)
        if Variant.avx512.isAvailable {
            #expect(expectError(.unsupported) {
                _ = try QConv2D(inChannels: 4, outChannels: 8, kernelH: 1, kernelW: 1, weights: w,
                                weightScales: .init(repeating: 0.1, count: 8), input: inQ, output: outQ, variant: .avx512)
            } != nil)
        }
        let conv = try QConv2D(inChannels: 4, outChannels: 8, kernelH: 1, kernelW: 1, weights: w,
                               weightScales: .init(repeating: 0.1, count: 8), input: inQ, output: outQ)
        let x = try QTensor(shape: TensorShape(h: 3, w: 3, c: 4), quantization: outQ)
        var y = try QTensor(shape: TensorShape(h: 3, w: 3, c: 8), quantization: outQ)
        #expect(expectError(.invalidArgument, "input quantized") { try conv.forward(x, into: &y) } != nil)
        let x2 = try QTensor(shape: TensorShape(h: 3, w: 3, c: 5), quantization: inQ)
        #expect(expectError(.shapeMismatch, "5 channels") { try conv.forward(x2, into: &y) } != nil)
        var y2 = try QTensor(shape: TensorShape(h: 3, w: 2, c: 8), quantization: outQ)
        #expect(expectError(.shapeMismatch, "output") { try conv.forward(try QTensor(shape: TensorShape(h: 3, w: 3, c: 4), quantization: inQ), into: &y2) } != nil)
        // Float layers do not take the int8-only variants.
        if Variant.avx512vnni.isAvailable {
            #expect(expectError(.unsupported) {
                _ = try Conv2D(inChannels: 4, outChannels: 8, kernelH: 1, kernelW: 1, weights: .init(repeating: 0, count: 32), variant: .avx512vnni)
            } != nil)
        }
    }

    @Test("QConv2D with float output writes (sum + bias) * input scale * weight scale, and only to a Tensor")
    func floatOutput() throws {
        let inQ = Quantization(scale: 0.05, zeroPoint: -3)
        let shape = try TensorShape(n: 2, h: 1, w: 1, c: 37)
        let x = try QTensor(shape: shape, quantization: inQ, nhwc: int8s(shape.count, seed: 11))
        let w = int8s(10 * 37, seed: 12, -127, 127), scales = (0..<10).map { 0.004 + Float($0) / 2000 }
        let bias = (0..<10).map { Int32($0 * 300 - 1500) }
        let fc = try QConv2D(inChannels: 37, outChannels: 10, kernelH: 1, kernelW: 1, weights: w, weightScales: scales,
                             bias: bias, input: inQ, output: inQ, floatOutput: true)
        var y = try Tensor(shape: TensorShape(n: 2, h: 1, w: 1, c: 10))
        try fc.forward(x, into: &y)
        let xs = x.toArray(), got = y.toArray()
        for b in 0..<2 {
            for o in 0..<10 {
                var acc = bias[o]
                for k in 0..<37 { acc = acc &+ (Int32(xs[b * 37 + k]) - inQ.zeroPoint) &* Int32(w[o * 37 + k]) }
                #expect(got[b * 10 + o] == Float(acc) * (inQ.scale * scales[o]))
            }
        }
        var q = try QTensor(shape: y.shape, quantization: inQ)
        #expect(expectError(.invalidArgument, "Tensor") { try fc.forward(x, into: &q) } != nil)
        #expect(expectError(.unsupported, "QConv2D") {
            _ = try QConv2D(inChannels: 37, outChannels: 10, kernelH: 1, kernelW: 1, weights: w, weightScales: scales,
                            activation: .relu, input: inQ, output: inQ, floatOutput: true)
        } != nil)
    }
}
