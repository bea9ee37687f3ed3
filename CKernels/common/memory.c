#define _GNU_SOURCE  // madvise and MADV_HUGEPAGE (Linux); posix_memalign
#include "internal.h"

#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

// Buffers of at least this many bytes (activations and packed weights of the larger layers) are
// aligned to a 2 MiB page and, on Linux, marked for transparent huge pages: where THP is in
// "madvise" mode (Debian's default) they would otherwise be mapped in 4 KiB pages, and a layer
// streaming two 5 MB activations walks more pages than the TLB holds.
#define MK_HUGE_PAGE ((size_t)2 << 20)

void* mk_aligned_alloc(size_t bytes) {
    if (bytes == 0 || bytes > (size_t)PTRDIFF_MAX) return NULL;
    void* pointer = NULL;
    const size_t alignment = bytes >= MK_HUGE_PAGE ? MK_HUGE_PAGE : 64;
    if (posix_memalign(&pointer, alignment, bytes) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (alignment == MK_HUGE_PAGE) {
        // Advice only: on failure (THP off, old kernel) the buffer keeps small pages.
        (void)madvise(pointer, bytes - bytes % MK_HUGE_PAGE, MADV_HUGEPAGE);
    }
#endif
    return pointer;
}

void mk_aligned_free(void* pointer) { free(pointer); }
