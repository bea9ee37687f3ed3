// Operator: softmax cross-entropy (PyTorch's CrossEntropyLoss, mean over the batch) and the
// logits' gradient, one row per image. A few values per image: one portable loop for every ISA
// (exp and log in float64 from libm, then rounded, so every variant and thread count gives the
// same bits), on the calling thread.
#include "../include/mk_training.h"
#include "../common/internal.h"

#include <math.h>

mk_status mk_softmax_cross_entropy_f32(size_t batch, size_t classes, const float* logits,
                                       const intptr_t* labels, float* logits_gradient,
                                       float* loss) {
    if (logits == NULL || labels == NULL || logits_gradient == NULL || loss == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    size_t count;
    if (batch == 0 || classes == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (!mk_size_mul(batch, classes, &count)) return MK_STATUS_SIZE_OVERFLOW;
    for (size_t b = 0; b < batch; b++) {
        if (labels[b] < 0 || (size_t)labels[b] >= classes) return MK_STATUS_INVALID_ARGUMENT;
    }
    if (mk_buffers_overlap(logits, count, logits_gradient, count) && logits != logits_gradient) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (mk_buffers_overlap(loss, 1, logits, count) || mk_buffers_overlap(loss, 1, logits_gradient, count)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const float n = (float)batch;
    float total = 0.0f;
    for (size_t b = 0; b < batch; b++) {
        const float* z = logits + b * classes;
        float* dz = logits_gradient + b * classes;
        // log-sum-exp from the row's maximum (NaN propagates: a NaN logit makes the row NaN).
        float top = z[0];
        for (size_t j = 1; j < classes; j++) {
            if (z[j] > top) top = z[j];
        }
        // Each exp once, kept in dz (z[j] is read before dz[j] is written: in place works).
        const size_t label = (size_t)labels[b];
        const float z_label = z[label];
        float sum = 0.0f;
        for (size_t j = 0; j < classes; j++) {
            dz[j] = (float)exp((double)(z[j] - top));
            sum += dz[j];
        }
        const float log_sum = (float)log((double)sum);
        const float row = -(z_label - top - log_sum);
        for (size_t j = 0; j < classes; j++) dz[j] = (dz[j] / sum - (j == label ? 1.0f : 0.0f)) / n;
        total += row;
    }
    *loss = total / n;
    return MK_STATUS_OK;
}
