// The shuffle loop, instantiated per ISA (see shuffle.h). Define MK_SH_TARGET and MK_SH_SUFFIX
// before including.
#define MK_SH_CAT2(a, b) a##b
#define MK_SH_CAT(a, b) MK_SH_CAT2(a, b)

MK_SH_TARGET MK_INLINE void mk_sh_body(const size_t G, size_t count, const float* restrict src,
                                       size_t group_stride, float* restrict dst) {
    for (size_t j = 0; j < count; j++) {
        for (size_t g = 0; g < G; g++) dst[j * G + g] = src[g * group_stride + j];
    }
}

#define MK_SH_DEFINE_G(G)                                                                      \
    MK_SH_TARGET static void MK_SH_CAT(mk_f32_shuffle_ukernel_x##G##__, MK_SH_SUFFIX)(          \
        size_t groups, size_t count, const float* src, size_t group_stride, float* dst) {      \
        (void)groups;                                                                          \
        mk_sh_body(G, count, src, group_stride, dst);                                          \
    }

MK_SH_TARGET static void MK_SH_CAT(mk_f32_shuffle_ukernel_xg__, MK_SH_SUFFIX)(
    size_t groups, size_t count, const float* src, size_t group_stride, float* dst) {
    mk_sh_body(groups, count, src, group_stride, dst);
}
MK_SH_DEFINE_G(2)
MK_SH_DEFINE_G(3)
MK_SH_DEFINE_G(4)
MK_SH_DEFINE_G(5)
MK_SH_DEFINE_G(6)
MK_SH_DEFINE_G(7)
MK_SH_DEFINE_G(8)

const mk_shuffle_kernels MK_SH_CAT(mk_f32_shuffle_ukernels__, MK_SH_SUFFIX) = {{
    MK_SH_CAT(mk_f32_shuffle_ukernel_xg__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_xg__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x2__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x3__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x4__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x5__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x6__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x7__, MK_SH_SUFFIX),
    MK_SH_CAT(mk_f32_shuffle_ukernel_x8__, MK_SH_SUFFIX),
}};
