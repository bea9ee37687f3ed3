// mk_threadpool: one persistent pool of pthread workers and a tiled parallel-for.
//
// - A pool of N threads has N-1 workers; the calling thread does its share of the tiles.
// - Tiles are handed out one at a time from an atomic counter, so the assignment of tiles to
//   threads varies, but each tile is computed whole by one thread: operators keep their results
//   independent of the thread count by making every output element belong to exactly one tile.
// - N = 1 (or a NULL pool, or a single tile) runs every tile inline, in order, without any
//   synchronization.
// - Two callers submitting to one pool at once are serialized: the second waits until the first
//   parallel-for has finished. A parallel-for called from inside a task (any pool) runs inline.
// - Destroying a pool is safe while it is idle; destroying it while another thread is inside a
//   parallel-for on it is a caller error.
#ifndef MK_THREADPOOL_H
#define MK_THREADPOOL_H

#include "mk_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mk_threadpool mk_threadpool;

/// Creates a pool of `threads` threads (the caller counts as one). `threads` = 0 means one per
/// online CPU. At most 1024.
mk_status mk_threadpool_create(size_t threads, mk_threadpool** pool_out);

/// Stops and joins the workers and frees the pool. NULL is ignored.
void mk_threadpool_destroy(mk_threadpool* pool);

/// The number of threads of `pool` (1 for NULL).
size_t mk_threadpool_threads(const mk_threadpool* pool);

/// A 1D task: computes the items [start, start + count). `thread` is in [0, threads) and names the
/// thread running the tile (for per-thread scratch space; never for anything that changes results).
typedef void (*mk_task_1d)(void* context, size_t thread, size_t start, size_t count);

/// A 2D task: computes the items [i, i + count_i) x [j, j + count_j).
typedef void (*mk_task_2d)(void* context, size_t thread, size_t i, size_t j, size_t count_i,
                           size_t count_j);

/// Runs `task` over [0, range) in tiles of `tile` items (the last tile may be shorter). Returns
/// MK_STATUS_NULL_POINTER without running anything when `task` is NULL; tile 0 counts as 1;
/// range 0 runs nothing.
mk_status mk_threadpool_parallelize_1d(mk_threadpool* pool, mk_task_1d task, void* context,
                                       size_t range, size_t tile);

/// Runs `task` over [0, range_i) x [0, range_j) in tiles of tile_i x tile_j (edge tiles shorter).
mk_status mk_threadpool_parallelize_2d(mk_threadpool* pool, mk_task_2d task, void* context,
                                       size_t range_i, size_t range_j, size_t tile_i,
                                       size_t tile_j);

#ifdef __cplusplus
}
#endif

#endif
