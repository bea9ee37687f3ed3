// Elementwise: residual add and per-(batch, channel) scaling.

extension Reference {
    /// `y = act(a + b)` elementwise (the residual add of MobileNetV2/V3), same shape as the inputs.
    /// - Precondition: `a` and `b` have the same `n, h, w, c`; a `clamp` has `min <= max`.
    public static func add(_ a: RefTensor, _ b: RefTensor, activation: RefActivation = .none) -> RefTensor {
        activation.validate("Reference.add")
        precondition(a.hasSameShape(as: b),
                     "Reference.add: shapes differ: \(a.shapeDescription) vs \(b.shapeDescription)")
        var out = a
        for i in 0..<a.data.count {
            out.data[i] = activation.apply(a.data[i] + b.data[i])
        }
        return out
    }

    /// `y[b, y, x, ch] = x[b, y, x, ch] * scale[b * c + ch]`: multiply every pixel by a per-(batch,
    /// channel) factor (the gating step of squeeze-and-excitation). `scale` is `[n, c]` row-major.
    /// - Precondition: `scale.count == x.n * x.c`.
    public static func channelScale(_ x: RefTensor, scale: [Float]) -> RefTensor {
        precondition(scale.count == x.n * x.c,
                     "Reference.channelScale: scale.count \(scale.count) != n*c = \(x.n)*\(x.c) for input \(x.shapeDescription)")
        let (hw, c) = (x.h * x.w, x.c)
        var out = x
        for b in 0..<x.n {
            for p in 0..<hw {
                for ch in 0..<c {
                    let i = (b * hw + p) * c + ch
                    out.data[i] = x.data[i] * scale[b * c + ch]
                }
            }
        }
        return out
    }
}
