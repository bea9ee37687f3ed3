internal import CKernels

/// An activation applied (fused) by the kernel that writes a layer's output.
///
/// `hardswish` is x * relu6(x + 3) / 6 and `hardsigmoid` relu6(x + 3) / 6, as in PyTorch; the
/// kernels multiply by the float nearest 1/6 instead of dividing, so these two may differ from
/// PyTorch by one unit in the last place.
public enum Activation: Hashable, Sendable, CustomStringConvertible {
    case none
    case relu
    case relu6
    case hardswish
    case hardsigmoid
    /// min(max(x, min), max); requires min <= max and neither NaN.
    case clamp(min: Float, max: Float)

    public var description: String {
        switch self {
        case .none: "none"
        case .relu: "relu"
        case .relu6: "relu6"
        case .hardswish: "hardswish"
        case .hardsigmoid: "hardsigmoid"
        case let .clamp(lo, hi): "clamp(\(lo), \(hi))"
        }
    }

    var cValue: mk_activation {
        switch self {
        case .none: mk_activation(kind: MK_ACTIVATION_NONE, min: 0, max: 0)
        case .relu: mk_activation(kind: MK_ACTIVATION_RELU, min: 0, max: 0)
        case .relu6: mk_activation(kind: MK_ACTIVATION_RELU6, min: 0, max: 0)
        case .hardswish: mk_activation(kind: MK_ACTIVATION_HARDSWISH, min: 0, max: 0)
        case .hardsigmoid: mk_activation(kind: MK_ACTIVATION_HARDSIGMOID, min: 0, max: 0)
        case let .clamp(lo, hi): mk_activation(kind: MK_ACTIVATION_CLAMP, min: lo, max: hi)
        }
    }
}
