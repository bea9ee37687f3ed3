// Activations in any precision, and their derivatives as PyTorch's autograd defines them.

extension RefActivation {
    /// `apply` in any precision (the same formulas; see `RefActivation`). A separate name, so a
    /// literal argument still calls the float32 `apply`.
    @inline(__always)
    public func evaluate<T: BinaryFloatingPoint>(_ x: T) -> T {
        switch self {
        case .none: return x
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        case .hardswish: return (x * min(max(x + 3, 0), 6)) / 6
        case .hardsigmoid: return min(max(x + 3, 0), 6) / 6
        case .clamp(let lo, let hi): return min(max(x, T(lo)), T(hi))
        }
    }

    /// d act(u) / du at the pre-activation value `u`, times `dy`, with PyTorch's choices at the
    /// kinks: ReLU passes where `u > 0`; ReLU6 (Hardtanh(0, 6)) where `0 < u < 6`; hard-swish is 0
    /// below -3, `u / 3 + 1/2` on [-3, 3] and 1 above; hard-sigmoid 1/6 on (-3, 3), else 0; a clamp
    /// passes where `lo <= u <= hi` (PyTorch's `clamp` backward).
    @inline(__always)
    public func backward<T: BinaryFloatingPoint>(_ u: T, _ dy: T) -> T {
        switch self {
        case .none: return dy
        case .relu: return u > 0 ? dy : 0
        case .relu6: return u > 0 && u < 6 ? dy : 0
        case .hardswish: return u < -3 ? 0 : (u <= 3 ? dy * (u / 3 + T(0.5)) : dy)
        case .hardsigmoid: return u > -3 && u < 3 ? dy / 6 : 0
        case .clamp(let lo, let hi): return u >= T(lo) && u <= T(hi) ? dy : 0
        }
    }
}

extension RefTrain {
    /// `act(u)` elementwise.
    @_specialize(exported: true, where T == Float)
    public static func activation<T>(_ u: RefTensorOf<T>, _ act: RefActivation) -> RefTensorOf<T> {
        var y = u
        for i in 0..<y.data.count { y.data[i] = act.evaluate(u.data[i]) }
        return y
    }

    /// The gradient with respect to the pre-activation `u`, given `dy` for `act(u)`.
    @_specialize(exported: true, where T == Float)
    public static func activationBackward<T>(_ u: RefTensorOf<T>, _ act: RefActivation, dy: RefTensorOf<T>) -> RefTensorOf<T> {
        precondition(u.hasSameShape(as: dy), "RefTrain.activationBackward: u \(u.shapeDescription) != dy \(dy.shapeDescription)")
        var du = dy
        for i in 0..<du.data.count { du.data[i] = act.backward(u.data[i], dy.data[i]) }
        return du
    }
}
