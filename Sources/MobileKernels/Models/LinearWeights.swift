internal import CKernels

/// A Linear layer of a `Network`: PyTorch's `[out, in]` weights packed for our GEMM (a 1x1
/// `Conv2D` on `[n, 1, 1, in]`: one-row microkernels at batch 1, streaming the packed panels),
/// in slices of output rows of about `sliceBytes` each (at least 256 rows). A large layer is packed slice by slice
/// straight from a mapped file, whose pages each slice gives back before the next is read, so
/// the weights are never resident twice (VGG16's first classifier layer is 411 MB). Each slice
/// writes its outputs' channels of the layer's output; an output's sum is the same chain as in
/// one unsliced layer, so slicing changes no bit.
///
/// The weights are in PyTorch's input order: a plan permutes a flattened input to PyTorch's
/// flatten order `(c, y, x)` (our memory is `(y, x, c)`), a few thousand floats per image,
/// instead of permuting a copy of the weights.
final class LinearWeights: @unchecked Sendable {
    let inFeatures: Int, outFeatures: Int
    /// The slices: each a layer of `rows.count` outputs.
    let slices: [(rows: Range<Int>, conv: Conv2D)]

    /// Slices of about this many bytes of weights: what a layer's file pages add to the peak
    /// while it is packed. A slice's rows are a multiple of 128 and at least 256 (8 column tiles
    /// of 32: two threads take 4 each, the one-row kernels' widest panel group), so VGG16's
    /// 25,088-input layer goes in 256-row slices of 25.7 MB, AlexNet's 9,216-input one in 384.
    static let sliceBytes = 16 << 20

    /// - Parameters:
    ///   - weights: `[out, in]` values, where they are (a mapped file or an array).
    ///   - done: called with each slice's rows once they are packed (a mapped file gives back
    ///     their pages).
    init(inFeatures: Int, outFeatures: Int, weights: UnsafeBufferPointer<Float>, bias: [Float]?, activation: Activation,
         variant: Variant, sliceBytes: Int = LinearWeights.sliceBytes, done: (Range<Int>) -> Void = { _ in }) throws {
        (self.inFeatures, self.outFeatures) = (inFeatures, outFeatures)
        guard inFeatures >= 1, outFeatures >= 1, weights.count == inFeatures * outFeatures, let base = weights.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "Linear(\(inFeatures) -> \(outFeatures)): \(weights.count) weights, expected \(inFeatures) x \(outFeatures)")
        }
        let rowBytes = inFeatures * MemoryLayout<Float>.stride
        // Whole groups of four 32-wide column tiles (the widest tile of any variant), at least two.
        let rowsPerSlice = max(256, sliceBytes / rowBytes / 128 * 128)
        var slices: [(rows: Range<Int>, conv: Conv2D)] = []
        var start = 0
        while start < outFeatures {
            let rows = start..<min(outFeatures, start + rowsPerSlice)
            let conv = try Conv2D(inChannels: inFeatures, outChannels: rows.count, kernelH: 1, kernelW: 1,
                                  weights: UnsafeBufferPointer(start: base + rows.lowerBound * inFeatures,
                                                               count: rows.count * inFeatures),
                                  bias: bias.map { Array($0[rows]) } ?? [Float](repeating: 0, count: rows.count),
                                  activation: activation, variant: variant)
            slices.append((rows, conv))
            done(rows)
            start = rows.upperBound
        }
        self.slices = slices
    }

    /// The bytes of the packed weights and biases.
    var weightBytes: Int { slices.reduce(0) { $0 + $1.conv.weightBytes } }

    /// A plan's step for `batch` images from `input` (`[batch, 1, 1, in]`, or, with `flattened`,
    /// the `[batch, h, w, c]` feature map a flatten node aliases) into `output`: each slice
    /// planned once on its channels of the output; the permuted input's buffer (`bytes`) is
    /// allocated here.
    func step(input: TensorView, flattened: TensorView?, output: TensorView, workspace: Conv2D.Workspace) throws
        -> (run: (ThreadPool) throws -> Void, bytes: Int) {
        let batch = output.shape.n
        let name = "Linear(\(inFeatures) -> \(outFeatures))"
        var source = input
        var permute: ((ThreadPool) throws -> Void)? = nil
        var bytes = 0
        if let map = flattened, map.shape.h * map.shape.w > 1 {
            let shape = try TensorShape(n: batch, h: 1, w: 1, c: inFeatures)
            guard map.shape.n == batch, map.shape.h * map.shape.w * map.shape.c == inFeatures else {
                throw MobileKernelsError(.shapeMismatch, "\(name): flattened input \(map), expected \(inFeatures) features per image")
            }
            let permuted = TensorView(storage: try TensorStorage(count: shape.count, shape: shape), shape: shape)
            let pixels = map.shape.h * map.shape.w, channels = map.shape.c, features = inFeatures
            permute = { pool in
                for image in 0..<batch {
                    // [pixels][channels] (our order) -> [channels][pixels] (PyTorch's).
                    try check(mk_transpose_f32(pixels, channels, map.pointer + image * pixels * map.pixelStride, map.pixelStride,
                                               nil, Activation.none.cValue, permuted.pointer + image * features,
                                               pixels, pool.handle), "\(name) flatten")
                }
            }
            source = permuted
            bytes = shape.count * MemoryLayout<Float>.stride
        }
        let outputs = try slices.map { slice in
            TensorView(storage: output.storage, shape: try TensorShape(n: batch, h: 1, w: 1, c: slice.rows.count),
                       channelOffset: output.channelOffset + slice.rows.lowerBound, pixelStride: output.pixelStride)
        }
        let steps = try zip(slices, outputs).map {
            try Conv2D.Step($0.conv, input: source, residual: nil, output: $1, workspace: workspace)
        }
        return ({ pool in
            try permute?(pool)
            for step in steps { try step.run(pool) }
        }, bytes)
    }
}
