internal import CKernels

/// A kernel variant: which implementation of a kernel runs. `.auto` picks the best one this CPU
/// has; an explicit variant the CPU lacks makes the layer's initializer throw `.unsupported`.
public enum Variant: String, CaseIterable, Sendable, CustomStringConvertible {
    case auto, scalar, avx2, avx512, neon, blis
    /// int8 kernels only (the `qs8` families): AVX-512 with VNNI, AVX2 with AVX-VNNI, NEON with
    /// the dot-product extension. Float layers resolve `.auto` past them and reject them.
    case avx512vnni, avxvnni, neondot

    /// Whether this CPU (and this build) can run the variant. `.blis` exists only for layers whose
    /// core is a GEMM.
    public var isAvailable: Bool { mk_variant_available(cValue) }

    /// The concrete variants this CPU runs, best last: e.g. [scalar, avx2, avx512, blis].
    public static var available: [Variant] {
        allCases.filter { $0 != .auto && $0.isAvailable }
    }

    /// Whether float32 kernels exist for this variant (all but the int8-only ones; `.auto` too).
    public var hasFloatKernels: Bool {
        self == .auto || self == .blis || Catalogue.variants(of: .gemm).contains(self)
    }

    /// What `.auto` resolves to for kernels that have every SIMD variant.
    public static var best: Variant { Variant(mk_variant_best()) }

    public var description: String { rawValue }

    /// The C value of the same name (`mk_variant_name`): the names are the one mapping, so a
    /// new ISA is a C enum value and name plus a case here with that raw value, no `switch`.
    private static let cValues: [Variant: mk_variant] = Dictionary(uniqueKeysWithValues:
        (0..<MK_VARIANT_COUNT).compactMap { raw in
            let value = mk_variant(UInt32(raw))
            return Variant(rawValue: String(cString: mk_variant_name(value))).map { ($0, value) }
        })

    var cValue: mk_variant { Variant.cValues[self] ?? MK_VARIANT_AUTO }

    init(_ value: mk_variant) {
        self = Variant(rawValue: String(cString: mk_variant_name(value))) ?? .auto
    }
}

/// What the running CPU is and which features MobileKernels detected on it.
public enum Machine {
    /// The CPU's brand string, e.g. "Intel(R) Xeon(R) Platinum 8488C".
    public static var cpuName: String {
        withUnsafeBytes(of: mk_cpu_info_get().pointee.brand) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// The detected ISA features relevant to the kernels ("avx2", "fma", "avx512f", ...).
    public static var features: [String] {
        let cpu = mk_cpu_info_get().pointee
        let flags: [(String, Bool)] = [
            ("sse4.2", cpu.sse42), ("avx", cpu.avx), ("avx2", cpu.avx2), ("fma", cpu.fma),
            ("f16c", cpu.f16c), ("avx512f", cpu.avx512f), ("avx512bw", cpu.avx512bw),
            ("avx512vl", cpu.avx512vl), ("avx512dq", cpu.avx512dq), ("avx512cd", cpu.avx512cd),
            ("avx512vnni", cpu.avx512vnni), ("avx512bf16", cpu.avx512bf16),
            ("avx512fp16", cpu.avx512fp16), ("avx-vnni", cpu.avxvnni), ("asimddp", cpu.neon_dot), ("amx-tile", cpu.amx_tile), ("amx-bf16", cpu.amx_bf16),
            ("amx-int8", cpu.amx_int8), ("neon", cpu.neon),
        ]
        return flags.filter(\.1).map(\.0)
    }

    /// The kernel set the linked BLIS library picked on this CPU ("haswell", "skx", ...).
    public static var blisKernelSet: String { String(cString: mk_blis_arch()) }

    /// Per-core L1 data and L2 cache sizes and the L3's, in bytes (0: none), as the catalogue's
    /// blocking sizes see them.
    public static var cacheBytes: (l1d: Int, l2: Int, l3: Int) {
        let cpu = mk_cpu_info_get().pointee
        return (cpu.l1d_bytes, cpu.l2_bytes, cpu.l3_bytes)
    }

    /// The number of CPUs online.
    public static var processorCount: Int { ThreadPool.processorCount }
}
