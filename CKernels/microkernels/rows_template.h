// The channel-row loop vocabulary shared by the pool, vbinary and fc templates: portable C with
// the block widths compile-time constants, so the compiler keeps a block's accumulators in vector
// registers and never reorders the per-channel arithmetic. Each family's per-ISA file includes a
// rows_<isa>.h first, which defines:
//   MK_PL_TARGET  the function target attribute (or nothing),
//   MK_PL_SUFFIX  the ISA suffix of the names (scalar, avx2, avx512, neon),
//   MK_PL_VEC     floats per vector register (a literal),
//   MK_PL_BLOCK   channels accumulated in registers per step, 4 vectors (a literal),
//   MK_PL_FC_BLOCK outputs of the fully connected kernel accumulated per pass over the weights
//                 (as many vectors as the registers hold: a weight row is read in one long run,
//                 not in 4-vector pieces, which matters when the weights come from memory),
//   MK_PL_TAIL    a loop pragma for the last < MK_PL_VEC channels (predication), or nothing.
#ifndef MK_ROWS_TEMPLATE_H
#define MK_ROWS_TEMPLATE_H
#include "epilogue_scalar.h"

#include <math.h>

#define MK_PL_CAT2(a, b) a##b
#define MK_PL_CAT(a, b) MK_PL_CAT2(a, b)
#define MK_PL_NAME3(op, block, isa) mk_f32_##op##_ukernel_##block##c__##isa
#define MK_PL_NAME2(op, block, isa) MK_PL_NAME3(op, block, isa)
#define MK_PL_NAME(op) MK_PL_NAME2(op, MK_PL_BLOCK, MK_PL_SUFFIX)

// Calls CALL(KIND) with the epilogue kind as a compile-time constant.
#define MK_PL_SPECIALIZE(kind, CALL)                             \
    switch (kind) {                                              \
        case MK_EPILOGUE_IDENTITY: CALL(MK_EPILOGUE_IDENTITY); break;       \
        case MK_EPILOGUE_MINMAX: CALL(MK_EPILOGUE_MINMAX); break;           \
        case MK_EPILOGUE_HARDSWISH: CALL(MK_EPILOGUE_HARDSWISH); break;     \
        case MK_EPILOGUE_HARDSIGMOID: CALL(MK_EPILOGUE_HARDSIGMOID); break; \
    }

// Runs STMT for every channel index `i` in [0, n): blocks of MK_PL_BLOCK, then of MK_PL_VEC
// (constant trip counts: whole vectors), then the predicated tail.
#define MK_PL_CHANNELS(n, STMT)                                                        \
    do {                                                                               \
        size_t mk_pl_c = 0;                                                            \
        for (; mk_pl_c + MK_PL_BLOCK <= (n); mk_pl_c += MK_PL_BLOCK) {                 \
            for (size_t mk_pl_k = 0; mk_pl_k < MK_PL_BLOCK; mk_pl_k++) {               \
                const size_t i = mk_pl_c + mk_pl_k;                                    \
                STMT;                                                                  \
            }                                                                          \
        }                                                                              \
        for (; mk_pl_c + MK_PL_VEC <= (n); mk_pl_c += MK_PL_VEC) {                     \
            for (size_t mk_pl_k = 0; mk_pl_k < MK_PL_VEC; mk_pl_k++) {                 \
                const size_t i = mk_pl_c + mk_pl_k;                                    \
                STMT;                                                                  \
            }                                                                          \
        }                                                                              \
        MK_PL_TAIL for (size_t i = mk_pl_c; i < (n); i++) { STMT; }                    \
    } while (0)

// Runs BLOCK(W, c) over the channel blocks of a reduction: blocks of MK_PL_BLOCK and MK_PL_VEC
// channels from c = 0, then the last vector ending at the last channel (overlapping the one
// before: a reduction writes the same sums again), or TAIL(n, c) below one vector of channels.
#define MK_PL_REDUCTION_BLOCKS(channels, BLOCK, TAIL)                  \
    do {                                                               \
        size_t mk_c = 0;                                               \
        for (; mk_c + MK_PL_BLOCK <= (channels); mk_c += MK_PL_BLOCK) { \
            BLOCK(MK_PL_BLOCK, mk_c);                                  \
        }                                                              \
        for (; mk_c + MK_PL_VEC <= (channels); mk_c += MK_PL_VEC) {    \
            BLOCK(MK_PL_VEC, mk_c);                                    \
        }                                                              \
        if (mk_c < (channels) && (channels) >= MK_PL_VEC) {            \
            BLOCK(MK_PL_VEC, (channels) - MK_PL_VEC);                  \
        } else if (mk_c < (channels)) {                                \
            TAIL((channels) - mk_c, mk_c);                             \
        }                                                              \
    } while (0)

#endif
