import Foundation
import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// max |a - b| / max |b|: the models' agreement measure.
private func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var diff: Float = 0, scale: Float = 0
    for i in 0..<a.count {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return scale > 0 ? diff / scale : diff
}

private func image(n: Int, h: Int, w: Int, seed: UInt64) throws -> Tensor {
    try Tensor(shape: TensorShape(n: n, h: h, w: w, c: 3), nhwc: pseudoRandom(n * h * w * 3, seed: seed))
}

@Suite("Whole networks against the naive reference network")
struct NetworkTests {
    /// Every model at a small input: our planned network (fused, BN folded) against ReferenceKernels
    /// run layer by layer as PyTorch does, with the same random weights.
    @Test("logits match the reference network", arguments: [
        (ModelKind.mobileNetV1, 32, Float(0.5)), (.mobileNetV2, 32, 1), (.mobileNetV3Large, 32, 1), (.mobileNetV3Small, 40, 1),
        (.shuffleNetV1(groups: 1), 32, 1), (.shuffleNetV1(groups: 2), 32, 1), (.shuffleNetV1(groups: 3), 48, 1),
        (.shuffleNetV1(groups: 4), 32, 1), (.shuffleNetV1(groups: 8), 32, 1), (.alexnet, 63, 1),
    ])
    func matchesReference(kind: ModelKind, size: Int, width: Float) throws {
        let architecture = try Architecture.make(kind, widthMultiplier: width, numClasses: 10)
        let weights = WeightSource.random(seed: 3)
        let network = try Network(architecture: architecture, weights: weights)
        let plan = try network.plan(batch: 2, height: size, width: size)
        let x = try image(n: 2, h: size, w: size, seed: 11)
        let got = try plan.predict(x, threadPool: ThreadPool(threads: 2))
        #expect(got.shape == (try TensorShape(n: 2, h: 1, w: 1, c: 10)))
        let want = referenceForward(architecture, parameters: try weights.parameters(of: architecture),
                                    input: RefTensor(n: 2, h: size, w: size, c: 3, data: x.toArray()))
        let error = relativeError(got.toArray(), want.data)
        #expect(error < 1e-4, "\(kind) at \(size)x\(size): relative error \(error)")
        #expect(plan.peakActivationBytes < plan.unplannedActivationBytes)
    }

    @Test("VGG16 at 32x32 (adaptive pool replicates 1x1 to 7x7) matches the reference network")
    func vgg16() throws {
        let architecture = try Architecture.make(.vgg16, numClasses: 10)
        let weights = WeightSource.random(seed: 5)
        let network = try Network(architecture: architecture, weights: weights)
        let x = try image(n: 1, h: 32, w: 32, seed: 2)
        let got = try network.plan(batch: 1, height: 32, width: 32).predict(x)
        let want = referenceForward(architecture, parameters: try weights.parameters(of: architecture),
                                    input: RefTensor(n: 1, h: 32, w: 32, c: 3, data: x.toArray()))
        #expect(relativeError(got.toArray(), want.data) < 1e-4)
    }

    @Test("two threads predict at once on one network, each with its own plan")
    func concurrentPlans() async throws {
        let network = try Network(.mobileNetV2, weights: .random(seed: 9), widthMultiplier: 0.5, numClasses: 10)
        let x = try image(n: 1, h: 32, w: 32, seed: 4)
        let expected = try network.plan(batch: 1, height: 32, width: 32).predict(x, threadPool: .serial).toArray()
        try await withThrowingTaskGroup(of: [Float].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let plan = try network.plan(batch: 1, height: 32, width: 32)
                    var last: [Float] = []
                    for _ in 0..<5 { last = try plan.predict(x, threadPool: .serial).toArray() }
                    return last
                }
            }
            for try await result in group { #expect(result == expected) }
        }
    }

    @Test("weights round-trip through a safetensors file; missing, extra and misshapen tensors are named")
    func weightsFromFile() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.5, numClasses: 10)
        let parameters = try WeightSource.random(seed: 8).parameters(of: architecture)
        let specs = architecture.parameters()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mk-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsFile.write(specs.map { ($0.name, $0.shape, parameters[$0.name]!) } + [("features.0.1.num_batches_tracked", [], [0])],
                                  to: path)
        let x = try image(n: 1, h: 32, w: 32, seed: 1)
        let fromFile = try Network(architecture: architecture, weights: .safetensors(path: path)).plan(batch: 1, height: 32, width: 32).predict(x)
        let fromRandom = try Network(architecture: architecture, weights: .random(seed: 8)).plan(batch: 1, height: 32, width: 32).predict(x)
        #expect(fromFile.toArray() == fromRandom.toArray())

        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, shape) in specs { tensors[name] = (shape, parameters[name]!) }
        func message(_ t: [String: (shape: [Int], values: [Float])]) -> String {
            do { _ = try Network(architecture: architecture, weights: .tensors(t)); return "" } catch { return "\(error)" }
        }
        var missing = tensors
        missing["features.0.0.weight"] = nil
        #expect(message(missing).contains("missing 1: features.0.0.weight"))
        var extra = tensors
        extra["features.99.weight"] = ([1], [0])
        #expect(message(extra).contains("unexpected 1: features.99.weight"))
        var misshapen = tensors
        misshapen["classifier.3.bias"] = ([11], [Float](repeating: 0, count: 11))
        #expect(message(misshapen).contains("classifier.3.bias has shape [11], expected [10]"))
    }

    @Test("plans reject wrong input and output shapes; softmax and top-k")
    func planErrorsAndHelpers() throws {
        let network = try Network(.shuffleNetV1(groups: 3), weights: .random(), numClasses: 10)
        let plan = try network.plan(batch: 1, height: 32, width: 32)
        #expect(throws: MobileKernelsError.self) { _ = try plan.predict(image(n: 1, h: 30, w: 32, seed: 1)) }
        var wrong = try Tensor(shape: TensorShape(h: 1, w: 1, c: 9))
        #expect(throws: MobileKernelsError.self) { try plan.predict(image(n: 1, h: 32, w: 32, seed: 1), into: &wrong) }
        #expect(throws: MobileKernelsError.self) { _ = try network.plan(batch: 0) }
        let logits = try Tensor(shape: TensorShape(n: 2, h: 1, w: 1, c: 3), nhwc: [1, 3, 2, 0, 0, -1])
        let p = softmax(logits)
        #expect(abs(p[0].reduce(0, +) - 1) < 1e-6 && p[0][1] > p[0][2] && p[0][2] > p[0][0])
        let top = topK(logits, k: 2)
        #expect(top[0].map(\.index) == [1, 2] && top[1].map(\.index) == [0, 1])
    }
}
