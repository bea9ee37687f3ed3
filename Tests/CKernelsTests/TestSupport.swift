import CKernels
import ReferenceKernels
import Testing

/// Every concrete variant (AUTO excluded), in mk_variant order.
let concreteVariants: [mk_variant] = (1..<Int(MK_VARIANT_COUNT)).map { mk_variant(UInt32($0)) }

/// The variants of `family` in the catalogue that this CPU runs: a new ISA in the catalogue is
/// tested without editing a list.
func familyVariants(_ family: mk_family) -> [mk_variant] {
    concreteVariants.filter { mk_family_variants(family) & (1 << $0.rawValue) != 0 && mk_variant_available($0) }
}

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// `count` floats uniform in [lo, hi).
    mutating func floats(_ count: Int, _ lo: Float = -8, _ hi: Float = 8) -> [Float] {
        (0..<count).map { _ in Float.random(in: lo..<hi, using: &self) }
    }
}

/// The activations every fused epilogue supports, with a clamp that cuts both sides.
let allActivations: [(mk_activation, RefActivation)] = [
    (mk_activation(kind: MK_ACTIVATION_NONE, min: 0, max: 0), .none),
    (mk_activation(kind: MK_ACTIVATION_RELU, min: 0, max: 0), .relu),
    (mk_activation(kind: MK_ACTIVATION_RELU6, min: 0, max: 0), .relu6),
    (mk_activation(kind: MK_ACTIVATION_HARDSWISH, min: 0, max: 0), .hardswish),
    (mk_activation(kind: MK_ACTIVATION_HARDSIGMOID, min: 0, max: 0), .hardsigmoid),
    (mk_activation(kind: MK_ACTIVATION_CLAMP, min: -0.5, max: 0.75), .clamp(min: -0.5, max: 0.75)),
]

/// True when `a` and `b` are the same float, or differ by at most `ulps` units in the last place.
func withinULPs(_ a: Float, _ b: Float, _ ulps: UInt32) -> Bool {
    if a == b || (a.isNaN && b.isNaN) { return true }
    guard a.sign == b.sign, a.isFinite, b.isFinite else { return false }
    let d = a.bitPattern > b.bitPattern ? a.bitPattern - b.bitPattern : b.bitPattern - a.bitPattern
    return d <= ulps
}

/// Max-ulp tolerance of an activation: 0 (bit-exact) except where the kernels multiply by the
/// float nearest 1/6 where PyTorch divides by 6.
func ulpTolerance(_ activation: RefActivation) -> UInt32 {
    switch activation {
    case .hardswish, .hardsigmoid: 1
    default: 0
    }
}

/// A value no kernel produces from our inputs: used to detect writes outside a buffer's rows.
let sentinel = Float(bitPattern: 0x7FC0_DEAD)
