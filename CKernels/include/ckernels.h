// CKernels: the whole C ABI of MobileKernels (umbrella header).
//
// Conventions (see DESIGN.md):
// - activations are NHWC float32, channels contiguous; weights arrive in PyTorch layout and are
//   packed by each operator at create time;
// - every entry point validates its arguments and returns an mk_status; nothing aborts;
// - operators follow create / run / destroy; `run` never allocates;
// - results never depend on the thread count.
#ifndef CKERNELS_H
#define CKERNELS_H

#include "mk_base.h"
#include "mk_threadpool.h"
#include "mk_activation.h"
#include "mk_dwconv.h"
#include "mk_conv.h"
#include "mk_qs8.h"
#include "mk_shuffle.h"
#include "mk_pool.h"
#include "mk_squeeze_excitation.h"
#include "mk_add.h"
#include "mk_catalogue.h"
#include "mk_training.h"

#endif
