// What the linked BLIS library chose on this CPU (reported by the benchmarks).
#include "internal.h"

#if !defined(MK_NO_BLIS)
#include <cblas.h>
// From blis.h, which cannot be included here (it includes <omp.h>); see Sources/CBLIS/shim.h.
arch_t bli_arch_query_id(void);
char* bli_arch_string(arch_t id);
#endif

const char* mk_blis_arch(void) {
#if defined(MK_NO_BLIS)
    return "none";
#else
    return bli_arch_string(bli_arch_query_id());
#endif
}
