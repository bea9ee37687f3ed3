internal import CKernels

/// A family of microkernels in the C catalogue (`mk_catalogue.h`): one datatype, one kind of math.
public enum KernelFamily: String, CaseIterable, Sendable {
    case gemm = "f32_gemm", dwconv = "f32_dwconv", pool = "f32_pool", vbinary = "f32_vbinary"
    case fc = "f32_fc", vunary = "f32_vunary", shuffle = "f32_shuffle", winograd = "f32_winograd"
    /// Training: BatchNorm with batch statistics (forward and backward) and activation gradients.
    case bntrain = "f32_bntrain"
    /// Training: depthwise convolution input and weight gradients.
    case dwgrad = "f32_dwgrad"
    /// Training: max pooling with indices and the pooling input gradients.
    case poolgrad = "f32_poolgrad"
    /// Training: weight gradients as a GEMM over pixels.
    case wgrad = "f32_wgrad"
    /// int8: GEMM tiles (dense, grouped and 1x1 convolution, fully connected) with requantization.
    case qs8Gemm = "qs8_gemm"
    /// int8: depthwise convolution with requantization.
    case qs8Dwconv = "qs8_dwconv"

    var cValue: mk_family {
        switch self {
        case .gemm: MK_FAMILY_F32_GEMM
        case .dwconv: MK_FAMILY_F32_DWCONV
        case .pool: MK_FAMILY_F32_POOL
        case .vbinary: MK_FAMILY_F32_VBINARY
        case .fc: MK_FAMILY_F32_FC
        case .vunary: MK_FAMILY_F32_VUNARY
        case .shuffle: MK_FAMILY_F32_SHUFFLE
        case .winograd: MK_FAMILY_F32_WINOGRAD
        case .bntrain: MK_FAMILY_F32_BNTRAIN
        case .dwgrad: MK_FAMILY_F32_DWGRAD
        case .poolgrad: MK_FAMILY_F32_POOLGRAD
        case .wgrad: MK_FAMILY_F32_WGRAD
        case .qs8Gemm: MK_FAMILY_QS8_GEMM
        case .qs8Dwconv: MK_FAMILY_QS8_DWCONV
        }
    }

    init?(_ value: mk_family) {
        guard let family = KernelFamily.allCases.first(where: { $0.cValue == value }) else { return nil }
        self = family
    }
}

/// The kernel catalogue: every microkernel this build has, per family and variant, with its tile;
/// operators choose from it, and tests and benchmarks enumerate it (a new tile or ISA is tested
/// and benchmarked without editing their lists).
public enum Catalogue {
    /// One microkernel: its C name (`mk_f32_igemm_ukernel_7x32__avx512`), family, variant and
    /// tile (gemm: `mr` x `nr`; depthwise rows: `mr` pixels x `nr` channels of a `kernel` x
    /// `kernel` window at horizontal `stride`, `mr` = 0 for the generic kernel; others: `nr`
    /// channels per block).
    public struct Microkernel: Sendable, Hashable {
        public let name: String
        public let family: KernelFamily
        public let variant: Variant
        public let mr: Int, nr: Int, kernel: Int, stride: Int
        /// Whether this CPU runs it.
        public var isAvailable: Bool { variant.isAvailable }
    }

    /// Every microkernel compiled for this architecture (whether or not the CPU runs it).
    public static var microkernels: [Microkernel] {
        (0..<mk_catalogue_count()).compactMap { i in
            guard let info = mk_catalogue_entry(i)?.pointee, let family = KernelFamily(info.family) else { return nil }
            return Microkernel(name: String(cString: info.name), family: family, variant: Variant(info.variant),
                               mr: info.mr, nr: info.nr, kernel: info.kernel, stride: info.stride)
        }
    }

    /// The variants that have microkernels of `family` in this build, in `Variant` order (not
    /// necessarily ones this CPU runs: see `Variant.isAvailable`).
    public static func variants(of family: KernelFamily) -> [Variant] {
        let mask = mk_family_variants(family.cValue)
        return Variant.allCases.filter { $0 != .auto && mask & (1 << $0.cValue.rawValue) != 0 }
    }

    /// The GEMM driver's tile and blocking for `variant` on this CPU (nil when the CPU lacks it):
    /// the blocking comes from the cache sizes found at run time.
    public static func gemmBlocking(_ variant: Variant) -> (mr: Int, nr: Int, kc: Int, nc: Int)? {
        var b = mk_gemm_blocking()
        guard mk_f32_gemm_blocking(variant.cValue, &b) == MK_STATUS_OK else { return nil }
        return (b.mr, b.nr, b.kc, b.nc)
    }
}
