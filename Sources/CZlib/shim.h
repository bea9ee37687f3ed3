// zlib (Debian's zlib1g-dev) for reading the data sets' .gz files. inflateInit2 is a macro, which
// Swift cannot call: mk_inflate_init_gzip wraps it for gzip streams (window bits 15 + 16).
#ifndef MK_CZLIB_SHIM_H
#define MK_CZLIB_SHIM_H

#include <zlib.h>

static inline int mk_inflate_init_gzip(z_stream* stream) {
    return inflateInit2(stream, 16 + MAX_WBITS);
}

#endif
