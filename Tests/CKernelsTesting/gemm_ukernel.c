// Test-only: runs a catalogue f32_gemm microkernel directly (see ckernels_testing.h).
#include "include/ckernels_testing.h"

#include "../../CKernels/configs/configs.h"

static mk_status mk_testing_gemm_entry(size_t index, const mk_igemm_kernel** kernel) {
    const mk_ukernel_info* info = mk_catalogue_entry(index);
    if (info == NULL || info->family != MK_FAMILY_F32_GEMM) return MK_STATUS_INVALID_ARGUMENT;
    if (!mk_variant_available(info->variant)) return MK_STATUS_UNSUPPORTED;
    // An entry is the first field of its table line (configs.h), so the line is at its address.
    *kernel = ((const mk_catalogue_line*)info)->kernel;
    return MK_STATUS_OK;
}

mk_status mk_testing_gemm_ukernel(size_t index, size_t mr, size_t nc, size_t kc, size_t ks,
                                  const float* const* a, const float* w, float* c,
                                  size_t c_stride, const float* bias, const float* residual,
                                  size_t residual_stride, bool accumulate, bool last,
                                  mk_activation activation) {
    const mk_igemm_kernel* k;
    mk_status status = mk_testing_gemm_entry(index, &k);
    if (status != MK_STATUS_OK) return status;
    if ((status = mk_activation_validate(activation)) != MK_STATUS_OK) return status;
    if (mr == 0 || mr > k->mr || nc == 0 || nc > k->nr || kc == 0 || ks == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_gemm_tail tail = {accumulate, last, bias, residual, residual_stride, 0,
                               mk_epilogue_from_activation(activation)};
    k->fn[tail.epilogue.kind](mr, nc, kc, ks, a, w, c, c_stride, &tail);
    return MK_STATUS_OK;
}

mk_status mk_testing_gemm_dense_ukernel(size_t index, size_t mtiles, size_t mr_last,
                                        size_t ntiles, size_t nc_last, size_t kc, const float* a,
                                        size_t a_stride, const float* w, size_t w_stride,
                                        float* c, size_t c_stride, const float* bias,
                                        const float* residual, size_t residual_stride,
                                        bool accumulate, bool last, mk_activation activation) {
    const mk_igemm_kernel* k;
    mk_status status = mk_testing_gemm_entry(index, &k);
    if (status != MK_STATUS_OK) return status;
    if ((status = mk_activation_validate(activation)) != MK_STATUS_OK) return status;
    if (mtiles == 0 || mr_last == 0 || mr_last > k->mr || ntiles == 0 || nc_last == 0 ||
        nc_last > k->nr || kc == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_gemm_tail tail = {accumulate, last, bias, residual, residual_stride, k->nr,
                               mk_epilogue_from_activation(activation)};
    k->dense[tail.epilogue.kind](mtiles, mr_last, ntiles, nc_last, kc, a, a_stride, w, w_stride,
                                 c, c_stride, &tail);
    return MK_STATUS_OK;
}
