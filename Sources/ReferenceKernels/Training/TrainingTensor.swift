// RefTensorOf<T>: the NHWC tensor of the training references, in any floating-point precision.

/// A dense NHWC tensor of `T` (Float for the oracle, Double for finite-difference checks): batch
/// `n`, height `h`, width `w`, channels `c`; element `(b, y, x, ch)` at
/// `data[((b * h + y) * w + x) * c + ch]`, as in `RefTensor`.
///
/// The training references (`RefTrain`) are generic over the precision so the same loops that
/// serve as the oracle in `Float` can be checked against central finite differences in `Double`.
public struct RefTensorOf<T: BinaryFloatingPoint & Sendable>: Equatable, Sendable {
    public var n: Int
    public var h: Int
    public var w: Int
    public var c: Int
    public var data: [T]

    /// Wraps NHWC data. - Precondition: every dimension `>= 1` and `data.count == n * h * w * c`.
    public init(n: Int, h: Int, w: Int, c: Int, data: [T]) {
        precondition(n >= 1 && h >= 1 && w >= 1 && c >= 1,
                     "RefTensorOf: every dimension must be >= 1, got n: \(n), h: \(h), w: \(w), c: \(c)")
        precondition(data.count == n * h * w * c,
                     "RefTensorOf: data.count \(data.count) != n*h*w*c = \(n)*\(h)*\(w)*\(c)")
        (self.n, self.h, self.w, self.c, self.data) = (n, h, w, c, data)
    }

    /// Zeros (or `repeating`) of shape `[n, h, w, c]`.
    public init(n: Int, h: Int, w: Int, c: Int, repeating: T = 0) {
        self.init(n: n, h: h, w: w, c: c, data: [T](repeating: repeating, count: n * h * w * c))
    }

    /// Zeros shaped like `other`.
    public init<U>(zerosLike other: RefTensorOf<U>) {
        self.init(n: other.n, h: other.h, w: other.w, c: other.c)
    }

    /// The elements converted from another precision.
    public init<U>(_ other: RefTensorOf<U>) {
        self.init(n: other.n, h: other.h, w: other.w, c: other.c, data: other.data.map { T($0) })
    }

    /// The elements of a `RefTensor` (float32) in this precision.
    public init(_ other: RefTensor) {
        self.init(n: other.n, h: other.h, w: other.w, c: other.c, data: other.data.map { T($0) })
    }

    public var count: Int { n * h * w * c }
    /// Pixels per image times images: `n * h * w`.
    public var pixels: Int { n * h * w }

    /// Flat index of `(b, y, x, ch)`.
    @inline(__always)
    public func index(_ b: Int, _ y: Int, _ x: Int, _ ch: Int) -> Int { ((b * h + y) * w + x) * c + ch }

    public func hasSameShape<U>(as other: RefTensorOf<U>) -> Bool {
        n == other.n && h == other.h && w == other.w && c == other.c
    }

    public var shapeDescription: String { "[n: \(n), h: \(h), w: \(w), c: \(c)]" }
}

/// The training references: forward passes that keep what their backward needs, and the
/// backward passes (gradients with respect to inputs and parameters), as naive loops generic over
/// the floating-point type. PyTorch's semantics throughout (the comments say where a choice is
/// made, e.g. the derivative of an activation at its kinks or max pooling's ties).
///
/// Conventions: activations NHWC, weights in PyTorch's layouts (as `Reference`); a backward
/// function takes the forward's inputs (or what it saved) and the gradient of the loss with
/// respect to the forward's output (`dy`), and returns the gradients with respect to its inputs
/// and parameters. Sums run in `T`, from zero, in the loop order written. Bad arguments stop with
/// a precondition naming the function, as in `Reference`.
public enum RefTrain {}
