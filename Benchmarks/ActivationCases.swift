import MobileKernels
import ReferenceKernels

/// One benchmark case: a kernel on one shape, runnable for each variant and as naive Swift.
struct BenchmarkCase {
    let family: String
    let name: String
    let shape: String
    let flops: Double
    let bytes: Double
    /// Builds the runner of `variant` (weights packed and buffers allocated here, outside the
    /// timed region); throws when the variant is not available for this kernel.
    let makeRunner: (Variant, ThreadPool) throws -> Runner
    /// The naive Swift reference: runs once and returns its output (NHWC).
    let reference: () -> [Float]
}

struct Runner {
    let run: () throws -> Void
    let output: () -> [Float]
}

/// Bias + activation on the foundation issue's two shapes, for the activations MobileNets use.
func activationCases() throws -> [BenchmarkCase] {
    var cases: [BenchmarkCase] = []
    let shapes = [(56, 56, 144), (112, 112, 96)]
    let activations: [(Activation, RefActivation)] = [(.relu6, .relu6), (.hardswish, .hardswish)]
    for (h, w, c) in shapes {
        for (activation, refActivation) in activations {
            let shape = try TensorShape(h: h, w: w, c: c)
            let x = (0..<shape.count).map { Float(($0 * 7919) % 2003) / 250 - 4 }
            let bias = (0..<c).map { Float($0 % 13) / 13 - 0.5 }
            cases.append(BenchmarkCase(
                family: "activation",
                name: "bias+\(activation)",
                shape: "1x\(h)x\(w)x\(c)",
                flops: Double(shape.count) * (activation == .hardswish ? 6 : 3),
                bytes: Double(shape.count) * 8,
                makeRunner: { variant, pool in
                    let layer = try BiasActivation(channels: c, bias: bias, activation: activation, variant: variant)
                    let input = try Tensor(shape: shape, nhwc: x)
                    var output = try Tensor(shape: shape)
                    return Runner(
                        run: { try layer.forward(input, into: &output, threadPool: pool) },
                        output: { output.toArray() })
                },
                reference: {
                    Reference.biasActivation(RefTensor(n: 1, h: h, w: w, c: c, data: x), bias: bias,
                                             activation: refActivation).data
                }))
        }
    }
    return cases
}
