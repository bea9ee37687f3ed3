@testable import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// The plan's passes beyond the seven models' paths: buffer lifetimes and unfused concat inputs.
@Suite("Inference plans: lifetimes and concatenation copies")
struct PlanLayoutTests {
    @Test("a plan that keeps every activation gives the reusing plan's bits", arguments: [
        (ModelKind.mobileNetV2, 96), (.mobileNetV3Small, 64), (.shuffleNetV1(groups: 3), 48),
    ])
    func keepAllEqualsReuse(kind: ModelKind, size: Int) throws {
        let network = try Network(kind, weights: .random(seed: 6), numClasses: 10)
        let x = try Tensor(shape: TensorShape(n: 2, h: size, w: size, c: 3), nhwc: pseudoRandom(2 * size * size * 3, seed: 8))
        let reuse = try network.plan(batch: 2, height: size, width: size, bandedMinimumBytes: 0)
        let keepAll = try network.plan(batch: 2, height: size, width: size, lifetime: .keepAll)
        #expect(keepAll.lifetime == .keepAll && keepAll.bandedSteps == 0)
        // Every node's output on its own: exactly the unplanned size, no scratch.
        #expect(keepAll.peakActivationBytes == keepAll.unplannedActivationBytes)
        #expect(reuse.peakActivationBytes < keepAll.peakActivationBytes)
        let pool = try ThreadPool(threads: 2)
        let want = try reuse.predict(x, threadPool: pool).toArray().map(\.bitPattern)
        #expect(try keepAll.predict(x, threadPool: pool).toArray().map(\.bitPattern) == want)
        #expect(try keepAll.predict(x, threadPool: .serial).toArray().map(\.bitPattern) == want)
    }

    /// A concat none of whose inputs can write its slice: the network input (read by others too),
    /// a max pool, and a convolution with an activation of its own; each is copied into its slice
    /// with the concat's activation (BiasActivation without a bias).
    @Test("a concat copies unfused inputs into their slices with its activation")
    func unfusedConcatInputs() throws {
        let conv = ConvSpec(inChannels: 3, outChannels: 5, kernel: 3, weightKey: "conv.weight", biasKey: "conv.bias",
                            activation: .relu)
        let nodes = [
            Node(id: 0, name: "input", operation: .input(channels: 3), inputs: []),
            Node(id: 1, name: "conv", operation: .conv(conv), inputs: [0]),
            Node(id: 2, name: "pool", operation: .maxPool(kernel: 3, stride: 1, padding: 1), inputs: [0]),
            Node(id: 3, name: "cat", operation: .concat(activation: .clamp(min: -0.25, max: 0.5)), inputs: [0, 1, 2]),
            Node(id: 4, name: "mean", operation: .globalAveragePool, inputs: [3]),
            Node(id: 5, name: "fc", operation: .linear(LinearSpec(inFeatures: 11, outFeatures: 4, weightKey: "fc.weight",
                                                                  biasKey: "fc.bias")), inputs: [4]),
        ]
        let architecture = Architecture(kind: .mobileNetV1, widthMultiplier: 1, numClasses: 4, nodes: nodes)
        let weights = WeightSource.random(seed: 12)
        let network = try Network(architecture: architecture, weights: weights)
        #expect(network.fusion.fusedInto.allSatisfy { $0 == nil })
        let plan = try network.plan(batch: 2, height: 9, width: 7)
        let x = try Tensor(shape: plan.inputShape, nhwc: pseudoRandom(plan.inputShape.count, seed: 5).map { $0 * 2 })
        let got = try plan.predict(x, threadPool: ThreadPool(threads: 2)).toArray()
        let want = referenceForward(architecture, parameters: try weights.parameters(of: architecture),
                                    input: RefTensor(n: 2, h: 9, w: 7, c: 3, data: x.toArray())).data
        #expect(got.count == want.count)
        for (a, b) in zip(got, want) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b))) }
    }
}
