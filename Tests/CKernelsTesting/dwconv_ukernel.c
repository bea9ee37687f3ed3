// Test-only: runs a catalogue f32_dwconv microkernel directly (see ckernels_testing.h).
#include "include/ckernels_testing.h"

#include "../../CKernels/configs/configs.h"

// The line of entry `index` when it is a depthwise microkernel the CPU runs.
static mk_status mk_testing_dwconv_line(size_t index, bool row, const mk_catalogue_line** line) {
    const mk_ukernel_info* info = mk_catalogue_entry(index);
    if (info == NULL || info->family != MK_FAMILY_F32_DWCONV || (info->kernel != 0) != row) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (!mk_variant_available(info->variant)) return MK_STATUS_UNSUPPORTED;
    *line = (const mk_catalogue_line*)info;  // an entry is the first field of its line
    return MK_STATUS_OK;
}

mk_status mk_testing_dwconv_row_ukernel(size_t index, size_t pixels, size_t nc,
                                        const float* const* rows, const size_t* row_step,
                                        size_t in_w, size_t pad_left, const float* weights,
                                        float* output, size_t output_step,
                                        mk_activation activation) {
    const mk_catalogue_line* line;
    mk_status status = mk_testing_dwconv_line(index, true, &line);
    if (status != MK_STATUS_OK) return status;
    if ((status = mk_activation_validate(activation)) != MK_STATUS_OK) return status;
    if (pixels == 0 || nc == 0 || nc > line->info.nr || in_w < line->info.kernel ||
        pad_left >= line->info.kernel) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_epilogue epilogue = mk_epilogue_from_activation(activation);
    ((mk_f32_dwconv_row_ukernel_fn)line->kernel)(pixels, nc, rows, row_step, in_w, pad_left,
                                                 weights, output, output_step, &epilogue);
    return MK_STATUS_OK;
}

mk_status mk_testing_dwconv_pixel_ukernel(size_t index, size_t channels, size_t taps,
                                          const float* const* inputs, const float* weights,
                                          float* output, mk_activation activation) {
    const mk_catalogue_line* line;
    mk_status status = mk_testing_dwconv_line(index, false, &line);
    if (status != MK_STATUS_OK) return status;
    if ((status = mk_activation_validate(activation)) != MK_STATUS_OK) return status;
    if (channels == 0 || taps == 0) return MK_STATUS_INVALID_ARGUMENT;
    const mk_epilogue epilogue = mk_epilogue_from_activation(activation);
    ((mk_f32_dwconv_pixel_ukernel_fn)line->kernel)(channels, taps, inputs, weights, output,
                                                   &epilogue);
    return MK_STATUS_OK;
}
