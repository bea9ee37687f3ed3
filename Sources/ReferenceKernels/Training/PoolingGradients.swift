// Pooling forward and backward in any precision: max (PyTorch's tie rule), average (both
// count_include_pad modes), adaptive average and global average.

/// A pooling window: square or not, floor mode, padding smaller than the kernel on each side.
public struct RefPoolGeometry: Equatable, Sendable {
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padding: RefPadding

    public init(kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padding: RefPadding = .zero) {
        (self.kernelH, self.kernelW, self.strideH, self.strideW, self.padding) = (kernelH, kernelW, strideH, strideW, padding)
    }

    /// A square window with symmetric padding.
    public init(kernel: Int, stride: Int, padding: Int) {
        self.init(kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride, padding: .symmetric(padding))
    }

    /// Calls `body(outIndex, inputIndices, divisor)` for every output element of pooling `x`,
    /// `inputIndices` being the window's cells inside the image (rows, then columns) and `divisor`
    /// the average's divisor (`countIncludePad`: the window clipped to the padded image, else the
    /// cells inside the image; PyTorch's rule).
    func forEachWindow<T>(_ fn: String, _ x: RefTensorOf<T>, countIncludePad: Bool,
                          _ body: (_ out: Int, _ inputs: [Int], _ divisor: Int) -> Void) -> (oh: Int, ow: Int) {
        precondition(kernelH >= 1 && kernelW >= 1 && strideH >= 1 && strideW >= 1 && padding.isValid
                     && padding.top < kernelH && padding.bottom < kernelH && padding.left < kernelW && padding.right < kernelW,
                     "\(fn): invalid window \(self)")
        let oh = Reference.outputSize(input: x.h, kernel: kernelH, stride: strideH, padBefore: padding.top, padAfter: padding.bottom)
        let ow = Reference.outputSize(input: x.w, kernel: kernelW, stride: strideW, padBefore: padding.left, padAfter: padding.right)
        for b in 0..<x.n {
            for oy in 0..<oh {
                let top = oy * strideH - padding.top, bottom = min(top + kernelH, x.h + padding.bottom)
                for ox in 0..<ow {
                    let left = ox * strideW - padding.left, right = min(left + kernelW, x.w + padding.right)
                    let rows = max(top, 0)..<min(bottom, x.h), cols = max(left, 0)..<min(right, x.w)
                    let divisor = countIncludePad ? (bottom - top) * (right - left) : rows.count * cols.count
                    for ch in 0..<x.c {
                        let cells = rows.flatMap { iy in cols.map { ix in x.index(b, iy, ix, ch) } }
                        body(((b * oh + oy) * ow + ox) * x.c + ch, cells, divisor)
                    }
                }
            }
        }
        return (oh, ow)
    }
}

extension RefTrain {
    /// Max pooling and, per output, the flat input index of its maximum: the first in window order
    /// (rows, then columns) among equal values, as PyTorch's max_pool2d picks (its indices). A NaN
    /// wins as in `Reference.maxPool2d`.
    @_specialize(exported: true, where T == Float)
    public static func maxPool2d<T>(_ x: RefTensorOf<T>, _ g: RefPoolGeometry) -> (y: RefTensorOf<T>, argmax: [Int]) {
        var values: [T] = [], argmax: [Int] = []
        let (oh, ow) = g.forEachWindow("RefTrain.maxPool2d", x, countIncludePad: false) { _, cells, _ in
            var best = cells[0]
            for i in cells where x.data[i] > x.data[best] || (x.data[i].isNaN && !x.data[best].isNaN) { best = i }
            values.append(x.data[best])
            argmax.append(best)
        }
        return (RefTensorOf(n: x.n, h: oh, w: ow, c: x.c, data: values), argmax)
    }

    /// Max pooling's input gradient: each output's `dy` goes to its `argmax` input (summed where
    /// windows overlap and share a maximum).
    @_specialize(exported: true, where T == Float)
    public static func maxPool2dBackward<T>(inputShapeOf x: RefTensorOf<T>, argmax: [Int], dy: RefTensorOf<T>) -> RefTensorOf<T> {
        precondition(argmax.count == dy.count, "RefTrain.maxPool2dBackward: \(argmax.count) indices for dy of \(dy.count)")
        var dx = RefTensorOf<T>(zerosLike: x)
        for (o, i) in argmax.enumerated() { dx.data[i] += dy.data[o] }
        return dx
    }

    /// Average pooling: the window's cells inside the image summed in `T`, divided by the divisor
    /// (see `RefPoolGeometry.forEachWindow`).
    @_specialize(exported: true, where T == Float)
    public static func avgPool2d<T>(_ x: RefTensorOf<T>, _ g: RefPoolGeometry, countIncludePad: Bool) -> RefTensorOf<T> {
        var values: [T] = []
        let (oh, ow) = g.forEachWindow("RefTrain.avgPool2d", x, countIncludePad: countIncludePad) { _, cells, divisor in
            values.append(cells.reduce(T(0)) { $0 + x.data[$1] } / T(divisor))
        }
        return RefTensorOf(n: x.n, h: oh, w: ow, c: x.c, data: values)
    }

    /// Average pooling's input gradient: `dy / divisor` to every cell of the window.
    @_specialize(exported: true, where T == Float)
    public static func avgPool2dBackward<T>(inputShapeOf x: RefTensorOf<T>, _ g: RefPoolGeometry, countIncludePad: Bool,
                                            dy: RefTensorOf<T>) -> RefTensorOf<T> {
        var dx = RefTensorOf<T>(zerosLike: x)
        let (oh, ow) = g.forEachWindow("RefTrain.avgPool2dBackward", x, countIncludePad: countIncludePad) { out, cells, divisor in
            for i in cells { dx.data[i] += dy.data[out] / T(divisor) }
        }
        precondition(dy.n == x.n && dy.h == oh && dy.w == ow && dy.c == x.c, "RefTrain.avgPool2dBackward: dy \(dy.shapeDescription)")
        return dx
    }

    /// PyTorch's AdaptiveAvgPool2d windows: output row i covers input rows
    /// floor(i * H / oh) ..< ceil((i + 1) * H / oh), likewise columns.
    static func adaptiveWindows<T>(_ x: RefTensorOf<T>, outputH oh: Int, outputW ow: Int,
                                   _ body: (_ out: Int, _ inputs: [Int]) -> Void) {
        precondition(oh >= 1 && ow >= 1, "RefTrain.adaptiveAvgPool: output size \(oh)x\(ow)")
        for b in 0..<x.n {
            for i in 0..<oh {
                let rows = (i * x.h / oh)..<(((i + 1) * x.h + oh - 1) / oh)
                for j in 0..<ow {
                    let cols = (j * x.w / ow)..<(((j + 1) * x.w + ow - 1) / ow)
                    for ch in 0..<x.c {
                        body(((b * oh + i) * ow + j) * x.c + ch, rows.flatMap { y in cols.map { x.index(b, y, $0, ch) } })
                    }
                }
            }
        }
    }

    /// AdaptiveAvgPool2d((oh, ow)) (global average pooling is `(1, 1)`).
    @_specialize(exported: true, where T == Float)
    public static func adaptiveAvgPool<T>(_ x: RefTensorOf<T>, outputH oh: Int, outputW ow: Int) -> RefTensorOf<T> {
        var y = RefTensorOf<T>(n: x.n, h: oh, w: ow, c: x.c)
        adaptiveWindows(x, outputH: oh, outputW: ow) { out, cells in
            y.data[out] = cells.reduce(T(0)) { $0 + x.data[$1] } / T(cells.count)
        }
        return y
    }

    /// AdaptiveAvgPool2d's input gradient: `dy / cells` to every cell of each window.
    @_specialize(exported: true, where T == Float)
    public static func adaptiveAvgPoolBackward<T>(inputShapeOf x: RefTensorOf<T>, dy: RefTensorOf<T>) -> RefTensorOf<T> {
        precondition(dy.n == x.n && dy.c == x.c, "RefTrain.adaptiveAvgPoolBackward: dy \(dy.shapeDescription), x \(x.shapeDescription)")
        var dx = RefTensorOf<T>(zerosLike: x)
        adaptiveWindows(x, outputH: dy.h, outputW: dy.w) { out, cells in
            for i in cells { dx.data[i] += dy.data[out] / T(cells.count) }
        }
        return dx
    }
}
