import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

// The training BatchNorm and activation-gradient kernels (f32_bntrain) against the float64
// training references (RefTrain), for every variant this CPU runs, on shapes that cover one and
// many reduction chunks, channel tails, channel slices of wider tensors, in place, and 1 vs 2
// threads bit for bit.

private let activations: [Activation] = [.none, .relu, .relu6, .hardswish, .hardsigmoid, .clamp(min: -1, max: 2)]
private let variants = Catalogue.variants(of: .bntrain).filter(\.isAvailable)

private struct Generator {
    var state: UInt64
    /// Uniform in [lo, hi).
    mutating func next(_ lo: Float, _ hi: Float) -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
    }
    mutating func values(_ count: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<count).map { _ in next(lo, hi) } }
}

/// max |got - want| / max |want| (0 when both are 0).
private func relativeError(_ got: [Float], _ want: [Double]) -> Double {
    precondition(got.count == want.count)
    var diff = 0.0, scale = 0.0
    for (g, w) in zip(got, want) {
        diff = max(diff, abs(Double(g) - w))
        scale = max(scale, abs(w))
    }
    return scale == 0 ? diff : diff / scale
}

/// (n, h, w, channels, channel offset in a tensor of `width` channels; 0 width = dense)
private let shapes: [(n: Int, h: Int, w: Int, c: Int, offset: Int, width: Int)] = [
    (1, 1, 2, 1, 0, 0),      // 2 pixels, 1 channel
    (2, 3, 5, 7, 0, 0),      // channels below every vector width
    (3, 5, 7, 19, 2, 24),    // tail over one vector, a channel slice
    (2, 9, 11, 64, 0, 0),    // whole blocks
    (4, 17, 13, 37, 0, 0),   // 884 pixels: 4 chunks (chunk 222 rows for 37 channels)
    (2, 15, 15, 200, 0, 0),  // 450 pixels, 64-row chunks: 8 chunks, the last short
    (1, 1, 130, 96, 32, 130), // one image row, a slice
]

private struct Case {
    let shape: TensorShape
    let offset: Int
    let width: Int
    let x: [Float]  // `width` channels per pixel (the slice at `offset`), or dense
    let dy: [Float]
    let gamma: [Float]
    let beta: [Float]

    func tensor(_ values: [Float]) throws -> Tensor {
        try Tensor(shape: TensorShape(n: shape.n, h: shape.h, w: shape.w, c: width), nhwc: values)
    }

    /// The slice's values, dense, as float64.
    func dense(_ values: [Float]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(shape.count)
        for p in 0..<shape.pixels { for ch in 0..<shape.c { out.append(Double(values[p * width + offset + ch])) } }
        return out
    }

    func slice(_ t: Tensor) -> [Float] {
        let all = t.toArray()
        var out: [Float] = []
        for p in 0..<shape.pixels { for ch in 0..<shape.c { out.append(all[p * width + offset + ch]) } }
        return out
    }

    var range: Range<Int> { offset..<(offset + shape.c) }

    var refShape: (n: Int, h: Int, w: Int, c: Int) { (shape.n, shape.h, shape.w, shape.c) }
}

private func makeCase(_ s: (n: Int, h: Int, w: Int, c: Int, offset: Int, width: Int), seed: UInt64) throws -> Case {
    var g = Generator(state: seed)
    let width = s.width == 0 ? s.c : s.width
    let count = s.n * s.h * s.w * width
    // A mean far from zero, so a one-pass variance would lose digits.
    return Case(shape: try TensorShape(n: s.n, h: s.h, w: s.w, c: s.c), offset: s.offset, width: width,
                x: g.values(count, 2, 6), dy: g.values(count, -1, 1), gamma: g.values(s.c, -2, 2), beta: g.values(s.c, -2, 2))
}

@Suite("BatchNorm training and activation gradients (f32_bntrain)")
struct BatchNormTrainingTests {
    @Test("forward and backward match the float64 references; 1 and 2 threads give the same bits", arguments: variants)
    func matchesReference(variant: Variant) throws {
        let two = try ThreadPool(threads: 2)
        for (index, s) in shapes.enumerated() {
            for (k, activation) in activations.enumerated() {
                let c = try makeCase(s, seed: UInt64(100 * index + k))
                let eps: Float = k % 2 == 0 ? 1e-5 : 1e-3
                let layer = try BatchNormTraining(channels: s.c, eps: eps, activation: activation, variant: variant)
                #expect(layer.variant == variant)
                let what = "\(layer.name) on \(c.shape) at \(c.offset)/\(c.width)"

                // The references, in float64.
                let r = c.refShape
                let x64 = RefTensorOf<Double>(n: r.n, h: r.h, w: r.w, c: r.c, data: c.dense(c.x))
                let dy64 = RefTensorOf<Double>(n: r.n, h: r.h, w: r.w, c: r.c, data: c.dense(c.dy))
                let bn = RefTrain.batchNormTraining(x64, gamma: c.gamma.map(Double.init), beta: c.beta.map(Double.init), eps: Double(eps))
                let act = referenceActivation(activation)
                let wantY = RefTrain.activation(bn.y, act)
                let du = RefTrain.activationBackward(bn.y, act, dy: dy64)
                let back = RefTrain.batchNormTrainingBackward(bn.saved, gamma: c.gamma.map(Double.init), dy: du)

                // Ours, on 1 and 2 threads, into a wider tensor's slice where the case has one.
                var results: [([Float], BatchNormTraining.Statistics, [Float], [Float], [Float])] = []
                for pool in [ThreadPool.serial, two] {
                    let x = try c.tensor(c.x), dyT = try c.tensor(c.dy)
                    var y = try c.tensor([Float](repeating: .nan, count: c.x.count))
                    let stats = try y.withMutableView(channels: c.range) {
                        try layer.forward(try x.view(channels: c.range), gamma: c.gamma, beta: c.beta, into: $0, threadPool: pool)
                    }
                    var dx = try c.tensor([Float](repeating: .nan, count: c.x.count))
                    let grads = try dx.withMutableView(channels: c.range) {
                        try layer.backward(input: try x.view(channels: c.range), outputGradient: try dyT.view(channels: c.range),
                                           gamma: c.gamma, beta: c.beta, statistics: stats, inputGradient: $0, threadPool: pool)
                    }
                    // Channels outside the slice are left alone.
                    if c.width > s.c {
                        let untouched = y.toArray().enumerated().filter { !c.range.contains($0.offset % c.width) }
                        #expect(untouched.allSatisfy { $0.element.isNaN }, "\(what): wrote outside its channels")
                    }
                    results.append((c.slice(y), stats, c.slice(dx), grads.gamma, grads.beta))
                }
                let (y, stats, dx, dGamma, dBeta) = results[0]
                let sameY = results[1].0 == y, sameStats = results[1].1 == stats, sameDx = results[1].2 == dx
                let sameParameters = results[1].3 == dGamma && results[1].4 == dBeta
                #expect(sameY && sameStats && sameDx && sameParameters, "\(what): 2 threads differ from 1")
                #expect(stats.count == c.shape.pixels)
                #expect(relativeError(stats.mean, bn.saved.mean) < 1e-6, "\(what): mean")
                #expect(relativeError(stats.variance, bn.saved.variance) < 1e-5, "\(what): variance")
                #expect(relativeError(y, wantY.data) < 1e-5, "\(what): y \(relativeError(y, wantY.data))")
                #expect(relativeError(dBeta, back.dBeta) < 1e-5, "\(what): dbeta \(relativeError(dBeta, back.dBeta))")
                #expect(relativeError(dGamma, back.dGamma) < 1e-5, "\(what): dgamma \(relativeError(dGamma, back.dGamma))")
                // dx cancels its terms (to ~0 for 2 pixels, where x-hat is +-1): judged against
                // the size of its first term, gamma * invStd * g.
                var termScale = 0.0, dxError = 0.0
                let gamma64 = c.gamma.map(Double.init), invStd64 = bn.saved.invStd
                for i in 0..<dx.count {
                    let ch = i % s.c
                    termScale = max(termScale, abs(gamma64[ch] * invStd64[ch] * du.data[i]))
                    dxError = max(dxError, abs(Double(dx[i]) - back.dx.data[i]))
                }
                #expect(dxError <= 1e-5 * termScale, "\(what): dx error \(dxError) for terms of \(termScale)")
            }
        }
    }

    @Test("in place: y over x and dx over dy give the out-of-place values", arguments: variants)
    func inPlace(variant: Variant) throws {
        let c = try makeCase((2, 6, 7, 21, 0, 0), seed: 7)
        let layer = try BatchNormTraining(channels: 21, activation: .hardswish, variant: variant)
        let x = try c.tensor(c.x), dyT = try c.tensor(c.dy)
        var y = try c.tensor(c.x)
        let stats = try layer.forward(try x.view(), gamma: c.gamma, beta: c.beta, into: try y.withMutableView { $0 })
        var inPlace = try c.tensor(c.x)
        let stats2 = try inPlace.withMutableView { try layer.forward($0, gamma: c.gamma, beta: c.beta, into: $0) }
        #expect(stats2 == stats)
        #expect(inPlace.toArray() == y.toArray())
        var dx = try c.tensor(c.dy)
        let g1 = try dx.withMutableView {
            try layer.backward(input: try x.view(), outputGradient: try dyT.view(), gamma: c.gamma, beta: c.beta,
                               statistics: stats, inputGradient: $0)
        }
        var dyInPlace = try c.tensor(c.dy)
        let g2 = try dyInPlace.withMutableView {
            try layer.backward(input: try x.view(), outputGradient: $0, gamma: c.gamma, beta: c.beta, statistics: stats, inputGradient: $0)
        }
        #expect(g1.gamma == g2.gamma && g1.beta == g2.beta)
        #expect(dyInPlace.toArray() == dx.toArray())
        // Without dx, the parameter gradients alone.
        let g3 = try layer.backward(input: try x.view(), outputGradient: try dyT.view(), gamma: c.gamma, beta: c.beta,
                                    statistics: stats, inputGradient: nil)
        #expect(g3.gamma == g1.gamma && g3.beta == g1.beta)
    }

    @Test("running statistics: PyTorch's momentum update with the unbiased variance")
    func runningStatistics() throws {
        let layer = try BatchNormTraining(channels: 2)
        let stats = BatchNormTraining.Statistics(mean: [1, -2], variance: [4, 0.5], invStd: [0.5, 1.4], count: 5)
        var mean: [Float] = [0, 1], variance: [Float] = [1, 1]
        try layer.updateRunningStatistics(mean: &mean, variance: &variance, from: stats, momentum: 0.1)
        #expect(abs(mean[0] - 0.1) < 1e-7 && abs(mean[1] - 0.7) < 1e-6)
        #expect(abs(variance[0] - (0.9 + 0.1 * 5)) < 1e-6 && abs(variance[1] - (0.9 + 0.1 * 0.625)) < 1e-6)
        #expect(throws: MobileKernelsError.self) {
            try layer.updateRunningStatistics(mean: &mean, variance: &variance, from: stats, momentum: 1.5)
        }
        var short: [Float] = [0]
        #expect(throws: MobileKernelsError.self) {
            try layer.updateRunningStatistics(mean: &short, variance: &variance, from: stats)
        }
    }

    @Test("activation gradient: the reference's bits, the bias gradient within float64's, threads agree", arguments: variants)
    func activationGradient(variant: Variant) throws {
        let two = try ThreadPool(threads: 2)
        for (index, s) in shapes.enumerated() {
            for (k, activation) in activations.enumerated() {
                var g = Generator(state: UInt64(1000 + 10 * index + k))
                let width = s.width == 0 ? s.c : s.width
                let shape = try TensorShape(n: s.n, h: s.h, w: s.w, c: width)
                // u covers every region of every activation, and every kink exactly.
                var uValues = g.values(shape.count, -8, 8)
                let kinks: [Float] = [0, -0.0, 6, -3, 3, -1, 2]
                for i in stride(from: 0, to: uValues.count, by: 5) { uValues[i] = kinks[(i / 5) % kinks.count] }
                let u = try Tensor(shape: shape, nhwc: uValues)
                let dy = try Tensor(shape: shape, nhwc: g.values(shape.count, -1, 1))
                let range = s.offset..<(s.offset + s.c)
                let layer = try ActivationBackward(channels: s.c, activation: activation, variant: variant)
                let sliceShape = try TensorShape(n: s.n, h: s.h, w: s.w, c: s.c)
                func slice(_ t: Tensor) -> [Float] {
                    let all = t.toArray()
                    return (0..<sliceShape.pixels).flatMap { p in range.map { all[p * width + $0] } }
                }
                let uRef = RefTensorOf<Float>(n: s.n, h: s.h, w: s.w, c: s.c, data: slice(u))
                let dyRef = RefTensorOf<Float>(n: s.n, h: s.h, w: s.w, c: s.c, data: slice(dy))
                let want = RefTrain.activationBackward(uRef, referenceActivation(activation), dy: dyRef).data
                var wantBias = [Double](repeating: 0, count: s.c)
                for (i, v) in want.enumerated() { wantBias[i % s.c] += Double(v) }
                var runs: [([Float], [Float])] = []
                for pool in [ThreadPool.serial, two] {
                    var dx = try Tensor(shape: shape, repeating: .nan)
                    let bias = try dx.withMutableView(channels: range) {
                        try layer.backward(preActivation: try u.view(channels: range), outputGradient: try dy.view(channels: range),
                                           into: $0, threadPool: pool)
                    }
                    runs.append((slice(dx), bias))
                }
                #expect(runs[0].0 == want, "\(layer.name) on \(sliceShape): dx differs from the reference")
                #expect(runs[1].0 == runs[0].0 && runs[1].1 == runs[0].1, "\(layer.name): 2 threads differ from 1")
                #expect(relativeError(runs[0].1, wantBias) < 1e-5, "\(layer.name) on \(sliceShape): bias gradient")
                // In place over dy, and without the bias gradient.
                var inPlace = dy
                let none = try inPlace.withMutableView(channels: range) {
                    try layer.backward(preActivation: try u.view(channels: range), outputGradient: $0, into: $0,
                                       biasGradient: false)
                }
                #expect(none.isEmpty)
                #expect(slice(inPlace) == want)
            }
        }
    }

    @Test("bad input throws a clear error")
    func badInput() throws {
        #expect(throws: MobileKernelsError.self) { try BatchNormTraining(channels: 0) }
        #expect(throws: MobileKernelsError.self) { try BatchNormTraining(channels: 4, eps: -1) }
        #expect(throws: MobileKernelsError.self) { try BatchNormTraining(channels: 4, eps: .infinity) }
        #expect(throws: MobileKernelsError.self) { try BatchNormTraining(channels: 4, activation: .clamp(min: 2, max: 1)) }
        for variant in Variant.allCases where !Catalogue.variants(of: .bntrain).contains(variant) || !variant.isAvailable {
            guard variant != .auto else { continue }
            #expect(throws: MobileKernelsError.self) { try BatchNormTraining(channels: 4, variant: variant) }
            #expect(throws: MobileKernelsError.self) { try ActivationBackward(channels: 4, activation: .relu, variant: variant) }
        }
        let layer = try BatchNormTraining(channels: 4)
        let x = try Tensor(shape: TensorShape(n: 1, h: 2, w: 3, c: 4), repeating: 1)
        var y = x
        let gamma = [Float](repeating: 1, count: 4)
        expectError(.shapeMismatch, "gamma has 3 values") {
            _ = try y.withMutableView { try layer.forward(try x.view(), gamma: [1, 1, 1], beta: gamma, into: $0) }
        }
        let one = try Tensor(shape: TensorShape(n: 1, h: 1, w: 1, c: 4), repeating: 1)
        var oneOut = one
        expectError(.invalidArgument, "one value per channel") {
            _ = try oneOut.withMutableView { try layer.forward(try one.view(), gamma: gamma, beta: gamma, into: $0) }
        }
        let five = try Tensor(shape: TensorShape(n: 1, h: 2, w: 3, c: 5), repeating: 1)
        expectError(.shapeMismatch, "has 5 channels, expected 4") {
            _ = try y.withMutableView { try layer.forward(try five.view(), gamma: gamma, beta: gamma, into: $0) }
        }
        var wide = try Tensor(shape: TensorShape(n: 1, h: 3, w: 2, c: 4), repeating: 1)
        expectError(.shapeMismatch, "is not the input's shape") {
            _ = try wide.withMutableView { try layer.forward(try x.view(), gamma: gamma, beta: gamma, into: $0) }
        }
        let stats = try y.withMutableView { try layer.forward(try x.view(), gamma: gamma, beta: gamma, into: $0) }
        var other = stats
        other.count = 7
        expectError(.shapeMismatch, "statistics of 7 values") {
            _ = try layer.backward(input: try x.view(), outputGradient: try y.view(), gamma: gamma, beta: gamma,
                                   statistics: other, inputGradient: nil)
        }
        let act = try ActivationBackward(channels: 4, activation: .relu)
        expectError(.shapeMismatch, "must be one shape") {
            _ = try y.withMutableView { try act.backward(preActivation: try five.view(), outputGradient: try x.view(), into: $0) }
        }
    }
}
