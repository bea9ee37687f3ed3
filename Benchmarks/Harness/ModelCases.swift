import MobileKernels
import NetworkOracle
import ReferenceKernels

/// The models `benchmarks models` times end to end (batch 1).
public let benchmarkModels: [ModelKind] = [.mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small,
                                           .shuffleNetV1(groups: 3), .shuffleNetV1(groups: 8), .alexnet, .vgg16]

/// A whole model as a case: random weights (deterministic), an input of `resolution` x
/// `resolution`, batch 1; variants auto (every layer on its best kernel), avx2, scalar and blis
/// (1x1 convolutions and fully connected layers on BLIS, the rest on auto). The reference is the
/// naive Swift network (`referenceForward`).
public func modelCase(_ kind: ModelKind, resolution: Int) throws -> BenchmarkCase {
    let architecture = try Architecture.make(kind)
    let macs = try architecture.macs(height: resolution, width: resolution)
    let x = pseudoRandom(resolution * resolution * 3, seed: 21)
    let inputShape = try TensorShape(h: resolution, w: resolution, c: 3)
    return BenchmarkCase(
        family: .model, model: kind.specName, layer: "whole network", shape: "\(kind.specName) \(resolution)x\(resolution)",
        params: CaseParams(n: 1, h: resolution, w: resolution, cin: 3, cout: architecture.numClasses),
        flops: 2 * Double(macs), bytes: Double(4 * architecture.parameterCount), reduction: 100,
        variants: [.auto, .avx2, .scalar, .blis],
        makeRunner: { variant, pool, _ in
            let network = try Network(architecture: architecture, weights: .random(seed: 1), variant: variant)
            let plan = try network.plan(batch: 1, height: resolution, width: resolution)
            let input = try Tensor(shape: inputShape, nhwc: x)
            var output = try Tensor(shape: plan.outputShape)
            return Runner(run: { _ in try plan.predict(input, into: &output, threadPool: pool) },
                          output: { output.toArray() })
        },
        reference: {
            let parameters = (try? WeightSource.random(seed: 1).parameters(of: architecture)) ?? [:]
            return referenceForward(architecture, parameters: parameters,
                                    input: RefTensor(n: 1, h: resolution, w: resolution, c: 3, data: x)).data
        })
}

public func modelCases(quick: Bool) throws -> [BenchmarkCase] {
    try (quick ? [.mobileNetV2, .shuffleNetV1(groups: 3)] : benchmarkModels).map { try modelCase($0, resolution: quick ? 64 : 224) }
}
