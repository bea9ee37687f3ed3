import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// The training oracle as a whole network: in Double, the derivative of the loss along a random
/// direction in parameter space (central difference of two forward passes) equals the sum over
/// every parameter gradient times that direction, which checks every gradient of the network at
/// once; the float32 logits equal the inference oracle's where BatchNorm's batch statistics are
/// its running statistics.
@Suite("Whole networks: the training oracle's gradients")
struct TrainingReferenceTests {
    /// 48x48: the networks end at 2x2 pixels. From 32x32 they end at 1x1, where each final
    /// BatchNorm normalizes one value per image and the loss becomes too curved for a difference
    /// quotient.
    @Test("directional derivative of the loss equals the gradients' dot product", arguments: [
        (ModelKind.mobileNetV1, 48, Float(0.25)), (.mobileNetV2, 48, 0.35), (.mobileNetV3Large, 48, 0.35),
        (.mobileNetV3Small, 48, 0.5), (.shuffleNetV1(groups: 3), 48, 1),
    ])
    func directionalDerivative(kind: ModelKind, size: Int, width: Float) throws {
        let architecture = try Architecture.make(kind, widthMultiplier: width, numClasses: 7)
        var parameters = try WeightSource.random(seed: 4).parameters(of: architecture).mapValues { $0.map(Double.init) }
        // Random weights give logits in the hundreds, where the softmax is a hard maximum whose
        // switches make the loss too curved for a difference quotient: scale the classifier so
        // the logits are of order 1.
        if case let .linear(classifier) = architecture.nodes.last!.operation {
            parameters[classifier.weightKey] = parameters[classifier.weightKey]!.map { $0 * 1e-3 }
        }
        let n = 2
        let input = RefTensorOf<Double>(n: n, h: size, w: size, c: 3, data: pseudoRandom(n * size * size * 3, seed: 8).map(Double.init))
        let labels = [1, 6]
        let step = referenceTrainingStep(architecture, parameters: parameters, input: input, labels: labels)

        // Every learnable parameter has a gradient of its size, and nothing else has one.
        let learnable = architecture.parameters().filter { !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
        #expect(Set(step.gradients.keys) == Set(learnable.map(\.name)))
        for (name, shape) in learnable { #expect(step.gradients[name]?.count == shape.reduce(1, *), "\(name)") }

        var direction: [String: [Double]] = [:]
        for (i, name) in step.gradients.keys.sorted().enumerated() {
            direction[name] = pseudoRandom(step.gradients[name]!.count, seed: 100 + UInt64(i)).map(Double.init)
        }
        let analytic = step.gradients.reduce(0.0) { sum, entry in
            sum + zip(entry.value, direction[entry.key]!).reduce(0.0) { $0 + $1.0 * $1.1 }
        }
        func loss(_ sign: Double, _ h: Double) -> Double {
            var moved = parameters
            for (name, d) in direction { moved[name] = zip(parameters[name]!, d).map { $0 + sign * h * $1 } }
            return referenceTrainingStep(architecture, parameters: moved, input: input, labels: labels).loss
        }
        // h = 1e-8: small enough that no ReLU kink lies within the step, large enough that the
        // loss's rounding (1e-16) stays below the tolerance.
        let h = 1e-8
        let numeric = (loss(1, h) - loss(-1, h)) / (2 * h)
        #expect(abs(numeric - analytic) <= 1e-5 * max(1, abs(analytic)), "\(kind): numeric \(numeric), analytic \(analytic)")
        #expect(step.loss > 0 && step.loss.isFinite)
    }
}

@Suite("The gradient command's checked entry point")
struct ReferenceGradientRunTests {
    private let architecture = try! Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 5)

    private func run(n: Int = 2, size: Int = 32, labels: [Int] = [0, 4], values: Int? = nil,
                     weights: WeightSource = .random(seed: 2)) throws -> ReferenceTrainingStep<Float> {
        try ReferenceTrainingStep.run(architecture, weights: weights, imagesNCHW: pseudoRandom(values ?? n * 3 * size * size, seed: 1),
                                      n: n, h: size, w: size, labels: labels)
    }

    @Test func writesTheLossThenEveryGradientInStateDictOrder() throws {
        let step = try run()
        let tensors = step.tensors(architecture)
        #expect(tensors[0].name == "loss" && tensors[0].shape == [1] && tensors[0].values == [step.loss])
        let expected = architecture.parameters().filter { !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
        #expect(tensors.dropFirst().map(\.name) == expected.map(\.name))
        #expect(tensors.dropFirst().map(\.shape) == expected.map(\.shape))
        for t in tensors { #expect(t.values.count == t.shape.reduce(1, *) && t.values.allSatisfy(\.isFinite), "\(t.name)") }
    }

    @Test func badInputsGiveClearErrors() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        #expect(message { _ = try run(labels: [0]) }.contains("1 for 2 images"))
        #expect(message { _ = try run(labels: [0, 5]) }.contains("label 5 of image 1 is not a class of 0..<5"))
        #expect(message { _ = try run(labels: [-1, 0]) }.contains("label -1 of image 0"))
        #expect(message { _ = try run(values: 7) }.contains("7 values for [2, 3, 32, 32]"))
        #expect(message { _ = try run(n: 1, labels: [0]) }.contains("one value per channel"))
        #expect(message { _ = try run(size: 0) }.contains("0 values for [2, 3, 0, 0]"))
        let wrong = WeightSource.tensors(["features.0.0.weight": ([1], [0])])
        #expect(message { _ = try run(weights: wrong) } != "no error")
    }
}
