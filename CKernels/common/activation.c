#include "internal.h"

#include <math.h>

mk_status mk_activation_validate(mk_activation activation) {
    switch (activation.kind) {
        case MK_ACTIVATION_NONE:
        case MK_ACTIVATION_RELU:
        case MK_ACTIVATION_RELU6:
        case MK_ACTIVATION_HARDSWISH:
        case MK_ACTIVATION_HARDSIGMOID:
            return MK_STATUS_OK;
        case MK_ACTIVATION_CLAMP:
            if (isnan(activation.min) || isnan(activation.max) || activation.min > activation.max) {
                return MK_STATUS_INVALID_ARGUMENT;
            }
            return MK_STATUS_OK;
    }
    return MK_STATUS_INVALID_ARGUMENT;
}

mk_epilogue mk_epilogue_from_activation(mk_activation activation) {
    mk_epilogue e = {MK_EPILOGUE_IDENTITY, -INFINITY, INFINITY};
    switch (activation.kind) {
        case MK_ACTIVATION_NONE: break;
        case MK_ACTIVATION_RELU: e.kind = MK_EPILOGUE_MINMAX; e.min = 0.0f; break;
        case MK_ACTIVATION_RELU6: e.kind = MK_EPILOGUE_MINMAX; e.min = 0.0f; e.max = 6.0f; break;
        case MK_ACTIVATION_HARDSWISH: e.kind = MK_EPILOGUE_HARDSWISH; break;
        case MK_ACTIVATION_HARDSIGMOID: e.kind = MK_EPILOGUE_HARDSIGMOID; break;
        case MK_ACTIVATION_CLAMP:
            e.kind = MK_EPILOGUE_MINMAX;
            e.min = activation.min;
            e.max = activation.max;
            break;
    }
    return e;
}
