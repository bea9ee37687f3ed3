#define _POSIX_C_SOURCE 200809L  // posix_memalign, clock_gettime under strict -std=c11
#include "internal.h"

#include <stdlib.h>

void* mk_aligned_alloc(size_t bytes) {
    if (bytes == 0 || bytes > (size_t)PTRDIFF_MAX) return NULL;
    void* pointer = NULL;
    if (posix_memalign(&pointer, 64, bytes) != 0) return NULL;
    return pointer;
}

void mk_aligned_free(void* pointer) { free(pointer); }
