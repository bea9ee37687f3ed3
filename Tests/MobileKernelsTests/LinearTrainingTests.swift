@testable import MobileKernels
import NetworkOracle
import Testing

/// A training step's Linear layers (`LinearTraining`): the transposed forward gives the
/// inference layer's bits, the input gradient on the weights in place matches a float64
/// reference, both the same for 1 and 2 threads; bad shapes are errors.
@Suite("Linear layers in training: transposed forward, input gradient in place")
struct LinearTrainingTests {
    // (in, out, batch): odd sizes, fewer outputs than the GEMM's rows, one image, a batch past
    // one column tile, more inputs than a K block.
    static let shapes = [(37, 5, 3), (1, 1, 1), (130, 33, 9), (19, 70, 40), (1100, 12, 5), (64, 4, 33), (64, 300, 70)]

    @Test("forward: the bits of Conv2D's (inference), any thread count", arguments: shapes)
    func forward(inFeatures: Int, outFeatures: Int, batch: Int) throws {
        let weights = pseudoRandom(outFeatures * inFeatures, seed: 3)
        var bias = pseudoRandom(outFeatures, seed: 4)
        bias[0] = 0
        let x = try Tensor(shape: TensorShape(n: batch, h: 1, w: 1, c: inFeatures), nhwc: pseudoRandom(batch * inFeatures, seed: 5))
        for activation in [Activation.none, .relu, .relu6] {
            for withBias in [true, false] {
                let reference = try Conv2D(inChannels: inFeatures, outChannels: outFeatures, kernelH: 1, kernelW: 1, weights: weights,
                                           bias: withBias ? bias : nil, activation: activation)
                var want = try Tensor(shape: TensorShape(n: batch, h: 1, w: 1, c: outFeatures))
                try want.withMutableView { try reference.forward(try x.view(), into: $0, threadPool: .serial) }
                let linear = try LinearTraining(inFeatures: inFeatures, outFeatures: outFeatures, batch: batch,
                                                activation: activation, variant: .auto)
                for pool in [ThreadPool.serial, try ThreadPool(threads: 2)] {
                    var got = try Tensor(shape: want.shape)
                    try weights.withUnsafeBufferPointer { w in
                        try bias.withUnsafeBufferPointer { b in
                            try got.withMutableView {
                                try linear.forward(try x.view(), weights: w, bias: withBias ? b : nil, into: $0, threadPool: pool)
                            }
                        }
                    }
                    #expect(got.toArray().map(\.bitPattern) == want.toArray().map(\.bitPattern),
                            "\(inFeatures) -> \(outFeatures), batch \(batch), \(activation), bias \(withBias), \(pool.threadCount) threads")
                }
            }
        }
    }

    @Test("input gradient: dy W against float64, any thread count", arguments: shapes)
    func inputGradient(inFeatures: Int, outFeatures: Int, batch: Int) throws {
        let weights = pseudoRandom(outFeatures * inFeatures, seed: 6)
        let dyValues = pseudoRandom(batch * outFeatures, seed: 7)
        let dy = try Tensor(shape: TensorShape(n: batch, h: 1, w: 1, c: outFeatures), nhwc: dyValues)
        let linear = try LinearTraining(inFeatures: inFeatures, outFeatures: outFeatures, batch: batch, activation: .none, variant: .auto)
        var results: [[Float]] = []
        for pool in [ThreadPool.serial, try ThreadPool(threads: 2)] {
            var dx = try Tensor(shape: TensorShape(n: batch, h: 1, w: 1, c: inFeatures))
            try weights.withUnsafeBufferPointer { w in
                try dx.withMutableView { try linear.inputGradient(try dy.view(), weights: w, into: $0, threadPool: pool) }
            }
            results.append(dx.toArray())
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))
        var worst = 0.0
        for b in 0..<batch {
            for i in 0..<inFeatures {
                var sum = 0.0, magnitude = 0.0
                for o in 0..<outFeatures {
                    let term = Double(dyValues[b * outFeatures + o]) * Double(weights[o * inFeatures + i])
                    sum += term
                    magnitude += abs(term)
                }
                worst = max(worst, abs(Double(results[0][b * inFeatures + i]) - sum) / max(magnitude, 1e-30))
            }
        }
        // A float32 chain of `out` terms: at most (out + 2) units of 2^-24 of the terms' magnitude.
        let bound = Double(outFeatures + 2) * 0x1p-24
        #expect(worst <= bound, "\(inFeatures) -> \(outFeatures), batch \(batch): error \(worst) of the terms' magnitude")
    }

    @Test("bad shapes are errors")
    func errors() throws {
        let linear = try LinearTraining(inFeatures: 6, outFeatures: 4, batch: 2, activation: .relu, variant: .auto)
        let weights = [Float](repeating: 1, count: 24), bias = [Float](repeating: 0, count: 4)
        let x = try Tensor(shape: TensorShape(n: 2, h: 1, w: 1, c: 6))
        var y = try Tensor(shape: TensorShape(n: 2, h: 1, w: 1, c: 4))
        var wide = try Tensor(shape: TensorShape(n: 2, h: 1, w: 1, c: 8))
        let four = try Tensor(shape: TensorShape(n: 2, h: 1, w: 1, c: 4))
        weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                expectError(.shapeMismatch, "weights") {
                    try y.withMutableView { try linear.forward(try x.view(), weights: UnsafeBufferPointer(rebasing: w[0..<20]), bias: b, into: $0, threadPool: .serial) }
                }
                expectError(.shapeMismatch, "biases") {
                    try y.withMutableView { try linear.forward(try x.view(), weights: w, bias: UnsafeBufferPointer(rebasing: b[0..<3]), into: $0, threadPool: .serial) }
                }
                expectError(.shapeMismatch, "input") {
                    try y.withMutableView { try linear.forward(try four.view(), weights: w, bias: b, into: $0, threadPool: .serial) }
                }
                // A channel slice of a wider tensor is not dense rows.
                expectError(.shapeMismatch, "output") {
                    try wide.withMutableView(channels: 0..<4) { try linear.forward(try x.view(), weights: w, bias: b, into: $0, threadPool: .serial) }
                }
                expectError(.shapeMismatch, "input gradient") {
                    try y.withMutableView { try linear.inputGradient(try four.view(), weights: w, into: $0, threadPool: .serial) }
                }
            }
        }
        expectError(.invalidArgument, "positive") {
            _ = try LinearTraining(inFeatures: 0, outFeatures: 4, batch: 2, activation: .none, variant: .auto)
        }
    }
}
