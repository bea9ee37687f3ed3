// Counts the heap allocations of the calling thread while counting is on, for `benchmarks
// allocations` (a planned training step or inference must allocate nothing): the executable's
// malloc family wraps glibc's (__libc_malloc and friends) and adds one to a thread-local
// counter; other threads (pool workers) are not counted. Off under AddressSanitizer (its runtime
// owns malloc) and on other C libraries: mk_alloc_counting() then says so.
#include "include/alloc_count.h"

#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MK_ASAN 1
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(MK_ASAN)
#define MK_COUNTING 1

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* pointer, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);

static _Thread_local bool mk_counting_on;
static _Thread_local size_t mk_counted;

// MK_ALLOC_TRACE=N in the environment prints the call stacks of the first N counted
// allocations to stderr (to find them; symbolize with addr2line or swift demangle).
static _Thread_local bool mk_tracing;

static void mk_trace(void) {
    static int limit = -1;
    if (limit < 0) {
        const char* text = getenv("MK_ALLOC_TRACE");
        limit = text ? atoi(text) : 0;
    }
    if ((int)mk_counted > limit || mk_tracing) return;
    mk_tracing = true;  // backtrace may allocate on its first call
    void* frames[24];
    const int n = backtrace(frames, 24);
    fprintf(stderr, "allocation %zu:\n", mk_counted);
    backtrace_symbols_fd(frames, n, 2);
    mk_tracing = false;
}

static inline void mk_count(void) {
    if (mk_counting_on && !mk_tracing) {
        mk_counted++;
        mk_trace();
    }
}

void* malloc(size_t size) {
    mk_count();
    return __libc_malloc(size);
}

void* calloc(size_t count, size_t size) {
    mk_count();
    return __libc_calloc(count, size);
}

void* realloc(void* pointer, size_t size) {
    mk_count();
    return __libc_realloc(pointer, size);
}

void* memalign(size_t alignment, size_t size) {
    mk_count();
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
    mk_count();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
    mk_count();
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void* p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}
#endif

bool mk_alloc_counting(void) {
#ifdef MK_COUNTING
    return true;
#else
    return false;
#endif
}

void mk_alloc_count(bool on) {
#ifdef MK_COUNTING
    mk_counting_on = on;
    if (on) mk_counted = 0;
#else
    (void)on;
#endif
}

size_t mk_alloc_counted(void) {
#ifdef MK_COUNTING
    return mk_counted;
#else
    return 0;
#endif
}
