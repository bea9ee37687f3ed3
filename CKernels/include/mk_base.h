// Status codes, kernel variants, CPU features and aligned memory.
#ifndef MK_BASE_H
#define MK_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What every C entry point returns.
typedef enum mk_status {
    MK_STATUS_OK = 0,
    /// A required pointer was NULL.
    MK_STATUS_NULL_POINTER = 1,
    /// A size, stride or parameter is out of its range (zero dimension, stride < channels, NaN
    /// clamp bound, min > max, partially overlapping buffers, ...).
    MK_STATUS_INVALID_ARGUMENT = 2,
    /// A run-time shape does not match the shape the operator was created for.
    MK_STATUS_SHAPE_MISMATCH = 3,
    /// A product of sizes does not fit in size_t (or in the addressable range).
    MK_STATUS_SIZE_OVERFLOW = 4,
    /// The requested variant is not available on this CPU or not implemented for this operator.
    MK_STATUS_UNSUPPORTED = 5,
    /// An allocation failed.
    MK_STATUS_OUT_OF_MEMORY = 6,
    /// A worker thread could not be started.
    MK_STATUS_THREAD_ERROR = 7,
} mk_status;

/// A static, human-readable description of `status` ("invalid argument", ...).
const char* mk_status_string(mk_status status);

/// A kernel variant. `MK_VARIANT_AUTO` picks the best variant the CPU has for the operator; an
/// explicit variant that the CPU (or the operator) lacks makes create return MK_STATUS_UNSUPPORTED.
typedef enum mk_variant {
    MK_VARIANT_AUTO = 0,
    MK_VARIANT_SCALAR = 1,  // portable C, available everywhere
    MK_VARIANT_AVX2 = 2,    // x86-64 AVX2 + FMA
    MK_VARIANT_AVX512 = 3,  // x86-64 AVX-512 F/BW/VL/DQ
    MK_VARIANT_NEON = 4,    // aarch64 Advanced SIMD
    MK_VARIANT_BLIS = 5,    // BLIS sgemm (only operators whose core is a GEMM)
    // The int8 variants (qs8 families only; float operators resolve AUTO past them):
    MK_VARIANT_AVX512VNNI = 6,  // x86-64 AVX-512 F/BW/VL/DQ + VNNI (vpdpbusd on zmm)
    MK_VARIANT_AVXVNNI = 7,     // x86-64 AVX2 + FMA + AVX-VNNI (vpdpbusd on ymm)
    MK_VARIANT_NEONDOT = 8,     // aarch64 Advanced SIMD + the dot-product extension (sdot)
} mk_variant;

#define MK_VARIANT_COUNT 9

/// Whether this CPU (and this build) can run `variant`. AUTO and SCALAR are always available.
bool mk_variant_available(mk_variant variant);

/// "auto", "scalar", "avx2", "avx512", "neon", "blis", "avx512vnni", "avxvnni", "neondot";
/// "unknown" for anything else.
const char* mk_variant_name(mk_variant variant);

/// The SIMD variant that AUTO resolves to for the float32 operators that have every SIMD variant.
mk_variant mk_variant_best(void);

/// Features of the CPU, detected once (thread-safe) on first use. AVX flags are set only when the
/// operating system also saves the matching register state (XGETBV).
typedef struct mk_cpu_info {
    bool sse42, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512cd, avx512vnni, avx512bf16, avx512fp16;
    bool avxvnni;  // AVX-VNNI: vpdpbusd on ymm without AVX-512
    bool avx512vbmi;  // byte permutations (vpermb, vpermt2b)
    bool neon_dot; // aarch64 SDOT/UDOT (HWCAP_ASIMDDP)
    bool amx_tile, amx_bf16, amx_int8;
    bool neon;
    /// Per-core data cache sizes in bytes (L1 data, L2) and the last level's (L3, 0 when there is
    /// none), from CPUID leaf 4 / 0x8000001D on x86-64, else Linux's sysfs, else 32 KiB / 1 MiB / 0.
    /// The catalogue derives its blocking sizes from them (see mk_catalogue.h). The environment
    /// variables MK_L1D_BYTES and MK_L2_BYTES (decimal bytes), read once, override the first two.
    size_t l1d_bytes, l2_bytes, l3_bytes;
    /// The CPU's brand string ("Intel(R) Xeon(R) ..."), or the architecture name when unknown.
    char brand[64];
} mk_cpu_info;

const mk_cpu_info* mk_cpu_info_get(void);

/// 64-byte-aligned allocation; returns NULL when `bytes` is 0 or on failure. Free with
/// mk_aligned_free (NULL is ignored).
void* mk_aligned_alloc(size_t bytes);
void mk_aligned_free(void* pointer);

/// The BLIS kernel configuration the linked BLIS library selected on this CPU ("haswell", ...).
const char* mk_blis_arch(void);

#ifdef __cplusplus
}
#endif

#endif
