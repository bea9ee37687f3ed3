import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// Dropout (`mk_dropout_f32`): the mask's rate, values and independence of the thread count,
/// in-place use, errors; and a training step with dropout on against the oracle given the same
/// mask.
@Suite("Dropout")
struct DropoutTests {
    static func tensor(_ count: Int, seed: UInt64) throws -> Tensor {
        try Tensor(shape: TensorShape(n: 1, h: 1, w: 1, c: count), nhwc: pseudoRandom(count, seed: seed))
    }

    @Test("keeps 1 - p of the elements, scales them by 1 / (1 - p), the same for 1 and 2 threads", arguments: [Float(0.5), 0.2, 0.1, 0.9])
    func maskAndValues(p: Float) throws {
        let count = 200_003
        let dropout = try Dropout(probability: p)
        let x = try Self.tensor(count, seed: 3)
        var one = try Tensor(shape: x.shape), two = try Tensor(shape: x.shape)
        try one.withMutableView { try dropout.apply(try x.view(), into: $0, seed: 42, threadPool: .serial) }
        try two.withMutableView { try dropout.apply(try x.view(), into: $0, seed: 42, threadPool: try ThreadPool(threads: 2)) }
        #expect(one.withUnsafeBufferPointer(Array.init) == two.withUnsafeBufferPointer(Array.init))
        let want = RefTrain.dropout(RefTensorOf(n: 1, h: 1, w: 1, c: count, data: x.withUnsafeBufferPointer(Array.init)), p: Double(p)) {
            dropout.keeps($0, seed: 42)
        }
        #expect(one.withUnsafeBufferPointer(Array.init) == want.data, "values are not x / (1 - p) or 0 where keeps says")
        let kept = (0..<count).filter { dropout.keeps($0, seed: 42) }.count
        // Binomial(n, 1 - p): 6 standard deviations.
        let sd = (Double(count) * Double(p) * Double(1 - p)).squareRoot()
        #expect(abs(Double(kept) - Double(count) * Double(1 - p)) < 6 * sd, "kept \(kept) of \(count) at p = \(p)")
        // Another seed, another mask; in place, the same values.
        let other = (0..<1000).filter { dropout.keeps($0, seed: 42) != dropout.keeps($0, seed: 43) }.count
        #expect(other > 50)
        var inPlace = x
        try inPlace.withMutableView { try dropout.apply($0, into: $0, seed: 42) }
        #expect(inPlace.withUnsafeBufferPointer(Array.init) == want.data)
    }

    @Test("p = 0 copies, p = 1 zeros; bad input throws")
    func edgesAndErrors() throws {
        let x = try Self.tensor(1001, seed: 5)
        var y = try Tensor(shape: x.shape)
        try y.withMutableView { try Dropout(probability: 0).apply(try x.view(), into: $0, seed: 1) }
        #expect(y.withUnsafeBufferPointer(Array.init) == x.withUnsafeBufferPointer(Array.init))
        try y.withMutableView { try Dropout(probability: 1).apply(try x.view(), into: $0, seed: 1) }
        #expect(y.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } })
        for p in [Float(-0.1), 1.5, .nan] {
            #expect(throws: MobileKernelsError.self) { _ = try Dropout(probability: p) }
        }
        var small = try Tensor(shape: TensorShape(n: 1, h: 1, w: 1, c: 1000))
        #expect(throws: MobileKernelsError.self) {
            try small.withMutableView { try Dropout(probability: 0.5).apply(try x.view(), into: $0, seed: 1) }
        }
        var wide = try Tensor(shape: TensorShape(n: 1, h: 1, w: 7, c: 6))
        let slice = try wide.view(channels: 0..<3)
        var dense = try Tensor(shape: slice.shape)
        #expect(throws: MobileKernelsError.self) {
            try dense.withMutableView { try Dropout(probability: 0.5).apply(slice, into: $0, seed: 1) }
        }
        _ = wide.withUnsafeMutableBufferPointer { $0.count }
    }

    /// MobileNetV3-Small (Dropout 0.2 before classifier.3) and AlexNet's classifier shape
    /// (two Dropouts, 0.5): the step with a dropout seed against the oracle given the same mask;
    /// the mask changes the gradients; 1 and 2 threads agree bit for bit.
    @Test("a training step with dropout matches the oracle on the same mask", arguments: [ModelKind.mobileNetV3Small, .mobileNetV2])
    func trainingStep(kind: ModelKind) throws {
        let architecture = try Architecture.make(kind, widthMultiplier: 0.35, numClasses: 6)
        var parameters = try WeightSource.random(seed: 4).parameters(of: architecture)
        if case let .linear(classifier) = architecture.nodes.last!.operation {
            parameters[classifier.weightKey] = parameters[classifier.weightKey]!.map { $0 * 1e-3 }
        }
        let source = WeightSource.tensors(Dictionary(uniqueKeysWithValues: architecture.parameters().map {
            ($0.name, (shape: $0.shape, values: parameters[$0.name]!))
        }))
        let (n, size, seed) = (4, 48, UInt64(99))
        let images = pseudoRandom(n * size * size * 3, seed: 8)
        let labels = [1, 5, 2, 0]
        let probabilities = Dictionary(uniqueKeysWithValues: architecture.nodes.compactMap { node -> (Int, Float)? in
            if case let .linear(l) = node.operation, l.dropout > 0 { return (node.id, l.dropout) }
            return nil
        })
        #expect(!probabilities.isEmpty)
        let want = referenceTrainingStep(architecture, parameters: try source.parameters(of: architecture),
                                         input: RefTensorOf(n: n, h: size, w: size, c: 3, data: images), labels: labels) { node, index in
            (try? Dropout(probability: probabilities[node]!))!.keeps(index, seed: TrainingPlan.siteSeed(seed, node))
        }
        let plan = try TrainingPlan(architecture, weights: source, batch: n, height: size, width: size)
        let input = try Tensor(shape: TensorShape(n: n, h: size, w: size, c: 3), nhwc: images)
        let one = try plan.step(images: input, labels: labels, dropoutSeed: seed, threadPool: .serial)
        let two = try plan.step(images: input, labels: labels, dropoutSeed: seed, threadPool: try ThreadPool(threads: 2))
        let off = try plan.step(images: input, labels: labels, threadPool: .serial)
        #expect(one.gradients == two.gradients && one.loss == two.loss)
        #expect(one.loss != off.loss, "dropout changed nothing")
        #expect(abs(one.loss - want.loss) <= 1e-5 * abs(want.loss), "loss \(one.loss) vs \(want.loss)")
        var worst = (name: "", error: Float(0))
        for (name, ref) in want.gradients {
            let got = try #require(one.gradients[name])
            let scale = ref.map(abs).max() ?? 0
            let diff = zip(got, ref).map { abs($0 - $1) }.max() ?? 0
            let error = scale > 1e-6 ? diff / scale : diff
            if error > worst.error { worst = (name, error) }
        }
        #expect(worst.error <= 1e-3, "\(kind): \(worst.name) differs by \(worst.error)")
    }
}
