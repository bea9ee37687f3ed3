// BLIS through its CBLAS header. Debian's <blis.h> includes <omp.h> (OpenMP build), which Swift's
// clang cannot find, so this shim includes the libc headers first, then <cblas.h> (self-contained:
// it also defines dim_t, inc_t and trans_t), and declares the few bli_* functions we call.
#ifndef MK_CBLIS_SHIM_H
#define MK_CBLIS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <stdarg.h>
#include <float.h>
#include <errno.h>
#include <ctype.h>
#include <cblas.h>

#ifdef __cplusplus
extern "C" {
#endif

void bli_sgemm(trans_t transa, trans_t transb, dim_t m, dim_t n, dim_t k,
               const float* alpha, const float* a, inc_t rsa, inc_t csa,
               const float* b, inc_t rsb, inc_t csb,
               const float* beta, float* c, inc_t rsc, inc_t csc);
void bli_thread_set_num_threads(dim_t n_threads);
arch_t bli_arch_query_id(void);
char* bli_arch_string(arch_t id);

#ifdef __cplusplus
}
#endif

#endif
