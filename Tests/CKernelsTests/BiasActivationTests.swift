import CKernels
import ReferenceKernels
import Testing

@Suite("Bias + activation operator (C ABI) vs ReferenceKernels")
struct BiasActivationTests {
    /// Runs the operator on `rows` rows of `channels` values placed at `offset` floats into
    /// padded buffers with the given strides; checks every value against the reference and every
    /// float outside the rows' [0, channels) for being untouched.
    func check(variant: mk_variant, activation: (mk_activation, RefActivation), channels: Int,
               rows: Int, withBias: Bool, offset: Int, inStride: Int, outStride: Int,
               pool: OpaquePointer?, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let bias = withBias ? rng.floats(channels, -2, 2) : nil
        let values = rng.floats(rows * channels)
        let inCount = offset + max(rows, 1) * inStride + 16
        let outCount = offset + max(rows, 1) * outStride + 16
        var input = [Float](repeating: sentinel, count: inCount)
        var output = [Float](repeating: sentinel, count: outCount)
        for r in 0..<rows { for c in 0..<channels { input[offset + r * inStride + c] = values[r * channels + c] } }

        var op: OpaquePointer?
        let created = bias.withOptionalPointer { mk_bias_activation_f32_create(channels, $0, activation.0, variant, &op) }
        try #require(created == MK_STATUS_OK)
        defer { mk_bias_activation_f32_destroy(op) }
        let status = input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                biasActivationRun(op, rows, x.baseAddress! + offset, inStride, y.baseAddress! + offset, outStride, pool)
            }
        }
        try #require(status == MK_STATUS_OK)

        let expected = rows == 0 ? [] : Reference.biasActivation(
            RefTensor(n: 1, h: 1, w: rows, c: channels, data: values), bias: bias, activation: activation.1
        ).data
        let tolerance = ulpTolerance(activation.1)
        var inside = Set<Int>()
        for r in 0..<rows {
            for c in 0..<channels {
                let i = offset + r * outStride + c
                inside.insert(i)
                let got = output[i], want = expected[r * channels + c]
                #expect(withinULPs(got, want, tolerance),
                        "\(String(cString: mk_variant_name(variant))) \(activation.1) C=\(channels) row \(r) ch \(c): got \(got), want \(want)")
            }
        }
        for i in 0..<outCount where !inside.contains(i) {
            #expect(output[i].bitPattern == sentinel.bitPattern, "wrote outside the rows at float \(i) (C=\(channels), stride \(outStride))")
        }
    }

    @Test("channels 1...70 and 1000, every activation, with and without bias, unaligned starts",
          arguments: familyVariants(MK_FAMILY_F32_VUNARY))
    func sweep(variant: mk_variant) throws {
        var seed: UInt64 = 1
        for channels in Array(1...70) + [1000] {
            for activation in allActivations {
                for withBias in [true, false] {
                    seed += 1
                    let offset = Int(seed % 4)  // 0..3 floats: 16-byte and unaligned starts
                    let pad = Int(seed % 3)
                    try check(variant: variant, activation: activation, channels: channels, rows: 3,
                              withBias: withBias, offset: offset, inStride: channels + pad,
                              outStride: channels + (pad + 1) % 3, pool: nil, seed: seed)
                }
            }
        }
    }

    @Test("one row of every length 0...70 (0 rows does nothing)", arguments: familyVariants(MK_FAMILY_F32_VUNARY))
    func lengths(variant: mk_variant) throws {
        for length in 0...70 {
            try check(variant: variant, activation: allActivations[3], channels: max(length, 1),
                      rows: length == 0 ? 0 : 1, withBias: true, offset: 1, inStride: max(length, 1),
                      outStride: max(length, 1), pool: nil, seed: UInt64(100 + length))
        }
    }

    @Test("a large tensor 1x56x56x144 on two threads", arguments: familyVariants(MK_FAMILY_F32_VUNARY))
    func large(variant: mk_variant) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        try check(variant: variant, activation: allActivations[3], channels: 144, rows: 56 * 56,
                  withBias: true, offset: 0, inStride: 144, outStride: 144, pool: pool, seed: 7)
    }

    @Test("in place equals out of place", arguments: familyVariants(MK_FAMILY_F32_VUNARY))
    func inPlace(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 99)
        let channels = 37, rows = 11
        let bias = rng.floats(channels)
        let x = rng.floats(channels * rows)
        for activation in allActivations {
            var op: OpaquePointer?
            try #require(mk_bias_activation_f32_create(channels, bias, activation.0, variant, &op) == MK_STATUS_OK)
            defer { mk_bias_activation_f32_destroy(op) }
            var outOfPlace = [Float](repeating: 0, count: x.count)
            var inPlace = x
            #expect(biasActivationRun(op, rows, x, 0, &outOfPlace, 0, nil) == MK_STATUS_OK)
            let status = inPlace.withUnsafeMutableBufferPointer { biasActivationRun(op, rows, $0.baseAddress, 0, $0.baseAddress, 0, nil) }
            #expect(status == MK_STATUS_OK)
            #expect(inPlace.map(\.bitPattern) == outOfPlace.map(\.bitPattern))
        }
    }

    @Test("every variant gives bit-identical results on 1 and 2 threads, and agrees with the others")
    func threadsAndVariants() throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 5)
        let channels = 96, rows = 112 * 7
        let bias = rng.floats(channels)
        let x = rng.floats(channels * rows)
        for activation in allActivations {
            var results: [[UInt32]] = []
            for variant in familyVariants(MK_FAMILY_F32_VUNARY) {
                var op: OpaquePointer?
                try #require(mk_bias_activation_f32_create(channels, bias, activation.0, variant, &op) == MK_STATUS_OK)
                defer { mk_bias_activation_f32_destroy(op) }
                var one = [Float](repeating: 0, count: x.count), two = one
                #expect(biasActivationRun(op, rows, x, 0, &one, 0, nil) == MK_STATUS_OK)
                #expect(biasActivationRun(op, rows, x, 0, &two, 0, pool) == MK_STATUS_OK)
                #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
                results.append(one.map(\.bitPattern))
            }
            // All variants compute the same operations in the same order.
            for r in results.dropFirst() { #expect(r == results[0], "variants disagree on \(activation.1)") }
        }
    }

    @Test("negative zero passes through without bias, NaN propagates")
    func specialValues() throws {
        for variant in familyVariants(MK_FAMILY_F32_VUNARY) {
            var op: OpaquePointer?
            try #require(mk_bias_activation_f32_create(3, nil, allActivations[0].0, variant, &op) == MK_STATUS_OK)
            defer { mk_bias_activation_f32_destroy(op) }
            let x: [Float] = [-0.0, .nan, .infinity]
            var y = [Float](repeating: 1, count: 3)
            #expect(biasActivationRun(op, 1, x, 0, &y, 0, nil) == MK_STATUS_OK)
            #expect(y[0].sign == .minus && y[0] == 0)
            #expect(y[1].isNaN)
            #expect(y[2] == .infinity)

            var relu: OpaquePointer?
            try #require(mk_bias_activation_f32_create(3, nil, allActivations[1].0, variant, &relu) == MK_STATUS_OK)
            defer { mk_bias_activation_f32_destroy(relu) }
            #expect(biasActivationRun(relu, 1, x, 0, &y, 0, nil) == MK_STATUS_OK)
            #expect(y[1].isNaN, "\(String(cString: mk_variant_name(variant))): relu(NaN) must stay NaN")
        }
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        switch self {
        case .none: try body(nil)
        case let .some(a): try a.withUnsafeBufferPointer { try body($0.baseAddress) }
        }
    }
}
