// RefTensor: the NHWC float32 tensor every reference kernel reads and writes.

/// A dense NHWC float32 tensor: batch `n`, height `h`, width `w`, channels `c`, channels contiguous.
///
/// Element `(b, y, x, ch)` lives at `data[((b * h + y) * w + x) * c + ch]`.
/// All four dimensions are at least 1 and `data.count == n * h * w * c` (checked by the initializers).
/// Equality compares the shape and then the elements with `Float.==` (so `NaN != NaN`, `-0.0 == 0.0`).
public struct RefTensor: Equatable, Sendable {
    /// Batch size.
    public var n: Int
    /// Height (rows).
    public var h: Int
    /// Width (columns).
    public var w: Int
    /// Channels (the contiguous, fastest-varying dimension).
    public var c: Int
    /// The elements in NHWC order: `data[((b * h + y) * w + x) * c + ch]`.
    public var data: [Float]

    /// Wraps existing NHWC data.
    /// - Precondition: `n, h, w, c >= 1` and `data.count == n * h * w * c`.
    public init(n: Int, h: Int, w: Int, c: Int, data: [Float]) {
        RefTensor.checkDims(n: n, h: h, w: w, c: c, function: "RefTensor.init(n:h:w:c:data:)")
        precondition(data.count == n * h * w * c,
                     "RefTensor.init(n:h:w:c:data:): data.count \(data.count) != n*h*w*c = \(n)*\(h)*\(w)*\(c) = \(n * h * w * c)")
        self.n = n
        self.h = h
        self.w = w
        self.c = c
        self.data = data
    }

    /// A tensor of shape `[n, h, w, c]` with every element equal to `repeating` (default 0).
    /// - Precondition: `n, h, w, c >= 1`.
    public init(n: Int, h: Int, w: Int, c: Int, repeating: Float = 0) {
        RefTensor.checkDims(n: n, h: h, w: w, c: c, function: "RefTensor.init(n:h:w:c:repeating:)")
        self.init(n: n, h: h, w: w, c: c, data: [Float](repeating: repeating, count: n * h * w * c))
    }

    /// Converts from PyTorch's NCHW order: `nchw[((b * c + ch) * h + y) * w + x]` becomes element
    /// `(b, y, x, ch)`. Note the argument order `n, c, h, w`, as in a PyTorch shape.
    /// - Precondition: `n, c, h, w >= 1` and `nchw.count == n * c * h * w`.
    public init(nchw: [Float], n: Int, c: Int, h: Int, w: Int) {
        RefTensor.checkDims(n: n, h: h, w: w, c: c, function: "RefTensor.init(nchw:n:c:h:w:)")
        precondition(nchw.count == n * c * h * w,
                     "RefTensor.init(nchw:n:c:h:w:): nchw.count \(nchw.count) != n*c*h*w = \(n)*\(c)*\(h)*\(w) = \(n * c * h * w)")
        var data = [Float](repeating: 0, count: nchw.count)
        for b in 0..<n {
            for ch in 0..<c {
                for y in 0..<h {
                    for x in 0..<w {
                        data[((b * h + y) * w + x) * c + ch] = nchw[((b * c + ch) * h + y) * w + x]
                    }
                }
            }
        }
        self.init(n: n, h: h, w: w, c: c, data: data)
    }

    /// The elements in PyTorch's NCHW order: element `(b, y, x, ch)` goes to
    /// `result[((b * c + ch) * h + y) * w + x]`. Inverse of `init(nchw:n:c:h:w:)`.
    public func toNCHW() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for b in 0..<n {
            for y in 0..<h {
                for x in 0..<w {
                    for ch in 0..<c {
                        out[((b * c + ch) * h + y) * w + x] = data[((b * h + y) * w + x) * c + ch]
                    }
                }
            }
        }
        return out
    }

    /// Number of elements, `n * h * w * c`.
    public var count: Int { n * h * w * c }

    /// Flat index of element `(b, y, x, ch)`: `((b * h + y) * w + x) * c + ch`. No bounds check.
    @inline(__always)
    public func index(n b: Int, y: Int, x: Int, ch: Int) -> Int {
        ((b * h + y) * w + x) * c + ch
    }

    /// Element `(n, y, x, ch)`, read or written: `t[n: 0, y: 1, x: 2, ch: 3]`.
    /// - Precondition: `0 <= n < self.n`, `0 <= y < h`, `0 <= x < w`, `0 <= ch < c`.
    public subscript(n b: Int, y y: Int, x x: Int, ch ch: Int) -> Float {
        get {
            checkIndex(b, y, x, ch)
            return data[index(n: b, y: y, x: x, ch: ch)]
        }
        set {
            checkIndex(b, y, x, ch)
            data[index(n: b, y: y, x: x, ch: ch)] = newValue
        }
    }

    /// True when `other` has the same `n, h, w, c` (data not compared).
    public func hasSameShape(as other: RefTensor) -> Bool {
        n == other.n && h == other.h && w == other.w && c == other.c
    }

    /// The shape as `[n, h, w, c]`, for messages.
    public var shapeDescription: String { "[n: \(n), h: \(h), w: \(w), c: \(c)]" }

    private func checkIndex(_ b: Int, _ y: Int, _ x: Int, _ ch: Int) {
        precondition(b >= 0 && b < n && y >= 0 && y < h && x >= 0 && x < w && ch >= 0 && ch < c,
                     "RefTensor subscript: index [n: \(b), y: \(y), x: \(x), ch: \(ch)] out of bounds for shape \(shapeDescription)")
    }

    private static func checkDims(n: Int, h: Int, w: Int, c: Int, function: String) {
        precondition(n >= 1 && h >= 1 && w >= 1 && c >= 1,
                     "\(function): every dimension must be >= 1, got n: \(n), h: \(h), w: \(w), c: \(c)")
    }
}
