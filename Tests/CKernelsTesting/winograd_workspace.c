// Test-only: the Winograd planning override (see ckernels_testing.h).
#include "include/ckernels_testing.h"

#include "../../CKernels/operators/conv2d_internal.h"

void mk_testing_winograd_workspace(size_t bytes) {
    atomic_store_explicit(&mk_conv2d_winograd_workspace_override, bytes, memory_order_relaxed);
}
