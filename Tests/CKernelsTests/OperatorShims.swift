import CKernels

// One call per operator run, as most tests want it: create (where the test does not hold the
// operator), reshape (a plan on the stack), run, destroy. Each returns the first status that is
// not OK, so the error-path tests see every step's checks.

private func then(_ first: mk_status, _ next: () -> mk_status) -> mk_status {
    first == MK_STATUS_OK ? next() : first
}

func channelShuffleOnce(_ groups: Int, _ channels: Int, _ pixels: Int, _ x: UnsafePointer<Float>?, _ xStride: Int,
                        _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ variant: mk_variant,
                        _ pool: OpaquePointer?) -> mk_status {
    var op: OpaquePointer?
    defer { mk_channel_shuffle_f32_destroy(op) }
    var plan = mk_channel_shuffle_f32_plan()
    return then(mk_channel_shuffle_f32_create(groups, channels, variant, &op)) {
        then(mk_channel_shuffle_f32_reshape(op, pixels, xStride, yStride, pool, &plan)) {
            mk_channel_shuffle_f32_run(op, &plan, x, y, pool)
        }
    }
}

func addOnce(_ pixels: Int, _ channels: Int, _ a: UnsafePointer<Float>?, _ aStride: Int, _ b: UnsafePointer<Float>?,
             _ bStride: Int, _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ activation: mk_activation,
             _ variant: mk_variant, _ pool: OpaquePointer?) -> mk_status {
    var op: OpaquePointer?
    defer { mk_add_f32_destroy(op) }
    var plan = mk_add_f32_plan()
    return then(mk_add_f32_create(channels, activation, variant, &op)) {
        then(mk_add_f32_reshape(op, pixels, aStride, bStride, yStride, pool, &plan)) {
            mk_add_f32_run(op, &plan, a, b, y, pool)
        }
    }
}

/// Plans and runs a pooling operator the caller holds.
func poolRun(_ op: OpaquePointer?, _ batch: Int, _ h: Int, _ w: Int, _ x: UnsafePointer<Float>?, _ xStride: Int,
             _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ pool: OpaquePointer?) -> mk_status {
    var plan = mk_pool2d_f32_plan()
    return then(mk_pool2d_f32_reshape(op, batch, h, w, xStride, yStride, pool, &plan)) {
        mk_pool2d_f32_run(op, &plan, x, y, pool)
    }
}

private func poolOnce(_ create: (UnsafeMutablePointer<OpaquePointer?>) -> mk_status, _ batch: Int, _ h: Int,
                      _ w: Int, _ x: UnsafePointer<Float>?, _ xStride: Int, _ y: UnsafeMutablePointer<Float>?,
                      _ yStride: Int, _ pool: OpaquePointer?) -> mk_status {
    var op: OpaquePointer?
    defer { mk_pool2d_f32_destroy(op) }
    return then(create(&op)) { poolRun(op, batch, h, w, x, xStride, y, yStride, pool) }
}

func maxPoolOnce(_ params: UnsafePointer<mk_pool2d_params>?, _ batch: Int, _ h: Int, _ w: Int, _ channels: Int,
                 _ x: UnsafePointer<Float>?, _ xStride: Int, _ y: UnsafeMutablePointer<Float>?, _ yStride: Int,
                 _ variant: mk_variant, _ pool: OpaquePointer?) -> mk_status {
    poolOnce({ mk_max_pool2d_f32_create(params, channels, variant, $0) }, batch, h, w, x, xStride, y, yStride, pool)
}

func avgPoolOnce(_ params: UnsafePointer<mk_pool2d_params>?, _ batch: Int, _ h: Int, _ w: Int, _ channels: Int,
                 _ x: UnsafePointer<Float>?, _ xStride: Int, _ y: UnsafeMutablePointer<Float>?, _ yStride: Int,
                 _ variant: mk_variant, _ pool: OpaquePointer?) -> mk_status {
    poolOnce({ mk_avg_pool2d_f32_create(params, channels, variant, $0) }, batch, h, w, x, xStride, y, yStride, pool)
}

func globalAvgPoolOnce(_ batch: Int, _ h: Int, _ w: Int, _ channels: Int, _ x: UnsafePointer<Float>?, _ xStride: Int,
                       _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ variant: mk_variant,
                       _ pool: OpaquePointer?) -> mk_status {
    poolOnce({ mk_global_avg_pool_f32_create(channels, variant, $0) }, batch, h, w, x, xStride, y, yStride, pool)
}

func adaptiveAvgPoolOnce(_ batch: Int, _ h: Int, _ w: Int, _ channels: Int, _ outH: Int, _ outW: Int,
                         _ x: UnsafePointer<Float>?, _ xStride: Int, _ y: UnsafeMutablePointer<Float>?, _ yStride: Int,
                         _ variant: mk_variant, _ pool: OpaquePointer?) -> mk_status {
    poolOnce({ mk_adaptive_avg_pool2d_f32_create(channels, outH, outW, variant, $0) }, batch, h, w, x, xStride, y,
             yStride, pool)
}

func biasActivationRun(_ op: OpaquePointer?, _ pixels: Int, _ x: UnsafePointer<Float>?, _ xStride: Int,
                       _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ pool: OpaquePointer?) -> mk_status {
    var plan = mk_bias_activation_f32_plan()
    return then(mk_bias_activation_f32_reshape(op, pixels, xStride, yStride, pool, &plan)) {
        mk_bias_activation_f32_run(op, &plan, x, y, pool)
    }
}

func squeezeExcitationRun(_ op: OpaquePointer?, _ batch: Int, _ h: Int, _ w: Int, _ x: UnsafePointer<Float>?,
                          _ xStride: Int, _ y: UnsafeMutablePointer<Float>?, _ yStride: Int,
                          _ pool: OpaquePointer?) -> mk_status {
    var plan = mk_squeeze_excitation_f32_plan()
    return then(mk_squeeze_excitation_f32_reshape(op, batch, h, w, xStride, yStride, pool, &plan)) {
        mk_squeeze_excitation_f32_run(op, &plan, x, y, pool)
    }
}

func dwconvRun(_ op: OpaquePointer?, _ batch: Int, _ h: Int, _ w: Int, _ x: UnsafePointer<Float>?, _ xStride: Int,
               _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ pool: OpaquePointer?) -> mk_status {
    var plan = mk_dwconv2d_f32_plan()
    return then(mk_dwconv2d_f32_reshape(op, batch, h, w, xStride, yStride, pool, &plan)) {
        mk_dwconv2d_f32_run(op, &plan, x, y, pool)
    }
}
