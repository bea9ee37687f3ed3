// The igemm microkernel body, written once over a small vector vocabulary that each ISA file
// defines before including this header:
//   mk_gm_vec, MK_GM_W (lanes), MK_GM_TARGET (target attribute or empty), mk_gm_zero(),
//   mk_gm_load(p) (W floats), mk_gm_load_n(p, n) / mk_gm_store_n(p, v, n) (first n lanes, n <= W,
//   nothing else touched), mk_gm_store(p, v), mk_gm_bcast(p) (*p in every lane),
//   mk_gm_fma(a, b, acc) = a * b + acc, mk_gm_add(a, b), mk_gm_epilogue(v, kind, lo, hi),
//   mk_gm_splat(x).
// See gemm.h for what a microkernel computes.


#define MK_GM_MAX_MR 8
#define MK_GM_MAX_NV 4

MK_GM_TARGET MK_INLINE void mk_gm_body(const int MR, const int NV, MK_IGEMM_ARGS,
                                       const mk_epilogue_kind kind) {
    mk_gm_vec acc[MK_GM_MAX_MR][MK_GM_MAX_NV];
    MK_UNROLL for (int m = 0; m < MR; m++) {
        MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_gm_zero();
    }
    for (size_t t = 0; t < ks; t++) {
        const float* ap[MK_GM_MAX_MR];
        MK_UNROLL for (int m = 0; m < MR; m++) ap[m] = a[t * (size_t)MR + (size_t)m];
#if defined(__clang__)
#pragma clang loop unroll_count(4)
#endif
        for (size_t k = 0; k < kc; k++) {
            mk_gm_vec b[NV];
            MK_UNROLL for (int v = 0; v < NV; v++) b[v] = mk_gm_load(w + v * MK_GM_W);
            w += NV * MK_GM_W;
            MK_UNROLL for (int m = 0; m < MR; m++) {
                const mk_gm_vec x = mk_gm_bcast(ap[m] + k);
                MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_gm_fma(x, b[v], acc[m][v]);
            }
        }
    }
    const mk_gm_vec lo = mk_gm_splat(tail->epilogue.min);
    const mk_gm_vec hi = mk_gm_splat(tail->epilogue.max);
    const bool full = nc == (size_t)(NV * MK_GM_W);
    MK_UNROLL for (int m = 0; m < MR; m++) {
        if ((size_t)m >= mr) break;
        float* row = c + (size_t)m * c_stride;
        const float* res =
            tail->residual != NULL ? tail->residual + (size_t)m * tail->residual_stride : NULL;
        MK_UNROLL for (int v = 0; v < NV; v++) {
            const size_t n0 = (size_t)v * MK_GM_W;
            mk_gm_vec x = acc[m][v];
            if (full || nc >= n0 + MK_GM_W) {
                if (tail->accumulate) {
                    x = mk_gm_add(mk_gm_load(row + n0), x);
                } else if (res != NULL) {
                    x = mk_gm_add(x, mk_gm_load(res + n0));
                }
                if (tail->last) {
                    if (tail->bias != NULL) x = mk_gm_add(x, mk_gm_load(tail->bias + n0));
                    x = mk_gm_epilogue(x, kind, lo, hi);
                }
                mk_gm_store(row + n0, x);
            } else if (nc > n0) {
                const size_t n = nc - n0;
                if (tail->accumulate) {
                    x = mk_gm_add(mk_gm_load_n(row + n0, n), x);
                } else if (res != NULL) {
                    x = mk_gm_add(x, mk_gm_load_n(res + n0, n));
                }
                if (tail->last) {
                    if (tail->bias != NULL) x = mk_gm_add(x, mk_gm_load(tail->bias + n0));
                    x = mk_gm_epilogue(x, kind, lo, hi);
                }
                mk_gm_store_n(row + n0, x, n);
            }
        }
    }
}

// The dense form (see gemm.h): per row tile, the `ntiles` column tiles in order, so each output
// row is written whole while its A rows sit in L1. Prefetches the next row tile's A rows while
// computing one, since each row is too short a stream for the hardware prefetcher.
MK_GM_TARGET MK_INLINE void mk_gm_dense_body(const int MR, const int NV, MK_GEMM_DENSE_ARGS,
                                             const mk_epilogue_kind kind) {
    const size_t NR = (size_t)(NV * MK_GM_W);
    mk_gemm_tail t = *tail;
    for (size_t i = 0; i < mtiles; i++) {
        const size_t mr = i + 1 == mtiles ? mr_last : (size_t)MR;
        const float* ap[MK_GM_MAX_MR];
        MK_UNROLL for (int m = 0; m < MR; m++) {
            ap[m] = a + ((size_t)m < mr ? (size_t)m : mr - 1) * a_stride;
        }
        if (i + 1 < mtiles) {
            const size_t next = i + 2 == mtiles ? mr_last : (size_t)MR;
            for (size_t m = 0; m < next; m++) {
                const char* row = (const char*)(a + ((size_t)MR + m) * a_stride);
                for (size_t b = 0; b < kc * sizeof(float); b += 64) __builtin_prefetch(row + b);
            }
        }
        for (size_t j = 0; j < ntiles; j++) {
            t.bias = tail->bias != NULL ? tail->bias + j * tail->bias_stride : NULL;
            t.residual = tail->residual != NULL
                             ? tail->residual + i * (size_t)MR * tail->residual_stride + j * NR
                             : NULL;
            mk_gm_body(MR, NV, mr, j + 1 == ntiles ? nc_last : NR, kc, 1, ap, w + j * w_stride,
                       c + j * NR, c_stride, &t, kind);
        }
        a += (size_t)MR * a_stride;
        c += (size_t)MR * c_stride;
    }
}

// The panels form (see gemm.h), for MR = 1.
MK_GM_TARGET MK_INLINE void mk_gm_panels_body(const int NV, MK_GEMM_PANELS_ARGS,
                                              const mk_epilogue_kind kind) {
    const size_t NR = (size_t)(NV * MK_GM_W);
    mk_gm_vec acc[MK_GEMM_PANELS][MK_GM_MAX_NV];
    MK_UNROLL for (int j = 0; j < MK_GEMM_PANELS; j++) {
        MK_UNROLL for (int v = 0; v < NV; v++) acc[j][v] = mk_gm_zero();
    }
    for (size_t k = 0; k < kc; k++) {
        const mk_gm_vec x = mk_gm_bcast(a + k);
        MK_UNROLL for (int j = 0; j < MK_GEMM_PANELS; j++) {
            const float* b = w + (size_t)j * w_stride + k * NR;
            MK_UNROLL for (int v = 0; v < NV; v++) {
                acc[j][v] = mk_gm_fma(x, mk_gm_load(b + v * MK_GM_W), acc[j][v]);
            }
        }
    }
    const mk_gm_vec lo = mk_gm_splat(tail->epilogue.min);
    const mk_gm_vec hi = mk_gm_splat(tail->epilogue.max);
    MK_UNROLL for (int j = 0; j < MK_GEMM_PANELS; j++) {
        float* row = c + (size_t)j * NR;
        const float* res = tail->residual != NULL ? tail->residual + (size_t)j * NR : NULL;
        const float* bias =
            tail->bias != NULL ? tail->bias + (size_t)j * tail->bias_stride : NULL;
        MK_UNROLL for (int v = 0; v < NV; v++) {
            const size_t n0 = (size_t)v * MK_GM_W;
            mk_gm_vec x = acc[j][v];
            if (tail->accumulate) {
                x = mk_gm_add(mk_gm_load(row + n0), x);
            } else if (res != NULL) {
                x = mk_gm_add(x, mk_gm_load(res + n0));
            }
            if (tail->last) {
                if (bias != NULL) x = mk_gm_add(x, mk_gm_load(bias + n0));
                x = mk_gm_epilogue(x, kind, lo, hi);
            }
            mk_gm_store(row + n0, x);
        }
    }
}

// Defines the four epilogue specializations of an MR x (NV * W) kernel and its table entry.
#define MK_GM_DEFINE(name, MR, NV)                                                          \
    MK_GM_TARGET __attribute__((noinline)) static void name##_identity(MK_IGEMM_ARGS) {      \
        mk_gm_body(MR, NV, mr, nc, kc, ks, a, w, c, c_stride, tail, MK_EPILOGUE_IDENTITY);   \
    }                                                                                       \
    MK_GM_TARGET __attribute__((noinline)) static void name##_minmax(MK_IGEMM_ARGS) {        \
        mk_gm_body(MR, NV, mr, nc, kc, ks, a, w, c, c_stride, tail, MK_EPILOGUE_MINMAX);     \
    }                                                                                       \
    MK_GM_TARGET __attribute__((noinline)) static void name##_hardswish(MK_IGEMM_ARGS) {     \
        mk_gm_body(MR, NV, mr, nc, kc, ks, a, w, c, c_stride, tail, MK_EPILOGUE_HARDSWISH);  \
    }                                                                                       \
    MK_GM_TARGET __attribute__((noinline)) static void name##_hardsigmoid(MK_IGEMM_ARGS) {   \
        mk_gm_body(MR, NV, mr, nc, kc, ks, a, w, c, c_stride, tail, MK_EPILOGUE_HARDSIGMOID);\
    }                                                                                       \
    MK_GM_DEFINE_DENSE(name, MR, NV, identity, MK_EPILOGUE_IDENTITY)                        \
    MK_GM_DEFINE_DENSE(name, MR, NV, minmax, MK_EPILOGUE_MINMAX)                            \
    MK_GM_DEFINE_DENSE(name, MR, NV, hardswish, MK_EPILOGUE_HARDSWISH)                      \
    MK_GM_DEFINE_DENSE(name, MR, NV, hardsigmoid, MK_EPILOGUE_HARDSIGMOID)                  \
    MK_GM_DEFINE_PANELS(name, NV, identity, MK_EPILOGUE_IDENTITY)                           \
    MK_GM_DEFINE_PANELS(name, NV, minmax, MK_EPILOGUE_MINMAX)                               \
    MK_GM_DEFINE_PANELS(name, NV, hardswish, MK_EPILOGUE_HARDSWISH)                         \
    MK_GM_DEFINE_PANELS(name, NV, hardsigmoid, MK_EPILOGUE_HARDSIGMOID)                     \
    const mk_igemm_kernel name = {                                                          \
        MR, (NV) * MK_GM_W, {name##_identity, name##_minmax, name##_hardswish, name##_hardsigmoid}, \
        {name##_dense_identity, name##_dense_minmax, name##_dense_hardswish,                \
         name##_dense_hardsigmoid},                                                         \
        {(MR) == 1 ? name##_panels_identity : NULL, (MR) == 1 ? name##_panels_minmax : NULL, \
         (MR) == 1 ? name##_panels_hardswish : NULL,                                        \
         (MR) == 1 ? name##_panels_hardsigmoid : NULL}};

// Panels functions exist for every tile (only one-row kernels list them: the table's NULL).
#define MK_GM_DEFINE_PANELS(name, NV, suffix, KIND)                                         \
    MK_GM_TARGET __attribute__((noinline)) static void name##_panels_##suffix(              \
        MK_GEMM_PANELS_ARGS) {                                                              \
        mk_gm_panels_body(NV, kc, a, w, w_stride, c, tail, KIND);                           \
    }

#define MK_GM_DEFINE_DENSE(name, MR, NV, suffix, KIND)                                     \
    MK_GM_TARGET __attribute__((noinline)) static void name##_dense_##suffix(               \
        MK_GEMM_DENSE_ARGS) {                                                               \
        mk_gm_dense_body(MR, NV, mtiles, mr_last, ntiles, nc_last, kc, a, a_stride, w, w_stride, c, \
                         c_stride, tail, KIND);  \
    }
