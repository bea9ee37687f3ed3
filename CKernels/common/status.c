#include "internal.h"

const char* mk_status_string(mk_status status) {
    switch (status) {
        case MK_STATUS_OK: return "ok";
        case MK_STATUS_NULL_POINTER: return "null pointer";
        case MK_STATUS_INVALID_ARGUMENT: return "invalid argument";
        case MK_STATUS_SHAPE_MISMATCH: return "shape mismatch";
        case MK_STATUS_SIZE_OVERFLOW: return "size overflow";
        case MK_STATUS_UNSUPPORTED: return "unsupported variant";
        case MK_STATUS_OUT_OF_MEMORY: return "out of memory";
        case MK_STATUS_THREAD_ERROR: return "thread creation failed";
    }
    return "unknown status";
}
