import Foundation
@testable import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// A network holds its weights once: packed straight from a mapped file (a large Linear layer
/// slice by slice), keeping nothing of the file; Linear layers take PyTorch's input order and
/// the plan permutes a flattened input to it.
@Suite("Weights held once: packed from the mapping in slices, a flattened input permuted")
struct WeightsOnceTests {
    private func image(n: Int, size: Int, seed: UInt64) throws -> Tensor {
        try Tensor(shape: TensorShape(n: n, h: size, w: size, c: 3), nhwc: pseudoRandom(n * size * size * 3, seed: seed))
    }

    /// At 95x95 AlexNet's last feature map is 2x2 (the adaptive pool makes 6x6 of it): the
    /// classifier's first layer sees every channel at 4 different values, and reading the
    /// flattened input in any order but PyTorch's (c, y, x) changes the logits (without the
    /// plan's permutation the relative error was 0.96 at 127x127).
    @Test("a Linear after a flatten of a 2x2 map reads PyTorch's order (AlexNet at 95 against the reference)")
    func flattenOrder() throws {
        let architecture = try Architecture.make(.alexnet, numClasses: 10)
        let weights = WeightSource.random(seed: 12)
        let x = try image(n: 2, size: 95, seed: 5)
        let want = referenceForward(architecture, parameters: try weights.parameters(of: architecture),
                                    input: RefTensor(n: 2, h: 95, w: 95, c: 3, data: x.toArray()))
        for threads in [1, 2] {
            let got = try Network(architecture: architecture, weights: weights).plan(batch: 2, height: 95, width: 95)
                .predict(x, threadPool: ThreadPool(threads: threads)).toArray()
            var diff: Float = 0, scale: Float = 0
            for (a, b) in zip(got, want.data) { diff = max(diff, abs(a - b)); scale = max(scale, abs(b)) }
            #expect(diff / scale < 1e-4, "\(threads) thread(s): relative error \(diff / scale)")
        }
    }

    private func alexnetFile(seed: UInt64) throws -> (Architecture, [String: (shape: [Int], values: [Float])], String) {
        let architecture = try Architecture.make(.alexnet, numClasses: 10)
        let parameters = try WeightSource.random(seed: seed).parameters(of: architecture)
        let specs = architecture.parameters()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mk-once-\(UUID().uuidString).safetensors").path
        try SafeTensorsFile.write(specs.map { ($0.name, $0.shape, parameters[$0.name]!) }, to: path)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, shape) in specs { tensors[name] = (shape, parameters[name]!) }
        return (architecture, tensors, path)
    }

    /// The F32 tensors of a mapped file (packed straight from the mapping, the classifier in
    /// slices: 13.5 MiB ones here) give the logits of the same
    /// tensors given as arrays, bit for bit, for a batch and one image, on 1 and 2 threads.
    @Test("AlexNet from a mapped file, its classifier in slices, gives the logits of the same tensors in memory, bit for bit")
    func mappedFileInSlicesMatchesArrays() throws {
        let (architecture, tensors, path) = try alexnetFile(seed: 4)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Unsliced (classifier.1 is 151 MB, more than the default slice).
        let fromArrays = try Network(architecture: architecture, weights: .tensors(tensors), variant: .auto,
                                     convAlgorithm: .auto, linearSliceBytes: .max)
        let fromFile = try Network(architecture: architecture, weights: .safetensors(path: path))
        // 13.5 MiB slices: 384 rows of the 9216-input layer, 768 of the 4096-input one; each
        // layer's last slice is shorter (256 rows).
        let sliced = try Network(architecture: architecture, weights: .safetensors(path: path), variant: .auto,
                                 convAlgorithm: .auto, linearSliceBytes: 384 * 9216 * 4)
        // Each slice has its own padded bias and zero row: within 1% more.
        for network in [fromFile, sliced] {
            #expect(network.weightBytes > fromArrays.weightBytes && network.weightBytes < fromArrays.weightBytes / 100 * 101)
        }
        let batch = try image(n: 3, size: 95, seed: 9)
        let single = try Tensor(shape: TensorShape(n: 1, h: 95, w: 95, c: 3), nhwc: Array(batch.toArray()[0..<(95 * 95 * 3)]))
        let want = try fromArrays.plan(batch: 3, height: 95, width: 95).predict(batch, threadPool: .serial).toArray()
        for threads in [1, 2] {
            let pool = try ThreadPool(threads: threads)
            for network in [fromFile, sliced] {
                #expect(try network.plan(batch: 3, height: 95, width: 95).predict(batch, threadPool: pool).toArray() == want)
                #expect(try network.plan(batch: 1, height: 95, width: 95).predict(single, threadPool: pool).toArray()
                        == Array(want[0..<10]))
            }
        }
    }

    /// Nothing of the file stays with the network: emptied (as `safetensors.torch.save_file`
    /// does first when it rewrites a file) while still mapped, the network gives the same
    /// logits. A network that read the mapping after loading would fault (SIGBUS) here.
    @Test("a network keeps nothing of its weights file: the file emptied, it predicts the same")
    func fileEmptiedAfterLoading() throws {
        let (architecture, _, path) = try alexnetFile(seed: 6)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        defer { withExtendedLifetime(file) {} }
        let network = try Network(architecture: architecture, weights: .safetensors(file))
        let x = try image(n: 1, size: 63, seed: 2)
        let before = try network.plan(batch: 1, height: 63, width: 63).predict(x).toArray()
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        #expect(try network.plan(batch: 1, height: 63, width: 63).predict(x).toArray() == before)
    }

    /// A file held in memory (`SafeTensorsFile(data:)`) gives the same network as the mapped one.
    @Test("a safetensors file in memory gives the network of the mapped file")
    func inMemoryFile() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.5, numClasses: 10)
        let parameters = try WeightSource.random(seed: 2).parameters(of: architecture)
        let tensors = architecture.parameters().map { ($0.name, $0.shape, parameters[$0.name]!) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mk-once-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsFile.write(tensors, to: path)
        let mapped = try Network(architecture: architecture, weights: .safetensors(path: path))
        let inMemory = try Network(architecture: architecture,
                                   weights: .safetensors(try SafeTensorsFile(data: try SafeTensorsFile.encode(tensors))))
        #expect(inMemory.weightBytes == mapped.weightBytes)
        let x = try Tensor(shape: TensorShape(n: 1, h: 32, w: 32, c: 3), nhwc: pseudoRandom(32 * 32 * 3, seed: 3))
        #expect(try mapped.plan(batch: 1, height: 32, width: 32).predict(x).toArray()
                == inMemory.plan(batch: 1, height: 32, width: 32).predict(x).toArray())
    }
}
