internal import CKernels

/// A Linear layer of a `Network`: PyTorch's `[out, in]` weights held once, read in place (from
/// a mapped safetensors file, whose pages are then the only copy, or from the one array a copy
/// made), and its bias. A plan runs it transposed as a training step does (`LinearTraining`:
/// `y^T = W x^T` on our GEMM with the batch's inputs packed, then laid out as `[batch, out]`
/// with the bias and the activation): the weights are never repacked, and each output is the
/// same chain of multiply-adds whatever the batch size and thread count.
///
/// A flattened input is permuted to PyTorch's flatten order `(c, y, x)` by the plan (our memory
/// is `(y, x, c)`), a few thousand floats per image, instead of a permuted copy of the weights.
final class LinearWeights: @unchecked Sendable {
    let inFeatures: Int, outFeatures: Int
    let weights: HeldFloats
    let bias: [Float]?
    let activation: Activation
    let variant: Variant

    init(inFeatures: Int, outFeatures: Int, weights: HeldFloats, bias: [Float]?, activation: Activation, variant: Variant) {
        (self.inFeatures, self.outFeatures, self.weights, self.bias, self.activation, self.variant) =
            (inFeatures, outFeatures, weights, bias, activation, variant)
    }

    /// A plan's step for `batch` images from `input` (`[batch, 1, 1, in]`, or, with `flattened`,
    /// the `[batch, h, w, c]` feature map a flatten node aliases) into `output`: the runner and
    /// the permuted input's buffer are allocated here, once (`bytes` of them).
    func step(input: TensorView, flattened: TensorView?, output: TensorView) throws
        -> (run: (ThreadPool) throws -> Void, bytes: Int) {
        let batch = output.shape.n
        let runner = try LinearTraining(inFeatures: inFeatures, outFeatures: outFeatures, batch: batch,
                                        activation: activation, variant: variant)
        guard let map = flattened, map.shape.h * map.shape.w > 1 else {
            return ({ [self] pool in try run(runner, input, output, pool) }, runner.forwardBytes)
        }
        let shape = try TensorShape(n: batch, h: 1, w: 1, c: inFeatures)
        guard map.shape.n == batch, map.shape.h * map.shape.w * map.shape.c == inFeatures else {
            throw MobileKernelsError(.shapeMismatch, "Linear(\(inFeatures) -> \(outFeatures)): flattened input \(map), expected \(inFeatures) features per image")
        }
        let permuted = TensorView(storage: try TensorStorage(count: shape.count, shape: shape), shape: shape)
        let pixels = map.shape.h * map.shape.w, channels = map.shape.c
        return ({ [self] pool in
            for image in 0..<batch {
                // [pixels][channels] (our order) -> [channels][pixels] (PyTorch's).
                try check(mk_transpose_f32(pixels, channels, map.pointer + image * pixels * map.pixelStride, map.pixelStride,
                                           nil, Activation.none.cValue, permuted.pointer + image * inFeatures, pixels,
                                           pool.handle), "Linear(\(inFeatures) -> \(outFeatures)) flatten")
            }
            try run(runner, permuted, output, pool)
        }, runner.forwardBytes + shape.count * MemoryLayout<Float>.stride)
    }

    private func run(_ runner: LinearTraining, _ input: TensorView, _ output: TensorView, _ pool: ThreadPool) throws {
        try weights.withUnsafeBufferPointer { w in
            if let bias {
                try bias.withUnsafeBufferPointer { b in try runner.forward(input, weights: w, bias: b, into: output, threadPool: pool) }
            } else {
                try runner.forward(input, weights: w, bias: nil, into: output, threadPool: pool)
            }
        }
    }
}
