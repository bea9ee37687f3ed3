// mk_threadpool: persistent pthread workers, tiles handed out from an atomic counter.
//
// Protocol: the submitter (holding `submit`) publishes a task and bumps `generation` under
// `mutex`, then broadcasts `wake`. Each worker runs the tiles of its share, then those left in
// the others' shares (mk_run_tiles), then decrements `active`; the last one signals `done`. The submitter runs tiles too, then waits
// for `active` to reach zero, so a task never outlives its parallel-for call. Workers and the
// submitter spin briefly (MK_SPIN_NS) before sleeping: back-to-back layers of a model then cost
// no futex round trip, and an idle pool still sleeps. The spin yields the CPU instead of using
// PAUSE: under KVM, a PAUSE loop triggers pause-loop exiting, which deschedules the spinning vCPU
// and made two threads 5x slower than one on memory-bound kernels (measured on this machine).
#define _POSIX_C_SOURCE 200809L  // posix_memalign, clock_gettime under strict -std=c11
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <sched.h>
#include <time.h>

#define MK_MAX_THREADS 1024
#define MK_SPIN_NS 200000  // 0.2 ms

static uint64_t mk_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// A thread's share of a task's tiles: it claims tiles from `next` up to `end`, then claims from
// the other threads' shares (a 64-byte line each, so claims do not contend for one line).
typedef struct mk_share {
    _Atomic size_t next;
    size_t end;
    char pad[64 - sizeof(size_t) - sizeof(_Atomic size_t)];
} mk_share;

typedef struct mk_worker {
    struct mk_threadpool* pool;
    size_t index;
    pthread_t thread;
} mk_worker;

struct mk_threadpool {
    size_t threads;
    mk_worker* workers;  // threads - 1 of them
    size_t started;      // workers actually started

    pthread_mutex_t submit;  // serializes submitters
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    pthread_cond_t done;
    _Atomic uint64_t generation;
    _Atomic size_t active;
    mk_share* shares;  // one per thread
    _Atomic bool shutdown;  // set under mutex

    // The task being run (valid while active).
    mk_task_1d task_1d;
    mk_task_2d task_2d;
    void* context;
    size_t range_i, range_j, tile_i, tile_j, tiles_j, tiles;
};

// Set while a thread runs tiles of any pool: nested parallel-for calls then run inline.
static _Thread_local bool mk_in_task = false;

static void mk_run_tile(struct mk_threadpool* pool, size_t thread, size_t tile) {
    if (pool->task_1d) {
        size_t start = tile * pool->tile_i;
        size_t count = pool->range_i - start < pool->tile_i ? pool->range_i - start : pool->tile_i;
        pool->task_1d(pool->context, thread, start, count);
    } else {
        size_t ti = tile / pool->tiles_j, tj = tile % pool->tiles_j;
        size_t i = ti * pool->tile_i, j = tj * pool->tile_j;
        size_t ci = pool->range_i - i < pool->tile_i ? pool->range_i - i : pool->tile_i;
        size_t cj = pool->range_j - j < pool->tile_j ? pool->range_j - j : pool->tile_j;
        pool->task_2d(pool->context, thread, i, j, ci, cj);
    }
}

// Thread t's share is the t-th contiguous slice of the tiles, so consecutive layers split the
// same way (pixel-major tiles: the same rows) give each thread the rows it wrote in the layer
// before, still in its own cache; a thread that finishes its share early takes tiles from the
// others' (which thread runs a tile never changes what the tile computes).
static void mk_run_tiles(struct mk_threadpool* pool, size_t thread) {
    for (size_t k = 0; k < pool->threads; k++) {
        mk_share* share = &pool->shares[(thread + k) % pool->threads];
        for (;;) {
            size_t tile = atomic_fetch_add_explicit(&share->next, 1, memory_order_relaxed);
            if (tile >= share->end) break;
            mk_run_tile(pool, thread, tile);
        }
    }
}

static void* mk_worker_main(void* argument) {
    mk_worker* worker = argument;
    struct mk_threadpool* pool = worker->pool;
    mk_in_task = true;
    uint64_t seen = 0;
    for (;;) {
        uint64_t generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (generation == seen) {
            const uint64_t start = mk_now_ns();
            do {
                sched_yield();
                generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
            } while (generation == seen && mk_now_ns() - start < MK_SPIN_NS);
        }
        if (generation == seen) {
            pthread_mutex_lock(&pool->mutex);
            while ((generation = atomic_load_explicit(&pool->generation,
                                                      memory_order_acquire)) == seen &&
                   !atomic_load_explicit(&pool->shutdown, memory_order_relaxed)) {
                pthread_cond_wait(&pool->wake, &pool->mutex);
            }
            pthread_mutex_unlock(&pool->mutex);
        }
        seen = generation;
        if (atomic_load_explicit(&pool->shutdown, memory_order_acquire)) break;
        mk_run_tiles(pool, worker->index);
        if (atomic_fetch_sub_explicit(&pool->active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

static void mk_stop_workers(struct mk_threadpool* pool) {
    pthread_mutex_lock(&pool->mutex);
    atomic_store_explicit(&pool->shutdown, true, memory_order_release);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 0; i < pool->started; i++) pthread_join(pool->workers[i].thread, NULL);
}

static void mk_free_pool(struct mk_threadpool* pool) {
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    pthread_mutex_destroy(&pool->submit);
    free(pool->workers);
    mk_aligned_free(pool->shares);
    free(pool);
}

mk_status mk_threadpool_create(size_t threads, mk_threadpool** pool_out) {
    if (pool_out == NULL) return MK_STATUS_NULL_POINTER;
    *pool_out = NULL;
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (size_t)online : 1;
        if (threads > MK_MAX_THREADS) threads = MK_MAX_THREADS;
    }
    if (threads > MK_MAX_THREADS) return MK_STATUS_INVALID_ARGUMENT;

    struct mk_threadpool* pool = calloc(1, sizeof *pool);
    if (pool == NULL) return MK_STATUS_OUT_OF_MEMORY;
    pool->threads = threads;
    pool->shares = mk_aligned_alloc(threads * sizeof(mk_share));
    if (pool->shares == NULL) {
        free(pool);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    if (threads > 1) {
        pool->workers = calloc(threads - 1, sizeof *pool->workers);
        if (pool->workers == NULL) {
            mk_aligned_free(pool->shares);
            free(pool);
            return MK_STATUS_OUT_OF_MEMORY;
        }
    }
    pthread_mutex_init(&pool->submit, NULL);
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->active, 0);
    for (size_t i = 0; i < threads; i++) {
        atomic_init(&pool->shares[i].next, 0);
        pool->shares[i].end = 0;
    }
    atomic_init(&pool->shutdown, false);

    for (size_t i = 0; i + 1 < threads; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].index = i + 1;
        if (pthread_create(&pool->workers[i].thread, NULL, mk_worker_main, &pool->workers[i]) !=
            0) {
            mk_stop_workers(pool);
            mk_free_pool(pool);
            return MK_STATUS_THREAD_ERROR;
        }
        pool->started++;
    }
    *pool_out = pool;
    return MK_STATUS_OK;
}

void mk_threadpool_destroy(mk_threadpool* pool) {
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->submit);  // wait for a running parallel-for, if any
    mk_stop_workers(pool);
    pthread_mutex_unlock(&pool->submit);
    mk_free_pool(pool);
}

size_t mk_threadpool_threads(const mk_threadpool* pool) { return pool ? pool->threads : 1; }

// Runs the published task on all threads; the caller holds `submit`.
static void mk_dispatch(struct mk_threadpool* pool) {
    pthread_mutex_lock(&pool->mutex);
    for (size_t t = 0; t < pool->threads; t++) {
        atomic_store_explicit(&pool->shares[t].next, pool->tiles * t / pool->threads,
                              memory_order_relaxed);
        pool->shares[t].end = pool->tiles * (t + 1) / pool->threads;
    }
    atomic_store_explicit(&pool->active, pool->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);

    mk_in_task = true;
    mk_run_tiles(pool, 0);
    mk_in_task = false;

    const uint64_t start = mk_now_ns();
    while (atomic_load_explicit(&pool->active, memory_order_acquire) != 0) {
        if (mk_now_ns() - start >= MK_SPIN_NS) break;
        sched_yield();
    }
    if (atomic_load_explicit(&pool->active, memory_order_acquire) == 0) return;
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load_explicit(&pool->active, memory_order_acquire) != 0) {
        pthread_cond_wait(&pool->done, &pool->mutex);
    }
    pthread_mutex_unlock(&pool->mutex);
}

static size_t mk_tile_count(size_t range, size_t tile) { return range / tile + (range % tile != 0); }

mk_status mk_threadpool_parallelize_1d(mk_threadpool* pool, mk_task_1d task, void* context,
                                       size_t range, size_t tile) {
    if (task == NULL) return MK_STATUS_NULL_POINTER;
    if (tile == 0) tile = 1;
    if (range == 0) return MK_STATUS_OK;
    size_t tiles = mk_tile_count(range, tile);
    if (pool == NULL || pool->threads == 1 || tiles == 1 || mk_in_task) {
        for (size_t start = 0; start < range; start += tile) {
            task(context, 0, start, range - start < tile ? range - start : tile);
        }
        return MK_STATUS_OK;
    }
    pthread_mutex_lock(&pool->submit);
    pool->task_1d = task;
    pool->task_2d = NULL;
    pool->context = context;
    pool->range_i = range;
    pool->tile_i = tile;
    pool->range_j = pool->tile_j = pool->tiles_j = 1;
    pool->tiles = tiles;
    mk_dispatch(pool);
    pthread_mutex_unlock(&pool->submit);
    return MK_STATUS_OK;
}

mk_status mk_threadpool_parallelize_2d(mk_threadpool* pool, mk_task_2d task, void* context,
                                       size_t range_i, size_t range_j, size_t tile_i,
                                       size_t tile_j) {
    if (task == NULL) return MK_STATUS_NULL_POINTER;
    if (tile_i == 0) tile_i = 1;
    if (tile_j == 0) tile_j = 1;
    if (range_i == 0 || range_j == 0) return MK_STATUS_OK;
    size_t tiles_i = mk_tile_count(range_i, tile_i), tiles_j = mk_tile_count(range_j, tile_j);
    size_t tiles;
    if (!mk_size_mul(tiles_i, tiles_j, &tiles)) return MK_STATUS_SIZE_OVERFLOW;
    if (pool == NULL || pool->threads == 1 || tiles == 1 || mk_in_task) {
        for (size_t i = 0; i < range_i; i += tile_i) {
            size_t ci = range_i - i < tile_i ? range_i - i : tile_i;
            for (size_t j = 0; j < range_j; j += tile_j) {
                task(context, 0, i, j, ci, range_j - j < tile_j ? range_j - j : tile_j);
            }
        }
        return MK_STATUS_OK;
    }
    pthread_mutex_lock(&pool->submit);
    pool->task_1d = NULL;
    pool->task_2d = task;
    pool->context = context;
    pool->range_i = range_i;
    pool->range_j = range_j;
    pool->tile_i = tile_i;
    pool->tile_j = tile_j;
    pool->tiles_j = tiles_j;
    pool->tiles = tiles;
    mk_dispatch(pool);
    pthread_mutex_unlock(&pool->submit);
    return MK_STATUS_OK;
}
