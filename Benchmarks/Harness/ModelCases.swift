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
    let floats = try (quick ? [.mobileNetV2, .shuffleNetV1(groups: 3)] : benchmarkModels).map { try modelCase($0, resolution: quick ? 64 : 224) }
    let int8 = try (quick ? [.mobileNetV2, .shuffleNetV1(groups: 3)] : qs8Models).map { try qs8ModelCase($0, resolution: quick ? 64 : 224) }
    return floats + int8
}

extension BenchmarkCase {
    /// Whole networks, float32 or int8.
    var isModel: Bool { family == .model || family == .qs8Model }
}

/// A whole model in int8 (`QuantizedNetwork`) as a case: the float case's random weights,
/// calibrated on two random images (made once, for all variants), the same input; variants the
/// int8 GEMM's. Ops: 2 per multiply-accumulate, held against the int8 peak. The reference is the
/// float32 naive network, which the int8 logits must approximate (`int8LogitsAgree`).
public func qs8ModelCase(_ kind: ModelKind, resolution: Int) throws -> BenchmarkCase {
    let float = try modelCase(kind, resolution: resolution)
    let architecture = try Architecture.make(kind)
    let x = pseudoRandom(resolution * resolution * 3, seed: 21)
    let inputShape = try TensorShape(h: resolution, w: resolution, c: 3)
    let calibration = try Tensor(shape: TensorShape(n: 2, h: resolution, w: resolution, c: 3),
                                 nhwc: x + pseudoRandom(resolution * resolution * 3, seed: 22))
    nonisolated(unsafe) var model: QuantizedModel? = nil
    return BenchmarkCase(
        family: .qs8Model, model: kind.specName, layer: "whole network", shape: "qs8 \(kind.specName) \(resolution)x\(resolution)",
        params: float.params, flops: float.flops, bytes: float.bytes / 4, reduction: 100,
        variants: Catalogue.variants(of: .qs8Gemm),
        makeRunner: { variant, pool, _ in
            if model == nil {
                model = try QuantizedModel.calibrate(architecture: architecture, weights: .random(seed: 1), images: calibration)
            }
            let plan = try QuantizedNetwork(model!, variant: variant).plan(batch: 1, height: resolution, width: resolution)
            let input = try Tensor(shape: inputShape, nhwc: x)
            var output = try Tensor(shape: plan.outputShape)
            return Runner(run: { _ in try plan.predict(input, into: &output, threadPool: pool) },
                          output: { output.toArray() })
        },
        reference: float.reference)
}
