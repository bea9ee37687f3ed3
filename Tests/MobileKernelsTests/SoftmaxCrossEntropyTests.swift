import MobileKernels
import ReferenceKernels
import Testing

// The loss kernel (mk_softmax_cross_entropy_f32) against the float64 reference: large and
// negative logits (the log-sum-exp must not overflow), 1 and 1000 classes, in place; errors.
@Suite("Softmax cross-entropy")
struct SoftmaxCrossEntropyTests {
    @Test("loss and logits' gradient match the float64 reference", arguments: [(1, 1), (3, 10), (8, 1000), (5, 7)])
    func matchesReference(batch: Int, classes: Int) throws {
        var state: UInt64 = UInt64(batch * 31 + classes)
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40)) / Float(1 << 23) - 1
        }
        // Rows of very different scales: one past exp's float range without the max shift.
        let logits = (0..<(batch * classes)).map { i in next() * (i / classes == 1 ? 200 : 4) + (i / classes == 2 ? -90 : 0) }
        let labels = (0..<batch).map { ($0 * 7 + 3) % classes }
        let ref = RefTrain.softmaxCrossEntropy(RefTensorOf<Double>(n: batch, h: 1, w: 1, c: classes, data: logits.map(Double.init)),
                                               labels: labels)
        var gradient = [Float](repeating: .nan, count: logits.count)
        let loss = try logits.withUnsafeBufferPointer { z in
            try labels.withUnsafeBufferPointer { y in
                try gradient.withUnsafeMutableBufferPointer { try SoftmaxCrossEntropy.loss(logits: z, classes: classes, labels: y, gradient: $0) }
            }
        }
        #expect(abs(Double(loss) - ref.loss) <= 1e-6 * max(1, abs(ref.loss)), "loss \(loss) vs \(ref.loss)")
        let top = ref.dLogits.data.map(abs).max()!
        let worst = zip(gradient, ref.dLogits.data).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= 1e-6 * top, "gradient off by \(worst / top) of its largest")
        // In place: the same bits.
        var inPlace = logits
        let again = try labels.withUnsafeBufferPointer { y in
            try inPlace.withUnsafeMutableBufferPointer { try SoftmaxCrossEntropy.loss(logits: UnsafeBufferPointer($0), classes: classes, labels: y, gradient: $0) }
        }
        #expect(again == loss && inPlace == gradient)
    }

    @Test("bad input gives a clear error; a NaN logit makes its row NaN")
    func badInput() throws {
        let logits: [Float] = [1, 2, 3, 4, 5, 6]
        var gradient = [Float](repeating: 0, count: 6)
        func run(_ labels: [Int], classes: Int = 3, _ z: [Float] = logits) throws -> Float {
            var g = [Float](repeating: 0, count: z.count)
            defer { gradient = g }
            return try z.withUnsafeBufferPointer { z in
                try labels.withUnsafeBufferPointer { y in
                    try g.withUnsafeMutableBufferPointer { try SoftmaxCrossEntropy.loss(logits: z, classes: classes, labels: y, gradient: $0) }
                }
            }
        }
        #expect(throws: MobileKernelsError.self) { try run([0, 3]) }       // label past the classes
        #expect(throws: MobileKernelsError.self) { try run([-1, 0]) }
        #expect(throws: MobileKernelsError.self) { try run([0, 1, 2]) }    // 9 logits needed
        #expect(throws: MobileKernelsError.self) { try run([0, 1], classes: 0) }
        let loss = try run([0, 2], [1, .nan, 3, 4, 5, 6])
        #expect(loss.isNaN)
        #expect(gradient[0].isNaN && !gradient[3].isNaN)
    }
}
