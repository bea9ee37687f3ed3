internal import CKernels

/// Dropout in training mode (`mk_dropout_f32`): each element is kept with probability
/// `1 - probability` and scaled by `1 / (1 - probability)`, or zeroed. The mask is a pure
/// function of a seed and the element's index, so the backward recomputes it (nothing is stored
/// between the passes) and every thread count gives the same bits. PyTorch's random stream is
/// another: the same seed does not give PyTorch's mask.
public struct Dropout: Sendable {
    public let probability: Float

    /// - Throws: `.invalidArgument` for a probability outside [0, 1].
    public init(probability: Float) throws {
        guard probability >= 0, probability <= 1 else {
            throw MobileKernelsError(.invalidArgument, "Dropout: probability \(probability) is not in [0, 1]")
        }
        self.probability = probability
    }

    /// `y = dropout(x)` with the mask of `seed`; `x` and `y` may be the same tensor (in place).
    /// Used with the output's gradient for `x` and the input's for `y`, it is the backward.
    /// - Throws: `.shapeMismatch` for views of different shapes or not dense.
    public func apply(_ x: TensorView, into y: TensorView, seed: UInt64, threadPool: ThreadPool = .shared) throws {
        guard x.shape == y.shape, x.isDense, y.isDense else {
            throw MobileKernelsError(.shapeMismatch, "Dropout: \(x) into \(y): both must be dense tensors of one shape")
        }
        try check(mk_dropout_f32(x.shape.count, x.pointer, y.pointer, probability, seed, 0, threadPool.handle), "Dropout")
    }

    /// Whether `apply` keeps element `index` (in NHWC order) for `seed`.
    public func keeps(_ index: Int, seed: UInt64) -> Bool {
        mk_dropout_keeps(seed, UInt64(index), probability)
    }
}
