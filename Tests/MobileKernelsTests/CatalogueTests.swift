@testable import MobileKernels
import Testing

@Suite("Catalogue and variants (Swift face)")
struct CatalogueTests {
    @Test("every Variant maps to the C variant of the same name and back")
    func variantNames() {
        for variant in Variant.allCases { #expect(Variant(variant.cValue) == variant, "\(variant)") }
        #expect(Set(Variant.allCases.map { $0.cValue.rawValue }).count == Variant.allCases.count)
    }

    @Test("every family has a scalar microkernel; AUTO's variant runs every family; entries are named by ISA")
    func families() {
        let kernels = Catalogue.microkernels
        // The int8 families resolve AUTO to the int8-only variants where the CPU has them.
        let int8Best = [Variant.avx512vnni, .avxvnni, .avx2, .neondot, .neon, .scalar].first(where: \.isAvailable)!
        for family in KernelFamily.allCases {
            let int8 = family.rawValue.hasPrefix("qs8_")
            #expect(Catalogue.variants(of: family).contains(.scalar), "\(family)")
            #expect(Catalogue.variants(of: family).contains(int8 ? int8Best : Variant.best), "\(family)")
            #expect(kernels.contains { $0.family == family }, "\(family)")
        }
        #expect(!Catalogue.variants(of: .gemm).contains(.avx512vnni) && Variant.best != .avx512vnni)
        // Named by ISA: an int8-only variant may run its base ISA's kernel (AVX-VNNI's and NEON dot's depthwise).
        let base: [Variant: Variant] = [.avx512vnni: .avx512, .avxvnni: .avx2, .neondot: .neon]
        for kernel in kernels {
            let named = kernel.name.hasSuffix("__\(kernel.variant.rawValue)")
                || base[kernel.variant].map { kernel.name.hasSuffix("__\($0.rawValue)") } == true
            #expect(named, "\(kernel.name)")
        }
        #expect(kernels.filter { $0.family == .gemm && $0.isAvailable }.count >= 4)
    }

    @Test("GEMM blocking follows the L2 size found at run time (half of it for a task's B block, kc >= 512)")
    func blocking() throws {
        let l2 = Machine.cacheBytes.l2
        #expect(l2 >= 64 << 10 && Machine.cacheBytes.l1d >= 8 << 10)
        for variant in Catalogue.variants(of: .gemm) where variant.isAvailable {
            let b = try #require(Catalogue.gemmBlocking(variant))
            let widest = min(32 * b.nr, 256)
            #expect(b.kc % 16 == 0 && (512...2048).contains(b.kc), "\(variant) \(b)")
            #expect(b.kc == min(2048, max(512, l2 / 2 / (widest * 4))) & ~15, "\(variant) \(b) for L2 \(l2)")
            // nc narrows where kc's minimum would make the B block more than half of the L2.
            #expect(b.nc == min(widest, max(4 * b.nr, l2 / 2 / (b.kc * 4) / b.nr * b.nr)), "\(variant) \(b) for L2 \(l2)")
        }
        #expect(Catalogue.gemmBlocking(.neon) == nil || Variant.neon.isAvailable)
    }
}
