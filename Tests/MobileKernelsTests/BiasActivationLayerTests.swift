import MobileKernels
import ReferenceKernels
import Testing

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

private let activations: [Activation] = [.none, .relu, .relu6, .hardswish, .hardsigmoid, .clamp(min: -1, max: 2)]
private let variants = Catalogue.variants(of: .vunary).filter(\.isAvailable) + [.auto]

@Suite("BiasActivation layer")
struct BiasActivationLayerTests {
    @Test("matches ReferenceKernels for every variant and activation, batch 2", arguments: variants)
    func matchesReference(variant: Variant) throws {
        var seed: UInt32 = 12345
        func next() -> Float {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Float(Int32(bitPattern: seed) >> 8) / Float(1 << 21)  // about [-4, 4)
        }
        for activation in activations {
            for (h, w, c) in [(1, 1, 1), (3, 5, 17), (7, 2, 64), (4, 4, 100)] {
                let shape = try TensorShape(n: 2, h: h, w: w, c: c)
                let x = (0..<shape.count).map { _ in next() }
                let bias = (0..<c).map { _ in next() }
                let layer = try BiasActivation(channels: c, bias: bias, activation: activation, variant: variant)
                #expect(variant == .auto ? layer.variant == Variant.best : layer.variant == variant)
                let y = try layer(Tensor(shape: shape, nhwc: x), threadPool: try ThreadPool(threads: 2))
                let want = Reference.biasActivation(RefTensor(n: 2, h: h, w: w, c: c, data: x), bias: bias,
                                                    activation: refActivation(activation)).data
                let got = y.toArray()
                let tolerance: Float = (activation == .hardswish || activation == .hardsigmoid) ? 1e-6 : 0
                for i in 0..<got.count where abs(got[i] - want[i]) > tolerance * max(1, abs(want[i])) {
                    Issue.record("\(layer.name) \(shape) at \(i): got \(got[i]), want \(want[i])")
                    break
                }
                // In place gives the same values.
                var t = try Tensor(shape: shape, nhwc: x)
                try layer.apply(inPlace: &t, threadPool: .serial)
                #expect(t.toArray() == got)
            }
        }
    }

    @Test func badInputs() throws {
        #expect(throws: MobileKernelsError.self) { try BiasActivation(channels: 0, activation: .relu) }
        do {
            _ = try BiasActivation(channels: 4, bias: [1, 2, 3], activation: .relu)
            Issue.record("a 3-value bias for 4 channels was accepted")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .invalidArgument)
            #expect(error.message.contains("bias has 3 values, expected 4"))
        }
        do {
            _ = try BiasActivation(channels: 4, activation: .clamp(min: 3, max: 1))
            Issue.record("clamp(3, 1) was accepted")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .invalidArgument)
        }
        do {
            _ = try BiasActivation(channels: 4, activation: .relu, variant: .blis)
            Issue.record("a BLIS bias+activation was created")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .unsupported)
            #expect(error.message.contains("BiasActivation"))
            #expect(error.message.contains("this CPU runs"))
        }
        for variant in Variant.allCases where !variant.isAvailable {
            #expect(throws: MobileKernelsError.self) { try BiasActivation(channels: 4, activation: .relu, variant: variant) }
        }

        let layer = try BiasActivation(channels: 8, activation: .relu6)
        let wrongChannels = try Tensor(shape: TensorShape(h: 2, w: 2, c: 5))
        do {
            _ = try layer(wrongChannels)
            Issue.record("5 channels accepted by an 8-channel layer")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .shapeMismatch)
            #expect(error.message.contains("[1, 2, 2, 5]"))
        }
        let input = try Tensor(shape: TensorShape(h: 2, w: 2, c: 8))
        var wrongOutput = try Tensor(shape: TensorShape(h: 2, w: 3, c: 8))
        #expect(throws: MobileKernelsError.self) { try layer.forward(input, into: &wrongOutput, threadPool: .serial) }
    }

    @Test("writing into a shared output tensor does not change the other copy")
    func outputCopyOnWrite() throws {
        let layer = try BiasActivation(channels: 3, bias: [1, 1, 1], activation: .none)
        let input = try Tensor(shape: TensorShape(h: 1, w: 2, c: 3), repeating: 1)
        let original = try Tensor(shape: TensorShape(h: 1, w: 2, c: 3), repeating: 5)
        var output = original
        try layer.forward(input, into: &output, threadPool: .serial)
        #expect(output.toArray() == [Float](repeating: 2, count: 6))
        #expect(original.toArray() == [Float](repeating: 5, count: 6))
    }
}
