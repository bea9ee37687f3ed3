// The machine's limits, measured in-process, for the benchmark harness ("% of peak"); a target of
// its own (CPeak), not part of the CKernels ABI. Built with the same per-function ISA targets.
#ifndef MK_PEAK_H
#define MK_PEAK_H

#include "../../../CKernels/include/mk_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Runs `iterations` rounds of independent FMA chains (24 with 32 vector registers, 12 with
/// 16) with `variant`'s widest register (scalar: one lane; FMA instructions where the CPU has them, else multiply + add) and returns
/// the floating-point operations done (2 per lane per FMA), or 0 for a variant the CPU lacks.
uint64_t mk_peak_fma(mk_variant variant, uint64_t iterations);

/// The int8 multiply-accumulate peak of `variant`'s int8 GEMM instruction: independent chains of
/// vpdpbusd (AVX-512 VNNI zmm, AVX-VNNI ymm), vpmaddwd + vpaddd (AVX2), sdot (NEON dot),
/// vmull_s8 + vpadal (NEON), int32 multiply-add (scalar), as the qs8 microkernels use them.
/// Returns the operations done (2 per multiply-accumulate), or 0 for a variant the CPU lacks or
/// without int8 kernels.
uint64_t mk_peak_int8(mk_variant variant, uint64_t iterations);

/// Reads `count` floats from `buffer` `repeats` times with the widest loads the CPU has and
/// returns their sum (so that the reads cannot be optimized away).
float mk_peak_read(const float* buffer, size_t count, size_t repeats);

/// Copies `count` floats from `source` to `destination` (non-overlapping) `repeats` times with the
/// widest loads and stores the CPU has.
void mk_peak_copy(float* destination, const float* source, size_t count, size_t repeats);

#ifdef __cplusplus
}
#endif

#endif
