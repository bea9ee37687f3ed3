import CKernels
import Testing

/// The training operators' (mk_training.h) argument checks: every bad call returns its status
/// and writes nothing.
@Suite("Training operators reject bad arguments")
struct TrainingErrorTests {
    let relu = mk_activation(kind: MK_ACTIVATION_RELU, min: 0, max: 0)

    @Test func batchNormCreateAndReshape() {
        var op: OpaquePointer?
        #expect(mk_batchnorm_train_f32_create(4, 1e-5, relu, MK_VARIANT_AUTO, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_batchnorm_train_f32_create(0, 1e-5, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_create(4, -1, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_create(4, .nan, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_create(4, .infinity, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_create(Int.max, 1e-5, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_SIZE_OVERFLOW)
        #expect(mk_batchnorm_train_f32_create(4, 1e-5, relu, MK_VARIANT_BLIS, &op) == MK_STATUS_UNSUPPORTED)
        for variant in [MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_NEON] where !mk_variant_available(variant) {
            #expect(mk_batchnorm_train_f32_create(4, 1e-5, relu, variant, &op) == MK_STATUS_UNSUPPORTED)
            #expect(mk_activation_backward_f32_create(4, relu, variant, &op) == MK_STATUS_UNSUPPORTED)
        }
        #expect(op == nil)
        #expect(mk_batchnorm_train_f32_create(4, 1e-5, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_batchnorm_train_f32_destroy(op) }
        var plan = mk_batchnorm_train_f32_plan()
        #expect(mk_batchnorm_train_f32_reshape(op, 1, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_reshape(op, 8, 3, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_reshape(op, Int.max / 2, 0, 0, nil, &plan) == MK_STATUS_SIZE_OVERFLOW)
        #expect(mk_batchnorm_train_f32_reshape(op, 8, 0, 0, nil, nil) == MK_STATUS_NULL_POINTER)
        mk_batchnorm_train_f32_destroy(nil)
    }

    @Test func transpose() {
        var src: [Float] = [1, 2, 3, 4, 5, 6], dst = [Float](repeating: 9, count: 6)
        let bias: [Float] = [10, 20]
        let none = mk_activation(kind: MK_ACTIVATION_NONE, min: 0, max: 0)
        let bad = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 1, max: 0)
        src.withUnsafeMutableBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                let (sp, dp) = (s.baseAddress!, d.baseAddress!)
                #expect(mk_transpose_f32(2, 3, nil, 3, nil, none, dp, 2, nil) == MK_STATUS_NULL_POINTER)
                #expect(mk_transpose_f32(2, 3, sp, 3, nil, none, nil, 2, nil) == MK_STATUS_NULL_POINTER)
                #expect(mk_transpose_f32(0, 3, sp, 3, nil, none, dp, 2, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_transpose_f32(2, 0, sp, 3, nil, none, dp, 2, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_transpose_f32(2, 3, sp, 2, nil, none, dp, 2, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_transpose_f32(2, 3, sp, 3, nil, none, dp, 1, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_transpose_f32(2, 3, sp, 3, nil, bad, dp, 2, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_transpose_f32(2, 3, sp, 3, nil, none, sp + 1, 2, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_transpose_f32(2, Int.max / 2, sp, Int.max / 2, nil, none, dp, 2, nil) == MK_STATUS_SIZE_OVERFLOW)
            }
        }
        #expect(dst == [Float](repeating: 9, count: 6), "a rejected call wrote")
        #expect(src == [1, 2, 3, 4, 5, 6], "a rejected call wrote its source")
        // dst[c][r] = relu(src[r][c] + bias[r]).
        let relu = mk_activation(kind: MK_ACTIVATION_RELU, min: 0, max: 0)
        src = [1, -2, 3, -40, 5, -60]
        #expect(mk_transpose_f32(2, 3, src, 3, bias, relu, &dst, 2, nil) == MK_STATUS_OK)
        #expect(dst == [11, 0, 8, 25, 13, 0])
    }

    @Test("mk_transpose_f32 on 2 threads with strides, a bias and hardswish: a naive loop's bits; gaps untouched")
    func transposeThreaded() throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        let (rows, cols, ss, ds) = (300, 45, 47, 303)
        var state: UInt32 = 12345
        func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int(state >> 8) % 2001 - 1000) / 100
        }
        let src = (0..<(rows * ss)).map { _ in next() }, bias = (0..<rows).map { _ in next() }
        let hardswish = mk_activation(kind: MK_ACTIVATION_HARDSWISH, min: 0, max: 0)
        let sentinel: Float = -7777
        var dst = [Float](repeating: sentinel, count: cols * ds)
        #expect(mk_transpose_f32(rows, cols, src, ss, bias, hardswish, &dst, ds, pool) == MK_STATUS_OK)
        var mismatches = 0, stray = 0
        for c in 0..<cols {
            for r in 0..<ds {
                let got = dst[c * ds + r]
                if r >= rows {
                    if got.bitPattern != sentinel.bitPattern { stray += 1 }
                    continue
                }
                let x = src[r * ss + c] + bias[r]
                let want = (x * min(max(x + 3, 0), 6)) * Float(1.0 / 6.0)
                if got.bitPattern != want.bitPattern { mismatches += 1 }
            }
        }
        #expect(mismatches == 0 && stray == 0, "\(mismatches) values differ, \(stray) gap floats written")
    }

    @Test("weight-gradient GEMM wider than tall (threads split its columns): 2 threads, in two accumulated calls, give one call's bits on 1")
    func weightGradientColumns() throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var state: UInt32 = 99
        func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int(state >> 8) % 2001 - 1000) / 1000
        }
        for (m, n) in [(5, 300), (1, 9), (3, 100), (2, 129)] {
            let pixels = 37, lda = m + 2, ldb = n + 1
            let a = (0..<(pixels * lda)).map { _ in next() }, b = (0..<(pixels * ldb)).map { _ in next() }
            var one = [Float](repeating: 0, count: m * n), oneBias = [Float](repeating: 0, count: m)
            #expect(mk_weight_gradient_f32(pixels, m, n, a, lda, b, ldb, &one, n, &oneBias, false, nil, 0, MK_VARIANT_AUTO, nil) == MK_STATUS_OK)
            var two = [Float](repeating: 5, count: m * n), twoBias = [Float](repeating: 5, count: m)
            #expect(mk_weight_gradient_f32(20, m, n, a, lda, b, ldb, &two, n, &twoBias, false, nil, 0, MK_VARIANT_AUTO, pool) == MK_STATUS_OK)
            a.withUnsafeBufferPointer { av in
                b.withUnsafeBufferPointer { bv in
                    #expect(mk_weight_gradient_f32(pixels - 20, m, n, av.baseAddress! + 20 * lda, lda, bv.baseAddress! + 20 * ldb, ldb,
                                                   &two, n, &twoBias, true, nil, 0, MK_VARIANT_AUTO, pool) == MK_STATUS_OK)
                }
            }
            #expect(one.map(\.bitPattern) == two.map(\.bitPattern), "\(m) x \(n): weights")
            #expect(oneBias.map(\.bitPattern) == twoBias.map(\.bitPattern), "\(m) x \(n): bias")
            // Against float64.
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for p in 0..<pixels { sum += Double(a[p * lda + i]) * Double(b[p * ldb + j]) }
                    worst = max(worst, abs(Double(one[i * n + j]) - sum))
                }
            }
            #expect(worst <= 1e-5, "\(m) x \(n): error \(worst)")
        }
    }

    @Test func batchNormRun() throws {
        var op: OpaquePointer?
        try #require(mk_batchnorm_train_f32_create(4, 1e-5, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_batchnorm_train_f32_destroy(op) }
        var plan = mk_batchnorm_train_f32_plan()
        try #require(mk_batchnorm_train_f32_reshape(op, 8, 0, 0, nil, &plan) == MK_STATUS_OK)
        #expect(plan.workspace_bytes > 0)
        let workspace = try #require(mk_aligned_alloc(plan.workspace_bytes + 64))
        defer { mk_aligned_free(workspace) }
        var x = [Float](repeating: 1, count: 64), y = [Float](repeating: 7, count: 64)
        let gamma = [Float](repeating: 1, count: 4), beta = gamma
        var mean = [Float](repeating: 0, count: 4), variance = mean, invStd = mean
        // No workspace, a misaligned one.
        #expect(mk_batchnorm_train_f32_forward(op, &plan, x, gamma, beta, &y, &mean, &variance, &invStd, nil) == MK_STATUS_INVALID_ARGUMENT)
        plan.workspace = workspace + 4
        #expect(mk_batchnorm_train_f32_forward(op, &plan, x, gamma, beta, &y, &mean, &variance, &invStd, nil) == MK_STATUS_INVALID_ARGUMENT)
        plan.workspace = workspace
        #expect(mk_batchnorm_train_f32_forward(op, &plan, nil, gamma, beta, &y, &mean, &variance, &invStd, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_batchnorm_train_f32_forward(op, &plan, x, gamma, beta, &y, nil, &variance, &invStd, nil) == MK_STATUS_NULL_POINTER)
        #expect(y.allSatisfy { $0 == 7 })
        // y overlapping x without being it.
        let status = x.withUnsafeMutableBufferPointer { p in
            mk_batchnorm_train_f32_forward(op, &plan, p.baseAddress!, gamma, beta, p.baseAddress! + 1, &mean, &variance, &invStd, nil)
        }
        #expect(status == MK_STATUS_INVALID_ARGUMENT)
        // A plan of another operator.
        var other: OpaquePointer?
        try #require(mk_batchnorm_train_f32_create(4, 1e-5, relu, MK_VARIANT_AUTO, &other) == MK_STATUS_OK)
        defer { mk_batchnorm_train_f32_destroy(other) }
        #expect(mk_batchnorm_train_f32_forward(other, &plan, x, gamma, beta, &y, &mean, &variance, &invStd, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_train_f32_forward(op, &plan, x, gamma, beta, &y, &mean, &variance, &invStd, nil) == MK_STATUS_OK)
        var dGamma = mean, dBeta = mean, dx = [Float](repeating: 7, count: 64)
        #expect(mk_batchnorm_train_f32_backward(op, &plan, x, y, gamma, beta, mean, invStd, &dx, nil, &dBeta, nil) == MK_STATUS_NULL_POINTER)
        // dx over x, dx over dy shifted by one.
        let overX = x.withUnsafeMutableBufferPointer { p in
            mk_batchnorm_train_f32_backward(op, &plan, p.baseAddress!, y, gamma, beta, mean, invStd, p.baseAddress!, &dGamma, &dBeta, nil)
        }
        #expect(overX == MK_STATUS_INVALID_ARGUMENT)
        let shifted = y.withUnsafeMutableBufferPointer { p in
            mk_batchnorm_train_f32_backward(op, &plan, x, p.baseAddress!, gamma, beta, mean, invStd, p.baseAddress! + 1, &dGamma, &dBeta, nil)
        }
        #expect(shifted == MK_STATUS_INVALID_ARGUMENT)
        #expect(dx.allSatisfy { $0 == 7 })
        #expect(mk_batchnorm_update_running_f32(4, mean, variance, 1, 0.1, &dGamma, &dBeta) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_update_running_f32(4, mean, variance, 8, .nan, &dGamma, &dBeta) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_batchnorm_update_running_f32(4, nil, variance, 8, 0.1, &dGamma, &dBeta) == MK_STATUS_NULL_POINTER)
    }

    @Test func activationBackward() throws {
        var op: OpaquePointer?
        #expect(mk_activation_backward_f32_create(0, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        let badClamp = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 2, max: 1)
        #expect(mk_activation_backward_f32_create(4, badClamp, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        try #require(mk_activation_backward_f32_create(4, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_activation_backward_f32_destroy(op) }
        var plan = mk_activation_backward_f32_plan()
        #expect(mk_activation_backward_f32_reshape(op, 0, 0, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_activation_backward_f32_reshape(op, 4, 0, 2, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        try #require(mk_activation_backward_f32_reshape(op, 4, 0, 0, 0, nil, &plan) == MK_STATUS_OK)
        let u = [Float](repeating: 1, count: 16), dy = u
        var dx = [Float](repeating: 7, count: 16), bias = [Float](repeating: 7, count: 4)
        // A bias gradient needs the workspace.
        #expect(mk_activation_backward_f32_run(op, &plan, u, dy, &dx, &bias, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_activation_backward_f32_run(op, &plan, u, nil, &dx, nil, nil) == MK_STATUS_NULL_POINTER)
        var shared = [Float](repeating: 1, count: 17)
        let overlap = shared.withUnsafeMutableBufferPointer { p in
            mk_activation_backward_f32_run(op, &plan, u, p.baseAddress!, p.baseAddress! + 1, nil, nil)
        }
        #expect(overlap == MK_STATUS_INVALID_ARGUMENT)
        #expect(dx.allSatisfy { $0 == 7 } && bias.allSatisfy { $0 == 7 })
        #expect(mk_activation_backward_f32_run(op, &plan, u, dy, &dx, nil, nil) == MK_STATUS_OK)
        #expect(dx == dy)
    }
}
