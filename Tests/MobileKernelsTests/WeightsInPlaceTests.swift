import Foundation
import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// A network holds its weights once: Linear layers read PyTorch's `[out, in]` weights in place
/// (from a mapped file when it can) and the plan permutes a flattened input to PyTorch's order.
@Suite("Weights held once: Linear layers in place, a flattened input permuted")
struct WeightsInPlaceTests {
    private func image(n: Int, size: Int, seed: UInt64) throws -> Tensor {
        try Tensor(shape: TensorShape(n: n, h: size, w: size, c: 3), nhwc: pseudoRandom(n * size * size * 3, seed: seed))
    }

    /// At 127x127 AlexNet's last feature map is 3x3 (the adaptive pool makes 6x6 of it): the
    /// classifier's first layer sees every channel at 9 different values, and reading the
    /// flattened input in any order but PyTorch's (c, y, x) changes the logits (without the
    /// plan's permutation the relative error is 0.96).
    @Test("a Linear after a flatten of a 3x3 map reads PyTorch's order (AlexNet at 127 against the reference)")
    func flattenOrder() throws {
        let architecture = try Architecture.make(.alexnet, numClasses: 10)
        let weights = WeightSource.random(seed: 12)
        let x = try image(n: 2, size: 127, seed: 5)
        let want = referenceForward(architecture, parameters: try weights.parameters(of: architecture),
                                    input: RefTensor(n: 2, h: 127, w: 127, c: 3, data: x.toArray()))
        for threads in [1, 2] {
            let got = try Network(architecture: architecture, weights: weights).plan(batch: 2, height: 127, width: 127)
                .predict(x, threadPool: ThreadPool(threads: threads)).toArray()
            var diff: Float = 0, scale: Float = 0
            for (a, b) in zip(got, want.data) { diff = max(diff, abs(a - b)); scale = max(scale, abs(b)) }
            #expect(diff / scale < 1e-4, "\(threads) thread(s): relative error \(diff / scale)")
        }
    }

    /// The F32 tensors of a mapped safetensors file: the convolutions without a BatchNorm pack
    /// straight from the mapping and the Linear layers read it in place; the logits are those
    /// of the same tensors given as arrays, bit for bit, for one image and a batch (the same
    /// chains whatever the batch), on 1 and 2 threads, and for a plan made after the first.
    @Test("AlexNet from a mapped file gives the logits of the same tensors in memory, bit for bit, for any batch")
    func mappedFileMatchesArrays() throws {
        let architecture = try Architecture.make(.alexnet, numClasses: 10)
        let parameters = try WeightSource.random(seed: 4).parameters(of: architecture)
        let specs = architecture.parameters()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mk-inplace-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsFile.write(specs.map { ($0.name, $0.shape, parameters[$0.name]!) }, to: path)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, shape) in specs { tensors[name] = (shape, parameters[name]!) }

        let fromFile = try Network(architecture: architecture, weights: .safetensors(path: path))
        let fromArrays = try Network(architecture: architecture, weights: .tensors(tensors))
        let copied = try Network(architecture: architecture, weights: .safetensors(path: path, readInPlace: false))
        // The classifier's weights are read in place from the mapping, or held once as arrays.
        let linear = 4 * (9216 * 4096 + 4096 * 4096 + 4096 * 10)
        #expect(fromFile.mappedWeightBytes == linear)
        #expect(fromArrays.mappedWeightBytes == 0 && copied.mappedWeightBytes == 0)
        #expect(fromArrays.weightBytes == fromFile.weightBytes + linear && copied.weightBytes == fromArrays.weightBytes)
        let batch = try image(n: 3, size: 95, seed: 9)
        let single = try Tensor(shape: TensorShape(n: 1, h: 95, w: 95, c: 3), nhwc: Array(batch.toArray()[0..<(95 * 95 * 3)]))
        let want = try fromArrays.plan(batch: 3, height: 95, width: 95).predict(batch, threadPool: .serial).toArray()
        for threads in [1, 2] {
            let pool = try ThreadPool(threads: threads)
            #expect(try fromFile.plan(batch: 3, height: 95, width: 95).predict(batch, threadPool: pool).toArray() == want)
            #expect(try copied.plan(batch: 3, height: 95, width: 95).predict(batch, threadPool: pool).toArray() == want)
            #expect(try fromFile.plan(batch: 1, height: 95, width: 95).predict(single, threadPool: pool).toArray()
                    == Array(want[0..<10]))
        }
    }

    /// Only a mapped file lends its pages: a file held in memory (`SafeTensorsFile(data:)`) would
    /// stay alive whole with the network, so its Linear weights are copied like any array.
    @Test("a safetensors file in memory is not read in place; a mapped one is")
    func inMemoryFileIsCopied() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.5, numClasses: 10)
        let parameters = try WeightSource.random(seed: 2).parameters(of: architecture)
        let tensors = architecture.parameters().map { ($0.name, $0.shape, parameters[$0.name]!) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mk-inplace-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsFile.write(tensors, to: path)
        let mapped = try Network(architecture: architecture, weights: .safetensors(path: path))
        let inMemory = try Network(architecture: architecture,
                                   weights: .safetensors(try SafeTensorsFile(data: try SafeTensorsFile.encode(tensors))))
        #expect(mapped.mappedWeightBytes == 4 * architecture.parameters().filter { $0.name.hasPrefix("classifier") && $0.shape.count == 2 }
            .reduce(0) { $0 + $1.shape.reduce(1, *) })
        #expect(inMemory.mappedWeightBytes == 0 && inMemory.weightBytes == mapped.weightBytes + mapped.mappedWeightBytes)
        let x = try Tensor(shape: TensorShape(n: 1, h: 32, w: 32, c: 3), nhwc: pseudoRandom(32 * 32 * 3, seed: 3))
        #expect(try mapped.plan(batch: 1, height: 32, width: 32).predict(x).toArray()
                == inMemory.plan(batch: 1, height: 32, width: 32).predict(x).toArray())
    }
}
