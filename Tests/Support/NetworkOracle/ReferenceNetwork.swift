import MobileKernels
import ReferenceKernels

/// A network computed with ReferenceKernels' naive loops, exactly as PyTorch's eval-mode
/// forward does it: convolution (+ bias), then BatchNorm from its running statistics (not folded),
/// then the activation; flatten in PyTorch's (c, h, w) order, so linear weights are used as given.
/// The oracle of the model tests and the baseline of `benchmarks models`.
public func referenceForward(_ architecture: Architecture, parameters: [String: [Float]], input: RefTensor) -> RefTensor {
    var outputs: [RefTensor] = []
    outputs.reserveCapacity(architecture.nodes.count)
    for node in architecture.nodes {
        let x = node.inputs.first.map { outputs[$0] } ?? input
        let y: RefTensor
        switch node.operation {
        case .input:
            y = input
        case let .conv(c):
            var t = Reference.conv2d(x, weight: parameters[c.weightKey]!, bias: c.biasKey.map { parameters[$0]! },
                                     outChannels: c.outChannels, kernelH: c.kernelH, kernelW: c.kernelW,
                                     strideH: c.strideH, strideW: c.strideW,
                                     padding: RefPadding(top: c.padTop, left: c.padLeft, bottom: c.padBottom, right: c.padRight),
                                     dilationH: c.dilationH, dilationW: c.dilationW, groups: c.groups)
            if let bn = c.batchNorm {
                let gamma = parameters[bn.weightKey]!, beta = parameters[bn.biasKey]!
                let mean = parameters[bn.runningMeanKey]!, variance = parameters[bn.runningVarKey]!
                for i in 0..<t.data.count {
                    let ch = i % t.c
                    t.data[i] = (t.data[i] - mean[ch]) / (variance[ch] + bn.eps).squareRoot() * gamma[ch] + beta[ch]
                }
            }
            y = Reference.activation(t, referenceActivation(c.activation))
        case let .maxPool(k, s, p):
            y = Reference.maxPool2d(x, kernelH: k, kernelW: k, strideH: s, strideW: s, padding: .symmetric(p))
        case let .avgPool(k, s, p, include):
            y = Reference.avgPool2d(x, kernelH: k, kernelW: k, strideH: s, strideW: s, padding: .symmetric(p),
                                    countIncludePad: include)
        case let .adaptiveAvgPool(oh, ow):
            y = referenceAdaptiveAvgPool(x, outputH: oh, outputW: ow)
        case .globalAveragePool:
            y = Reference.globalAveragePool(x)
        case .flatten:
            // PyTorch's order: (c, h, w).
            var data = [Float](repeating: 0, count: x.data.count)
            let hw = x.h * x.w
            for b in 0..<x.n {
                for p in 0..<hw {
                    for ch in 0..<x.c { data[b * hw * x.c + ch * hw + p] = x.data[(b * hw + p) * x.c + ch] }
                }
            }
            y = RefTensor(n: x.n, h: 1, w: 1, c: hw * x.c, data: data)
        case let .linear(l):
            let out = Reference.fullyConnected(x.data, batch: x.n, inFeatures: l.inFeatures, weight: parameters[l.weightKey]!,
                                               bias: l.biasKey.map { parameters[$0]! }, outFeatures: l.outFeatures,
                                               activation: referenceActivation(l.activation))
            y = RefTensor(n: x.n, h: 1, w: 1, c: l.outFeatures, data: out)
        case let .squeezeExcitation(se):
            y = Reference.squeezeExcitation(x, fc1Weight: parameters[se.fc1WeightKey]!, fc1Bias: parameters[se.fc1BiasKey]!,
                                            squeezeChannels: se.squeezeChannels, fc2Weight: parameters[se.fc2WeightKey]!,
                                            fc2Bias: parameters[se.fc2BiasKey]!)
        case let .channelShuffle(groups):
            y = Reference.channelShuffle(x, groups: groups)
        case let .add(activation):
            y = Reference.add(x, outputs[node.inputs[1]], activation: referenceActivation(activation))
        case let .concat(activation):
            y = Reference.activation(Reference.concatChannels(node.inputs.map { outputs[$0] }), referenceActivation(activation))
        }
        outputs.append(y)
    }
    return outputs[outputs.count - 1]
}

/// PyTorch's AdaptiveAvgPool2d: cell (i, j) averages rows floor(i * H / oh) ..< ceil((i + 1) * H / oh)
/// and the same for columns.
public func referenceAdaptiveAvgPool(_ x: RefTensor, outputH oh: Int, outputW ow: Int) -> RefTensor {
    var out = RefTensor(n: x.n, h: oh, w: ow, c: x.c)
    for b in 0..<x.n {
        for i in 0..<oh {
            let y0 = i * x.h / oh, y1 = ((i + 1) * x.h + oh - 1) / oh
            for j in 0..<ow {
                let x0 = j * x.w / ow, x1 = ((j + 1) * x.w + ow - 1) / ow
                let count = Float((y1 - y0) * (x1 - x0))
                for ch in 0..<x.c {
                    var sum: Float = 0
                    for yy in y0..<y1 { for xx in x0..<x1 { sum += x.data[((b * x.h + yy) * x.w + xx) * x.c + ch] } }
                    out.data[((b * oh + i) * ow + j) * x.c + ch] = sum / count
                }
            }
        }
    }
    return out
}

/// ReferenceKernels' activation for ours.
public func referenceActivation(_ activation: Activation) -> RefActivation {
    switch activation {
    case .none: .none
    case .relu: .relu
    case .relu6: .relu6
    case .hardswish: .hardswish
    case .hardsigmoid: .hardsigmoid
    case let .clamp(lo, hi): .clamp(min: lo, max: hi)
    }
}

/// Deterministic values in [-1, 1) (a linear congruential sequence), so runs are comparable.
public func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
}
