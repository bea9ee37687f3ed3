// RefActivation and the standalone activation / bias + activation kernels.

/// A pointwise activation, the epilogue every kernel can fuse.
///
/// Formulas (all in `Float`, using the standard library `min`/`max`, so a NaN input gives NaN):
/// - `none`: `x`, bit for bit (a `-0.0` stays `-0.0`)
/// - `relu`: `max(x, 0)`
/// - `relu6`: `min(max(x, 0), 6)`
/// - `hardswish`: `x * min(max(x + 3, 0), 6) / 6`, evaluated left to right as `(x * r) / 6`
///   (PyTorch's formula; note `hardswish(-4)` is `-0.0`)
/// - `hardsigmoid`: `min(max(x + 3, 0), 6) / 6`
/// - `clamp(min:max:)`: `min(max(x, min), max)`; the kernels require `min <= max` (no NaN bounds)
public enum RefActivation: Equatable, Sendable {
    case none, relu, relu6, hardswish, hardsigmoid
    case clamp(min: Float, max: Float)

    /// The activation applied to one value (see the type's documentation for the formulas).
    @inline(__always)
    public func apply(_ x: Float) -> Float {
        switch self {
        case .none:
            return x
        case .relu:
            return max(x, 0)
        case .relu6:
            return min(max(x, 0), 6)
        case .hardswish:
            let r = min(max(x + 3, 0), 6)
            return (x * r) / 6
        case .hardsigmoid:
            return min(max(x + 3, 0), 6) / 6
        case .clamp(let lo, let hi):
            return min(max(x, lo), hi)
        }
    }

    /// Stops with a message if this is a `clamp` with `min > max` or a NaN bound.
    func validate(_ function: String) {
        if case .clamp(let lo, let hi) = self {
            precondition(lo <= hi, "\(function): clamp needs min <= max (and no NaN), got min: \(lo), max: \(hi)")
        }
    }
}

extension Reference {
    /// `y = act(x)` elementwise, same shape as `x`.
    /// - Precondition: a `clamp` activation has `min <= max`.
    public static func activation(_ x: RefTensor, _ activation: RefActivation) -> RefTensor {
        activation.validate("Reference.activation")
        var out = x
        for i in 0..<out.data.count {
            out.data[i] = activation.apply(x.data[i])
        }
        return out
    }

    /// `y[b, y, x, ch] = act(x[b, y, x, ch] + bias[ch])`, same shape as `x`.
    ///
    /// With `bias == nil` nothing is added, so `y = act(x)` exactly (a `-0.0` input stays `-0.0` under
    /// `.none`, whereas adding a zero bias gives `+0.0`).
    /// - Precondition: `bias` is nil or has `x.c` elements; a `clamp` activation has `min <= max`.
    public static func biasActivation(_ x: RefTensor, bias: [Float]?, activation: RefActivation) -> RefTensor {
        activation.validate("Reference.biasActivation")
        guard let bias else { return Reference.activation(x, activation) }
        precondition(bias.count == x.c,
                     "Reference.biasActivation: bias.count \(bias.count) != channels \(x.c) of input \(x.shapeDescription)")
        var out = x
        let c = x.c
        for p in 0..<(x.count / c) {
            for ch in 0..<c {
                let i = p * c + ch
                out.data[i] = activation.apply(x.data[i] + bias[ch])
            }
        }
        return out
    }
}
