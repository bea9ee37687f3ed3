import CKernels
import Testing

@Suite("Every C error path returns its status")
struct ErrorPathTests {
    let relu = mk_activation(kind: MK_ACTIVATION_RELU, min: 0, max: 0)

    @Test func statusStrings() {
        let statuses = [MK_STATUS_OK, MK_STATUS_NULL_POINTER, MK_STATUS_INVALID_ARGUMENT, MK_STATUS_SHAPE_MISMATCH,
                        MK_STATUS_SIZE_OVERFLOW, MK_STATUS_UNSUPPORTED, MK_STATUS_OUT_OF_MEMORY, MK_STATUS_THREAD_ERROR]
        let strings = statuses.map { String(cString: mk_status_string($0)) }
        #expect(Set(strings).count == statuses.count)
        #expect(String(cString: mk_status_string(mk_status(rawValue: 77))) == "unknown status")
    }

    @Test func variants() {
        #expect(mk_variant_available(MK_VARIANT_SCALAR))
        #expect(mk_variant_available(MK_VARIANT_AUTO))
        #expect(!mk_variant_available(mk_variant(rawValue: 42)))
        #expect(String(cString: mk_variant_name(MK_VARIANT_AVX512)) == "avx512")
        #expect(String(cString: mk_variant_name(mk_variant(rawValue: 42))) == "unknown")
        #if arch(x86_64)
        #expect(!mk_variant_available(MK_VARIANT_NEON))
        #elseif arch(arm64)
        #expect(!mk_variant_available(MK_VARIANT_AVX2))
        #expect(!mk_variant_available(MK_VARIANT_AVX512))
        #endif
        #expect(mk_variant_available(mk_variant_best()))
    }

    @Test func createRejectsBadArguments() {
        var op: OpaquePointer?
        #expect(mk_bias_activation_f32_create(4, nil, relu, MK_VARIANT_AUTO, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_bias_activation_f32_create(0, nil, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(op == nil)
        #expect(mk_bias_activation_f32_create(Int.max, nil, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_SIZE_OVERFLOW)
        let badClamp = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 2, max: 1)
        #expect(mk_bias_activation_f32_create(4, nil, badClamp, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        let nanClamp = mk_activation(kind: MK_ACTIVATION_CLAMP, min: .nan, max: 1)
        #expect(mk_bias_activation_f32_create(4, nil, nanClamp, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        let unknownKind = mk_activation(kind: mk_activation_kind(rawValue: 99), min: 0, max: 0)
        #expect(mk_bias_activation_f32_create(4, nil, unknownKind, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_bias_activation_f32_create(4, nil, relu, mk_variant(rawValue: 42), &op) == MK_STATUS_INVALID_ARGUMENT)
        // BLIS exists only for GEMM-based operators.
        #expect(mk_bias_activation_f32_create(4, nil, relu, MK_VARIANT_BLIS, &op) == MK_STATUS_UNSUPPORTED)
        for variant in [MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_NEON] where !mk_variant_available(variant) {
            #expect(mk_bias_activation_f32_create(4, nil, relu, variant, &op) == MK_STATUS_UNSUPPORTED)
        }
        #expect(op == nil)
        let infinite = mk_activation(kind: MK_ACTIVATION_CLAMP, min: -.infinity, max: .infinity)
        #expect(mk_bias_activation_f32_create(4, nil, infinite, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        mk_bias_activation_f32_destroy(op)
        mk_bias_activation_f32_destroy(nil)
    }

    @Test func runRejectsBadArguments() throws {
        var op: OpaquePointer?
        try #require(mk_bias_activation_f32_create(4, nil, relu, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_bias_activation_f32_destroy(op) }
        var buffer = [Float](repeating: 1, count: 64)
        let other = [Float](repeating: 1, count: 64)
        buffer.withUnsafeMutableBufferPointer { b in
            let p = b.baseAddress!
            #expect(biasActivationRun(nil, 1, p, 0, p, 0, nil) == MK_STATUS_NULL_POINTER)
            #expect(biasActivationRun(op, 1, nil, 0, p, 0, nil) == MK_STATUS_NULL_POINTER)
            #expect(biasActivationRun(op, 1, p, 0, nil, 0, nil) == MK_STATUS_NULL_POINTER)
            #expect(biasActivationRun(op, 1, p, 3, p, 3, nil) == MK_STATUS_INVALID_ARGUMENT)  // stride < channels
            #expect(biasActivationRun(op, Int.max / 2, p, 4, p, 4, nil) == MK_STATUS_SIZE_OVERFLOW)
            #expect(biasActivationRun(op, 2, p, Int.max / 2, p, Int.max / 2, nil) == MK_STATUS_SIZE_OVERFLOW)
            // Partial overlap (output shifted by one float) would read values already written.
            #expect(biasActivationRun(op, 4, p, 0, p + 1, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            // Same start, different strides: also overlapping, not in place.
            #expect(biasActivationRun(op, 4, p, 4, p, 8, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(biasActivationRun(op, 0, p, 0, p, 0, nil) == MK_STATUS_OK)
            other.withUnsafeBufferPointer { o in
                #expect(biasActivationRun(op, 16, o.baseAddress, 0, p, 0, nil) == MK_STATUS_OK)
            }
        }
        #expect(mk_bias_activation_f32_variant(op) == mk_variant_best())
    }

    @Test func threadPoolRejectsBadArguments() {
        var pool: OpaquePointer?
        #expect(mk_threadpool_create(2, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_threadpool_create(5000, &pool) == MK_STATUS_INVALID_ARGUMENT)
        #expect(pool == nil)
        #expect(mk_threadpool_create(0, &pool) == MK_STATUS_OK)
        #expect(mk_threadpool_threads(pool) >= 1)
        #expect(mk_threadpool_parallelize_1d(pool, nil, nil, 10, 1) == MK_STATUS_NULL_POINTER)
        #expect(mk_threadpool_parallelize_2d(pool, nil, nil, 10, 10, 1, 1) == MK_STATUS_NULL_POINTER)
        mk_threadpool_destroy(pool)
        mk_threadpool_destroy(nil)
        #expect(mk_threadpool_threads(nil) == 1)
    }

    @Test func alignedMemory() {
        #expect(mk_aligned_alloc(0) == nil)
        #expect(mk_aligned_alloc(Int.max) == nil)
        for size in [1, 3, 64, 1000, 1 << 20] {
            let p = mk_aligned_alloc(size)
            #expect(p != nil && Int(bitPattern: p) % 64 == 0)
            mk_aligned_free(p)
        }
        mk_aligned_free(nil)
    }

    @Test func cpuInfo() {
        let info = mk_cpu_info_get()!.pointee
        #expect(info.avx512f == mk_variant_available(MK_VARIANT_AVX512) || !info.avx512bw || !info.avx512vl || !info.avx512dq)
        #if arch(x86_64)
        #expect(info.avx2 == mk_variant_available(MK_VARIANT_AVX2) || !info.fma)
        #endif
        #expect(!String(cString: mk_blis_arch()).isEmpty)
    }
}
