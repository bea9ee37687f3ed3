// The benchmarks executable's allocation counter (alloc_count.c).
#ifndef MK_ALLOC_COUNT_H
#define MK_ALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

/// Whether this executable counts allocations (glibc, no AddressSanitizer).
bool mk_alloc_counting(void);
/// Starts (resetting the count) or stops counting the calling thread's malloc, calloc, realloc
/// and aligned allocations.
void mk_alloc_count(bool on);
/// The calling thread's allocations since counting started.
size_t mk_alloc_counted(void);

#endif
