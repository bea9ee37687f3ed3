// The training references (RefTrain): every backward against central finite differences of its
// forward in Double, on random shapes (odd sizes, every padding, stride 2, groups, dilation,
// batch > 1); their float32 forwards against the inference references, bit for bit.

import ReferenceKernels
import Testing

private typealias D = RefTensorOf<Double>

private func randomDoubles(_ count: Int, _ rng: inout SeededGenerator) -> [Double] {
    (0..<count).map { _ in Double.random(in: -1...1, using: &rng) }
}

private func randomD(_ n: Int, _ h: Int, _ w: Int, _ c: Int, _ rng: inout SeededGenerator) -> D {
    D(n: n, h: h, w: w, c: c, data: randomDoubles(n * h * w * c, &rng))
}

/// Checks `backward` against central differences of `L(inputs) = sum(dy * forward(inputs))` for
/// every element of every input (or `samples` random ones of the larger inputs): the analytic
/// gradient and the difference quotient agree within 1e-6 * max(1, |gradient|).
private func expectGradients(_ inputs: [[Double]], samples: Int = 60, seed: UInt64,
                             forward: ([[Double]]) -> [Double], backward: ([[Double]], [Double]) -> [[Double]],
                             sourceLocation: SourceLocation = #_sourceLocation) {
    var rng = SeededGenerator(seed: seed)
    let y = forward(inputs)
    let dy = randomDoubles(y.count, &rng)
    let grads = backward(inputs, dy)
    #expect(grads.count == inputs.count, sourceLocation: sourceLocation)
    func loss(_ v: [[Double]]) -> Double { zip(forward(v), dy).reduce(0) { $0 + $1.0 * $1.1 } }
    for (k, input) in inputs.enumerated() {
        #expect(grads[k].count == input.count, "input \(k): gradient of \(grads[k].count) for \(input.count)", sourceLocation: sourceLocation)
        let indices = input.count <= samples ? Array(0..<input.count) : (0..<samples).map { _ in Int.random(in: 0..<input.count, using: &rng) }
        for i in indices {
            let h = 1e-6
            var plus = inputs, minus = inputs
            plus[k][i] += h
            minus[k][i] -= h
            let fd = (loss(plus) - loss(minus)) / (2 * h)
            #expect(abs(fd - grads[k][i]) <= 1e-6 * max(1, abs(grads[k][i])),
                    "input \(k) element \(i): backward \(grads[k][i]), finite difference \(fd)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("Training references: gradients against finite differences (Double)")
struct GradientTests {
    /// Dense, 1x1, grouped, depthwise, strided, dilated, asymmetric padding, batch > 1.
    static let convCases: [(n: Int, h: Int, w: Int, cin: Int, g: RefConvGeometry)] = [
        (2, 7, 5, 3, RefConvGeometry(outChannels: 4, kernelH: 3, kernelW: 3, padding: .symmetric(1))),
        (1, 9, 8, 5, RefConvGeometry(outChannels: 7, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                                     padding: RefPadding(top: 1, left: 0, bottom: 2, right: 1))),
        (2, 5, 6, 6, RefConvGeometry(outChannels: 9, kernelH: 1, kernelW: 1, groups: 3)),
        (2, 6, 7, 5, RefConvGeometry(outChannels: 5, kernelH: 5, kernelW: 5, strideH: 2, strideW: 1,
                                     padding: .symmetric(2), groups: 5)),
        (1, 8, 8, 4, RefConvGeometry(outChannels: 4, kernelH: 3, kernelW: 3, padding: .symmetric(2),
                                     dilationH: 2, dilationW: 2, groups: 4)),
        (3, 1, 1, 6, RefConvGeometry(outChannels: 3, kernelH: 1, kernelW: 1)),
        (1, 11, 9, 2, RefConvGeometry(outChannels: 3, kernelH: 5, kernelW: 3, strideH: 3, strideW: 2,
                                      padding: RefPadding(top: 2, left: 1, bottom: 0, right: 2))),
    ]

    @Test(arguments: 0..<convCases.count)
    func convolution(_ index: Int) {
        let (n, h, w, cin, g) = Self.convCases[index]
        var rng = SeededGenerator(seed: 100 + UInt64(index))
        let x = randomDoubles(n * h * w * cin, &rng)
        let weight = randomDoubles(g.outChannels * cin / g.groups * g.kernelH * g.kernelW, &rng)
        let bias = randomDoubles(g.outChannels, &rng)
        let tensor = { (v: [Double]) in D(n: n, h: h, w: w, c: cin, data: v) }
        expectGradients([x, weight, bias], seed: UInt64(index),
                        forward: { RefTrain.conv2d(tensor($0[0]), weight: $0[1], bias: $0[2], g).data },
                        backward: { v, dy in
                            let y = RefTrain.conv2d(tensor(v[0]), weight: v[1], bias: v[2], g)
                            let r = RefTrain.conv2dBackward(tensor(v[0]), weight: v[1], g, dy: D(n: y.n, h: y.h, w: y.w, c: y.c, data: dy))
                            return [r.dx.data, r.dWeight, r.dBias]
                        })
    }

    @Test(arguments: [(2, 5, 3, 7), (1, 1, 1, 3), (4, 3, 2, 1)])
    func batchNormTraining(_ shape: (Int, Int, Int, Int)) {
        let (n, h, w, c) = shape
        guard n * h * w >= 2 else { return }
        var rng = SeededGenerator(seed: UInt64(n * 1000 + c))
        let x = randomDoubles(n * h * w * c, &rng), gamma = randomDoubles(c, &rng), beta = randomDoubles(c, &rng)
        let tensor = { (v: [Double]) in D(n: n, h: h, w: w, c: c, data: v) }
        expectGradients([x, gamma, beta], seed: 7,
                        forward: { RefTrain.batchNormTraining(tensor($0[0]), gamma: $0[1], beta: $0[2], eps: 1e-3).y.data },
                        backward: { v, dy in
                            let saved = RefTrain.batchNormTraining(tensor(v[0]), gamma: v[1], beta: v[2], eps: 1e-3).saved
                            let r = RefTrain.batchNormTrainingBackward(saved, gamma: v[1], dy: tensor(dy))
                            return [r.dx.data, r.dGamma, r.dBeta]
                        })
    }

    @Test func batchNormStatisticsAndRunningUpdate() {
        // Channel 0: 1, 2, 3, 6 -> mean 3, biased var 3.5, unbiased 14/3.
        let x = D(n: 2, h: 1, w: 2, c: 1, data: [1, 2, 3, 6])
        let r = RefTrain.batchNormTraining(x, gamma: [2], beta: [0.5], eps: 0)
        #expect(r.saved.mean == [3] && r.saved.variance == [3.5])
        #expect(abs(r.y.data[3] - (3 / 3.5.squareRoot() * 2 + 0.5)) < 1e-12)
        var mean: [Double] = [1], variance: [Double] = [1]
        RefTrain.updateRunningStatistics(runningMean: &mean, runningVar: &variance, saved: r.saved, count: 4, momentum: 0.1)
        #expect(abs(mean[0] - (0.9 + 0.3)) < 1e-12 && abs(variance[0] - (0.9 + 0.1 * 14 / 3)) < 1e-12)
    }

    @Test(arguments: [RefActivation.none, .relu, .relu6, .hardswish, .hardsigmoid, .clamp(min: -0.5, max: 0.25)])
    func activation(_ act: RefActivation) {
        var rng = SeededGenerator(seed: 3)
        // Spread over [-8, 8] so every piece of every activation is hit.
        let u = randomDoubles(300, &rng).map { $0 * 8 }
        let tensor = { (v: [Double]) in D(n: 1, h: 1, w: 1, c: v.count, data: v) }
        expectGradients([u], samples: 300, seed: 4,
                        forward: { RefTrain.activation(tensor($0[0]), act).data },
                        backward: { v, dy in [RefTrain.activationBackward(tensor(v[0]), act, dy: tensor(dy)).data] })
    }

    @Test func activationKinksFollowPyTorch() {
        let u = D(n: 1, h: 1, w: 1, c: 5, data: [-3, 0, 3, 6, -4])
        let ones = D(n: 1, h: 1, w: 1, c: 5, repeating: 1)
        #expect(RefTrain.activationBackward(u, .relu, dy: ones).data == [0, 0, 1, 1, 0])
        #expect(RefTrain.activationBackward(u, .relu6, dy: ones).data == [0, 0, 1, 0, 0])
        #expect(RefTrain.activationBackward(u, .hardswish, dy: ones).data == [-0.5, 0.5, 1.5, 1, 0])
        #expect(RefTrain.activationBackward(u, .hardsigmoid, dy: ones).data == [0, 1.0 / 6, 0, 0, 0])
    }

    static let poolCases: [(n: Int, h: Int, w: Int, c: Int, g: RefPoolGeometry)] = [
        (2, 7, 7, 3, RefPoolGeometry(kernel: 3, stride: 2, padding: 1)),
        (1, 8, 5, 2, RefPoolGeometry(kernel: 2, stride: 2, padding: 0)),
        (1, 6, 9, 3, RefPoolGeometry(kernelH: 3, kernelW: 2, strideH: 1, strideW: 3, padding: RefPadding(top: 0, left: 1, bottom: 2, right: 0))),
        (2, 13, 13, 2, RefPoolGeometry(kernel: 3, stride: 2, padding: 0)),
    ]

    @Test(arguments: 0..<poolCases.count)
    func maxPool(_ index: Int) {
        let (n, h, w, c, g) = Self.poolCases[index]
        var rng = SeededGenerator(seed: 200 + UInt64(index))
        let tensor = { (v: [Double]) in D(n: n, h: h, w: w, c: c, data: v) }
        expectGradients([randomDoubles(n * h * w * c, &rng)], samples: 400, seed: 9,
                        forward: { RefTrain.maxPool2d(tensor($0[0]), g).y.data },
                        backward: { v, dy in
                            let r = RefTrain.maxPool2d(tensor(v[0]), g)
                            return [RefTrain.maxPool2dBackward(inputShapeOf: tensor(v[0]), argmax: r.argmax,
                                                               dy: D(n: r.y.n, h: r.y.h, w: r.y.w, c: c, data: dy)).data]
                        })
    }

    @Test func maxPoolTiesGoToTheFirstMaximum() {
        // One 2x2 window of equal values: PyTorch's index (and gradient) is the first, (0, 0).
        let x = D(n: 1, h: 2, w: 2, c: 1, data: [5, 5, 5, 5])
        let r = RefTrain.maxPool2d(x, RefPoolGeometry(kernel: 2, stride: 2, padding: 0))
        #expect(r.argmax == [0])
        let dx = RefTrain.maxPool2dBackward(inputShapeOf: x, argmax: r.argmax, dy: D(n: 1, h: 1, w: 1, c: 1, data: [3]))
        #expect(dx.data == [3, 0, 0, 0])
    }

    @Test(arguments: [(0, true), (0, false), (2, true), (2, false)])
    func averagePool(_ which: (Int, Bool)) {
        let (n, h, w, c, g) = Self.poolCases[which.0]
        var rng = SeededGenerator(seed: 300 + UInt64(which.0))
        let tensor = { (v: [Double]) in D(n: n, h: h, w: w, c: c, data: v) }
        expectGradients([randomDoubles(n * h * w * c, &rng)], samples: 400, seed: 10,
                        forward: { RefTrain.avgPool2d(tensor($0[0]), g, countIncludePad: which.1).data },
                        backward: { v, dy in
                            let y = RefTrain.avgPool2d(tensor(v[0]), g, countIncludePad: which.1)
                            return [RefTrain.avgPool2dBackward(inputShapeOf: tensor(v[0]), g, countIncludePad: which.1,
                                                               dy: D(n: y.n, h: y.h, w: y.w, c: c, data: dy)).data]
                        })
    }

    /// Adaptive pooling to larger (replicating), smaller (overlapping windows) and 1x1 (global).
    @Test(arguments: [(3, 3, 7, 7), (7, 5, 3, 2), (4, 6, 1, 1)])
    func adaptiveAveragePool(_ sizes: (Int, Int, Int, Int)) {
        let (h, w, oh, ow) = sizes
        var rng = SeededGenerator(seed: UInt64(h * 100 + w))
        let tensor = { (v: [Double]) in D(n: 2, h: h, w: w, c: 3, data: v) }
        expectGradients([randomDoubles(2 * h * w * 3, &rng)], samples: 400, seed: 11,
                        forward: { RefTrain.adaptiveAvgPool(tensor($0[0]), outputH: oh, outputW: ow).data },
                        backward: { v, dy in
                            [RefTrain.adaptiveAvgPoolBackward(inputShapeOf: tensor(v[0]), dy: D(n: 2, h: oh, w: ow, c: 3, data: dy)).data]
                        })
    }

    @Test func linear() {
        var rng = SeededGenerator(seed: 12)
        let (n, h, w, c, out) = (3, 2, 3, 5, 4)
        let tensor = { (v: [Double]) in D(n: n, h: h, w: w, c: c, data: v) }
        expectGradients([randomDoubles(n * h * w * c, &rng), randomDoubles(out * h * w * c, &rng), randomDoubles(out, &rng)], seed: 13,
                        forward: { RefTrain.linear(tensor($0[0]), weight: $0[1], bias: $0[2], outFeatures: out).data },
                        backward: { v, dy in
                            let r = RefTrain.linearBackward(tensor(v[0]), weight: v[1], dy: D(n: n, h: 1, w: 1, c: out, data: dy))
                            return [r.dx.data, r.dWeight, r.dBias]
                        })
    }

    @Test func squeezeExcitation() {
        var rng = SeededGenerator(seed: 14)
        let (n, h, w, c, s) = (2, 3, 4, 6, 3)
        let tensor = { (v: [Double]) in D(n: n, h: h, w: w, c: c, data: v) }
        let weights = { (v: [[Double]]) in RefTrain.SqueezeExcitationWeights(fc1Weight: v[1], fc1Bias: v[2], fc2Weight: v[3], fc2Bias: v[4]) }
        // Larger inputs and biases so the ReLU and the hard-sigmoid both cut somewhere.
        let inputs = [randomDoubles(n * h * w * c, &rng).map { $0 * 4 }, randomDoubles(s * c, &rng), randomDoubles(s, &rng),
                      randomDoubles(c * s, &rng).map { $0 * 4 }, randomDoubles(c, &rng).map { $0 * 3 }]
        expectGradients(inputs, seed: 15,
                        forward: { RefTrain.squeezeExcitation(tensor($0[0]), weights($0)).y.data },
                        backward: { v, dy in
                            let saved = RefTrain.squeezeExcitation(tensor(v[0]), weights(v)).saved
                            let r = RefTrain.squeezeExcitationBackward(tensor(v[0]), weights(v), saved: saved, dy: tensor(dy))
                            return [r.dx.data, r.grads.fc1Weight, r.grads.fc1Bias, r.grads.fc2Weight, r.grads.fc2Bias]
                        })
    }

    @Test func shuffleConcatFlatten() {
        var rng = SeededGenerator(seed: 16)
        let a = randomD(2, 3, 2, 6, &rng), b = randomD(2, 3, 2, 4, &rng)
        // Shuffle and its inverse are permutations of each other; the same for concat/split and flatten.
        #expect(RefTrain.channelShuffle(RefTrain.channelShuffle(a, groups: 3), groups: 3, inverse: true) == a)
        #expect(RefTrain.channelShuffle(a, groups: 3) != a)
        let joined = RefTrain.concatChannels([a, b])
        #expect(RefTrain.splitChannels(joined, channels: [6, 4]) == [a, b])
        #expect(RefTrain.flatten(RefTrain.flatten(a), inverse: true, h: 3, w: 2, c: 6) == a)
        // The gradient of a permutation is the inverse permutation: <dy, P x> == <P^T dy, x>.
        let dy = randomD(2, 3, 2, 6, &rng)
        let lhs = zip(dy.data, RefTrain.channelShuffle(a, groups: 2).data).reduce(0) { $0 + $1.0 * $1.1 }
        let rhs = zip(RefTrain.channelShuffle(dy, groups: 2, inverse: true).data, a.data).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(lhs - rhs) < 1e-12)
        let flatDy = randomD(2, 1, 1, 36, &rng)
        let lhsF = zip(flatDy.data, RefTrain.flatten(a).data).reduce(0) { $0 + $1.0 * $1.1 }
        let rhsF = zip(RefTrain.flatten(flatDy, inverse: true, h: 3, w: 2, c: 6).data, a.data).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(lhsF - rhsF) < 1e-12)
        // PyTorch's flatten order: (c, h, w).
        #expect(RefTrain.flatten(a).data[1] == a.data[a.index(0, 0, 1, 0)])
    }

    @Test func crossEntropy() {
        var rng = SeededGenerator(seed: 17)
        let labels = [2, 0, 4]
        let tensor = { (v: [Double]) in D(n: 3, h: 1, w: 1, c: 5, data: v) }
        let z = randomDoubles(15, &rng).map { $0 * 5 }
        expectGradients([z], seed: 18,
                        forward: { [RefTrain.softmaxCrossEntropy(tensor($0[0]), labels: labels).loss] },
                        backward: { v, dy in [RefTrain.softmaxCrossEntropy(tensor(v[0]), labels: labels).dLogits.data.map { $0 * dy[0] }] })
        // Two classes, logits (0, ln 3): p = (1/4, 3/4); label 0 -> loss ln 4, gradient (-3/4, 3/4).
        let r = RefTrain.softmaxCrossEntropy(D(n: 1, h: 1, w: 1, c: 2, data: [0, 1.0986122886681098]), labels: [0])
        #expect(abs(r.loss - 1.3862943611198906) < 1e-12)
        #expect(abs(r.dLogits.data[0] + 0.75) < 1e-12 && abs(r.dLogits.data[1] - 0.75) < 1e-12)
        // Huge logits stay finite (the max is subtracted).
        let big = RefTrain.softmaxCrossEntropy(RefTensorOf<Float>(n: 1, h: 1, w: 1, c: 2, data: [1000, 0]), labels: [1])
        #expect(big.loss == 1000 && big.dLogits.data == [1, -1])
    }
}

@Suite("Training references: float32 forwards equal the inference references")
struct TrainingForwardTests {
    @Test(arguments: 0..<GradientTests.convCases.count)
    func convolution(_ index: Int) {
        let (n, h, w, cin, g) = GradientTests.convCases[index]
        var rng = SeededGenerator(seed: 400 + UInt64(index))
        let x = randomTensor(n: n, h: h, w: w, c: cin, &rng)
        let weight = randomFloats(g.outChannels * cin / g.groups * g.kernelH * g.kernelW, &rng), bias = randomFloats(g.outChannels, &rng)
        let ours = RefTrain.conv2d(RefTensorOf<Float>(x), weight: weight, bias: bias, g)
        let reference = Reference.conv2d(x, weight: weight, bias: bias, outChannels: g.outChannels, kernelH: g.kernelH, kernelW: g.kernelW,
                                          strideH: g.strideH, strideW: g.strideW, padding: g.padding, dilationH: g.dilationH,
                                          dilationW: g.dilationW, groups: g.groups)
        #expect(ours.data == reference.data && ours.h == reference.h && ours.w == reference.w)
    }

    @Test func poolingLinearAndSqueezeExcitation() {
        var rng = SeededGenerator(seed: 500)
        let x = randomTensor(n: 2, h: 7, w: 7, c: 5, &rng)
        let g = RefPoolGeometry(kernel: 3, stride: 2, padding: 1)
        #expect(RefTrain.maxPool2d(RefTensorOf<Float>(x), g).y.data
            == Reference.maxPool2d(x, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padding: .symmetric(1)).data)
        for include in [true, false] {
            #expect(RefTrain.avgPool2d(RefTensorOf<Float>(x), g, countIncludePad: include).data
                == Reference.avgPool2d(x, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padding: .symmetric(1), countIncludePad: include).data)
        }
        #expect(RefTrain.adaptiveAvgPool(RefTensorOf<Float>(x), outputH: 1, outputW: 1).data == Reference.globalAveragePool(x).data)
        let weight = randomFloats(3 * 245, &rng), bias = randomFloats(3, &rng)
        #expect(RefTrain.linear(RefTensorOf<Float>(x), weight: weight, bias: bias, outFeatures: 3).data
            == Reference.fullyConnected(x.data, batch: 2, inFeatures: 245, weight: weight, bias: bias, outFeatures: 3))
        let (f1, b1, f2, b2) = (randomFloats(2 * 5, &rng), randomFloats(2, &rng), randomFloats(5 * 2, &rng), randomFloats(5, &rng))
        #expect(RefTrain.squeezeExcitation(RefTensorOf<Float>(x), .init(fc1Weight: f1, fc1Bias: b1, fc2Weight: f2, fc2Bias: b2)).y.data
            == Reference.squeezeExcitation(x, fc1Weight: f1, fc1Bias: b1, squeezeChannels: 2, fc2Weight: f2, fc2Bias: b2).data)
        #expect(RefTrain.channelShuffle(RefTensorOf<Float>(x), groups: 5).data == Reference.channelShuffle(x, groups: 5).data)
    }
}
