import CKernels
import ReferenceKernels
import Testing

/// int8 pooling, add, lookup tables and channel shuffle against the int8 references, bit for bit.
@Suite struct QS8OpsTests {
    func quantization(_ rng: inout SplitMix64) -> RefQuantization {
        RefQuantization(scale: Float.random(in: 0.005...0.1, using: &rng), zeroPoint: Int32.random(in: -128...127, using: &rng))
    }
    func cq(_ q: RefQuantization) -> mk_quantization { mk_quantization(scale: q.scale, zero_point: q.zeroPoint) }

    @Test("max, average and global average pooling", arguments: [MK_POOL_QS8_MAX, MK_POOL_QS8_AVERAGE, MK_POOL_QS8_GLOBAL_AVERAGE])
    func pooling(kind: mk_pool_qs8_kind) throws {
        var rng = SplitMix64(seed: UInt64(kind.rawValue) + 40)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for i in 0..<60 {
            // Every sixth case a window of 16x17 pixels (over AVX-512's 255-pixel int16 limit).
            let large = i % 6 == 5
            let n = Int.random(in: 1...2, using: &rng)
            let h = large ? Int.random(in: 16...20, using: &rng) : Int.random(in: 1...9, using: &rng)
            let w = large ? Int.random(in: 17...20, using: &rng) : Int.random(in: 1...9, using: &rng)
            let c = [1, 3, 16, 17, 40, 300].randomElement(using: &rng)!
            let kh = large ? 16 : Int.random(in: 1...3, using: &rng), kw = large ? 17 : Int.random(in: 1...3, using: &rng)
            let pad = RefPadding(top: Int.random(in: 0..<kh, using: &rng), left: Int.random(in: 0..<kw, using: &rng),
                                 bottom: Int.random(in: 0..<kh, using: &rng), right: Int.random(in: 0..<kw, using: &rng))
            guard h + pad.top + pad.bottom >= kh && w + pad.left + pad.right >= kw else { continue }
            let s = Int.random(in: 1...2, using: &rng)
            let include = Bool.random(using: &rng)
            let act = allActivations[qs8Activations[i % 4]]
            let input = quantization(&rng)
            var output = quantization(&rng)
            if kind == MK_POOL_QS8_MAX { output = input }
            let x = rng.int8s(n * h * w * c)
            let name = kind == MK_POOL_QS8_MAX ? "max" : kind == MK_POOL_QS8_AVERAGE ? "average" : "global"
            let want = Reference.poolQS8(x, n: n, h: h, w: w, c: c, kind: name, kernelH: kh, kernelW: kw, strideH: s, strideW: s,
                                         padding: pad, countIncludePad: include, activation: act.1, input: input, output: output)
            var params = mk_pool2d_qs8_params(
                kind: kind, channels: c,
                pool: mk_pool2d_params(kernel_h: kh, kernel_w: kw, stride_h: s, stride_w: s, pad_top: pad.top, pad_left: pad.left,
                                       pad_bottom: pad.bottom, pad_right: pad.right, count_include_pad: include, activation: act.0),
                input: cq(input), output: cq(output), adaptive_h: 0, adaptive_w: 0)
            var op: OpaquePointer?
            try #require(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_OK)
            defer { mk_pool2d_qs8_destroy(op) }
            let outStride = c + i % 3, inStride = c + (i / 2) % 2  // pixel gaps on both sides
            var strided = rng.int8s(n * h * w * inStride)  // the gaps hold noise the pool must not read
            for p in 0..<(n * h * w) { strided.replaceSubrange((p * inStride)..<(p * inStride + c), with: x[(p * c)..<((p + 1) * c)]) }
            var plan = mk_pool2d_qs8_plan()
            try #require(mk_pool2d_qs8_reshape(op, n, h, w, inStride, outStride, i % 2 == 0 ? pool : nil, &plan) == MK_STATUS_OK)
            try #require(plan.out_h == want.oh && plan.out_w == want.ow)
            let pixels = n * want.oh * want.ow
            var out = [Int8](repeating: qs8Sentinel, count: pixels * outStride)
            try #require(out.withUnsafeMutableBufferPointer { mk_pool2d_qs8_run(op, &plan, strided, $0.baseAddress, i % 2 == 0 ? pool : nil) } == MK_STATUS_OK)
            var got: [Int8] = []
            for p in 0..<pixels { got += out[(p * outStride)..<(p * outStride + c)] }
            #expect(got == want.data, "\(name) n\(n) \(h)x\(w)x\(c) k\(kh)x\(kw) s\(s) \(pad) include \(include) \(act.1)")
            for p in 0..<pixels { #expect(out[(p * outStride + c)..<((p + 1) * outStride)].allSatisfy { $0 == qs8Sentinel }) }
        }
    }

    @Test("pooling errors")
    func poolErrors() {
        var params = mk_pool2d_qs8_params(
            kind: MK_POOL_QS8_MAX, channels: 8,
            pool: mk_pool2d_params(kernel_h: 3, kernel_w: 3, stride_h: 2, stride_w: 2, pad_top: 1, pad_left: 1, pad_bottom: 1,
                                   pad_right: 1, count_include_pad: true, activation: allActivations[0].0),
            input: mk_quantization(scale: 0.1, zero_point: 3), output: mk_quantization(scale: 0.2, zero_point: 3),
            adaptive_h: 0, adaptive_w: 0)
        var op: OpaquePointer?
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_INVALID_ARGUMENT)  // max: different quantization
        params.kind = MK_POOL_QS8_AVERAGE
        params.pool.pad_top = 3
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_INVALID_ARGUMENT)
        params.pool.pad_top = 1
        params.pool.activation = allActivations[3].0
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_UNSUPPORTED)
        params.pool.activation = allActivations[0].0
        params.channels = 0
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_INVALID_ARGUMENT)
        params.channels = 8
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_OK)
        var plan = mk_pool2d_qs8_plan()
        #expect(mk_pool2d_qs8_reshape(op, 1, 0, 5, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_pool2d_qs8_reshape(op, 1, 5, 5, 4, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        mk_pool2d_qs8_destroy(op)
        params.kind = MK_POOL_QS8_GLOBAL_AVERAGE
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_OK)
        #expect(mk_pool2d_qs8_reshape(op, 1, 1 << 12, 1 << 12, 0, 0, nil, &plan) == MK_STATUS_SIZE_OVERFLOW)
        mk_pool2d_qs8_destroy(op)
        params.kind = MK_POOL_QS8_ADAPTIVE_AVERAGE
        #expect(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_INVALID_ARGUMENT)  // adaptive size 0
    }

    @Test("adaptive average pooling: PyTorch's cells, replication of small inputs, identity")
    func adaptive() throws {
        var rng = SplitMix64(seed: 77)
        for (h, w, oh, ow) in [(1, 1, 7, 7), (1, 1, 6, 6), (13, 13, 6, 6), (7, 7, 7, 7), (5, 9, 3, 4), (2, 3, 5, 2)] {
            let c = 19
            let (input, output) = (quantization(&rng), quantization(&rng))
            let x = rng.int8s(2 * h * w * c)
            var params = mk_pool2d_qs8_params(
                kind: MK_POOL_QS8_ADAPTIVE_AVERAGE, channels: c,
                pool: mk_pool2d_params(kernel_h: 0, kernel_w: 0, stride_h: 0, stride_w: 0, pad_top: 0, pad_left: 0, pad_bottom: 0,
                                       pad_right: 0, count_include_pad: true, activation: allActivations[1].0),
                input: cq(input), output: cq(output), adaptive_h: oh, adaptive_w: ow)
            var op: OpaquePointer?
            try #require(mk_pool2d_qs8_create(&params, &op) == MK_STATUS_OK)
            defer { mk_pool2d_qs8_destroy(op) }
            var plan = mk_pool2d_qs8_plan()
            try #require(mk_pool2d_qs8_reshape(op, 2, h, w, 0, 0, nil, &plan) == MK_STATUS_OK)
            var out = [Int8](repeating: 0, count: 2 * oh * ow * c)
            #expect(mk_pool2d_qs8_run(op, &plan, x, &out, nil) == MK_STATUS_OK)
            let want = Reference.poolQS8(x, n: 2, h: h, w: w, c: c, kind: "adaptive", adaptiveH: oh, adaptiveW: ow,
                                         activation: .relu, input: input, output: output)
            #expect(out == want.data, "\(h)x\(w) -> \(oh)x\(ow)")
        }
    }

    @Test("quantize and dequantize float pixels")
    func convert() throws {
        var rng = SplitMix64(seed: 21)
        let q = RefQuantization(scale: 0.037, zeroPoint: -11)
        var x = rng.floats(50 * 7, -6, 6)
        x[3] = .nan
        x[4] = .infinity
        x[5] = -.infinity
        x[6] = 0.037 * 2.5  // a tie: rounds to even
        var y = [Int8](repeating: 0, count: 50 * 9)
        #expect(mk_quantize_f32_qs8(50, 7, x, 0, &y, 9, cq(q), nil) == MK_STATUS_OK)
        for p in 0..<50 {
            for c in 0..<7 {
                var v = x[p * 7 + c] / q.scale
                if v.isNaN { v = 0 }
                v = min(max(v, -512), 512)
                let want = Int8(min(127, max(-128, Int32(v.rounded(.toNearestOrEven)) + q.zeroPoint)))
                #expect(y[p * 9 + c] == want, "\(x[p * 7 + c])")
            }
        }
        var back = [Float](repeating: 0, count: 50 * 7)
        #expect(mk_dequantize_qs8_f32(50, 7, y, 9, &back, 0, cq(q), nil) == MK_STATUS_OK)
        for p in 0..<50 { for c in 0..<7 { #expect(back[p * 7 + c] == q.scale * Float(Int32(y[p * 9 + c]) - q.zeroPoint)) } }
        #expect(mk_quantize_f32_qs8(50, 7, x, 0, &y, 6, cq(q), nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_quantize_f32_qs8(50, 7, x, 0, &y, 0, mk_quantization(scale: .nan, zero_point: 0), nil) == MK_STATUS_INVALID_ARGUMENT)

        // Three dense channels into pixels 4 bytes apart (the int8 network's input; AVX-512
        // VBMI's 16-pixel form and its scalar tail), on 1 and 2 threads: the fourth byte untouched.
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for pixels in [1, 15, 16, 17, 50, 333] {
            var image = rng.floats(pixels * 3, -5, 5)  // mostly inside the int8 range: the rounding is exercised
            image[0] = .nan
            if pixels > 5 { (image[4], image[5]) = (.infinity, 0.037 * 3.5) }
            for threads in [nil, pool] {
                var out = [Int8](repeating: 55, count: pixels * 4)
                #expect(mk_quantize_f32_qs8(pixels, 3, image, 3, &out, 4, cq(q), threads) == MK_STATUS_OK)
                for p in 0..<pixels {
                    for c in 0..<3 {
                        var v = image[p * 3 + c] / q.scale
                        if v.isNaN { v = 0 }
                        v = min(max(v, -512), 512)
                        let want = Int8(min(127, max(-128, Int32(v.rounded(.toNearestOrEven)) + q.zeroPoint)))
                        #expect(out[p * 4 + c] == want, "\(pixels) pixels: \(image[p * 3 + c])")
                    }
                    #expect(out[p * 4 + 3] == 55, "\(pixels) pixels: the fourth byte was written")
                }
            }
        }
    }

    @Test("add, in place too")
    func add() throws {
        var rng = SplitMix64(seed: 9)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for i in 0..<40 {
            let pixels = Int.random(in: 1...300, using: &rng), c = [1, 5, 24, 64].randomElement(using: &rng)!
            let (aq, bq, oq) = (quantization(&rng), quantization(&rng), quantization(&rng))
            let act = allActivations[qs8Activations[i % 4]]
            let a = rng.int8s(pixels * c), b = rng.int8s(pixels * c)
            let want = Reference.addQS8(a, aq, b, bq, output: oq, activation: act.1)
            var out = [Int8](repeating: 0, count: pixels * c)
            #expect(mk_add_qs8(pixels, c, a, 0, cq(aq), b, 0, cq(bq), &out, 0, cq(oq), act.0, i % 2 == 0 ? pool : nil) == MK_STATUS_OK)
            #expect(out == want, "add \(pixels)x\(c) \(act.1)")
            var inPlace = a
            let status = inPlace.withUnsafeMutableBufferPointer { p in
                mk_add_qs8(pixels, c, p.baseAddress, 0, cq(aq), b, 0, cq(bq), p.baseAddress, 0, cq(oq), act.0, nil)
            }
            #expect(status == MK_STATUS_OK && inPlace == want)
        }
        var out = [Int8](repeating: 0, count: 8)
        let q = mk_quantization(scale: 1, zero_point: 0)
        #expect(mk_add_qs8(1, 8, out, 0, q, out, 0, mk_quantization(scale: 0, zero_point: 0), &out, 0, q, allActivations[0].0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_add_qs8(1, 8, out, 4, q, out, 0, q, &out, 0, q, allActivations[0].0, nil) == MK_STATUS_INVALID_ARGUMENT)
    }

    @Test("lookup tables of every activation, hard-swish and hard-sigmoid included")
    func lut() throws {
        var rng = SplitMix64(seed: 12)
        for (act, ref) in allActivations {
            for _ in 0..<10 {
                let (iq, oq) = (quantization(&rng), quantization(&rng))
                var table = [Int8](repeating: 0, count: 256)
                #expect(mk_lut_qs8_table(act, cq(iq), cq(oq), &table) == MK_STATUS_OK)
                #expect(table == Reference.lutQS8(ref, input: iq, output: oq), "\(ref) \(iq) \(oq)")
                let x = rng.int8s(7 * 13)
                var y = [Int8](repeating: 0, count: 7 * 15)
                #expect(mk_lut_qs8(7, 13, table, x, 0, &y, 15, nil) == MK_STATUS_OK)
                for p in 0..<7 { for c in 0..<13 { #expect(y[p * 15 + c] == table[Int(x[p * 13 + c]) + 128]) } }
            }
        }
        // Dense rows (one run of pixels x channels bytes) and strided ones, across 64-byte
        // blocks (the AVX-512 VBMI form), on two threads, in place.
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for i in 0..<40 {
            let pixels = Int.random(in: 1...70, using: &rng), c = [1, 3, 63, 64, 65, 130, 200].randomElement(using: &rng)!
            let stride = i % 3 == 0 ? c + Int.random(in: 1...9, using: &rng) : c
            let table = rng.int8s(256)
            var x = rng.int8s(pixels * stride)
            let want = (0..<x.count).map { $0 % stride < c ? table[Int(x[$0]) + 128] : x[$0] }
            // Out of place first (gaps untouched), then in place.
            var y = [Int8](repeating: 77, count: pixels * stride)
            #expect(mk_lut_qs8(pixels, c, table, x, stride, &y, stride, i % 2 == 0 ? pool : nil) == MK_STATUS_OK)
            #expect(y == (0..<x.count).map { $0 % stride < c ? want[$0] : 77 }, "lut \(pixels)x\(c) stride \(stride) out of place")
            let status = x.withUnsafeMutableBufferPointer { p in
                mk_lut_qs8(pixels, c, table, p.baseAddress, stride, p.baseAddress, stride, i % 2 == 0 ? pool : nil)
            }
            #expect(status == MK_STATUS_OK && x == want, "lut \(pixels)x\(c) stride \(stride)")
        }
        // The table is not trivial: hard-swish over [-4, 4) covers many levels.
        var table = [Int8](repeating: 0, count: 256)
        #expect(mk_lut_qs8_table(allActivations[3].0, mk_quantization(scale: 4.0 / 128, zero_point: 0),
                                 mk_quantization(scale: 4.0 / 128, zero_point: -32), &table) == MK_STATUS_OK)
        #expect(Set(table).count > 100)
    }

    @Test("squeeze-and-excitation: odd channel counts, strides, batches, 1x1 images, in place, two threads, every variant",
          arguments: qs8Variants)
    func squeezeExcitation(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 21 + UInt64(variant.rawValue))
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for i in 0..<30 {
            let c = [1, 7, 16, 33, 70, 130].randomElement(using: &rng)!, s = [1, 4, 9].randomElement(using: &rng)!
            let n = Int.random(in: 1...3, using: &rng), h = Int.random(in: 1...9, using: &rng), w = Int.random(in: 1...9, using: &rng)
            let iq = quantization(&rng), oq = i % 2 == 0 ? iq : quantization(&rng)
            let fc1 = (0..<(s * c)).map { _ in Float.random(in: -1...1, using: &rng) }
            let fc2 = (0..<(c * s)).map { _ in Float.random(in: -1...1, using: &rng) }
            let b1 = (0..<s).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
            let b2 = (0..<c).map { _ in Float.random(in: -3...3, using: &rng) }
            var op: OpaquePointer?
            try #require(mk_squeeze_excitation_qs8_create(c, s, fc1, b1, fc2, b2, cq(iq), cq(oq), variant, &op) == MK_STATUS_OK)
            defer { mk_squeeze_excitation_qs8_destroy(op) }
            let x = rng.int8s(n * h * w * c)
            let want = Reference.squeezeExcitationQS8(x, n: n, h: h, w: w, c: c, input: iq, fc1Weight: fc1, fc1Bias: b1,
                                                      squeezeChannels: s, fc2Weight: fc2, fc2Bias: b2, output: oq)
            // Strided input into a dense output.
            let (istride, pixels) = (c + i % 5, n * h * w)
            var xs = [Int8](repeating: 99, count: pixels * istride)
            for p in 0..<pixels { for ch in 0..<c { xs[p * istride + ch] = x[p * c + ch] } }
            var y = [Int8](repeating: 0, count: pixels * c)
            var plan = mk_squeeze_excitation_qs8_plan()
            let threads = i % 2 == 0 ? pool : nil
            #expect(mk_squeeze_excitation_qs8_reshape(op, n, h, w, istride, 0, threads, &plan) == MK_STATUS_OK)
            #expect(mk_squeeze_excitation_qs8_run(op, &plan, xs, &y, threads) == MK_STATUS_OK)
            #expect(y == want, "SE \(n)x\(h)x\(w)x\(c) squeeze \(s) \(iq) -> \(oq)")
            // In place.
            #expect(mk_squeeze_excitation_qs8_reshape(op, n, h, w, istride, istride, threads, &plan) == MK_STATUS_OK)
            let status = xs.withUnsafeMutableBufferPointer { p in
                mk_squeeze_excitation_qs8_run(op, &plan, p.baseAddress, p.baseAddress, threads)
            }
            #expect(status == MK_STATUS_OK)
            #expect((0..<pixels).allSatisfy { p in (0..<c).allSatisfy { xs[p * istride + $0] == want[p * c + $0] } }
                    && (0..<pixels).allSatisfy { p in (c..<istride).allSatisfy { xs[p * istride + $0] == 99 } })
        }
        // Errors: a bad quantization, a non-finite weight or scale ratio, zero sizes, short
        // strides, overlap, h * w over 2^23.
        let q = mk_quantization(scale: 1, zero_point: 0), w1: [Float] = [1, 1], w2: [Float] = [1, 1]
        var op: OpaquePointer?
        #expect(mk_squeeze_excitation_qs8_create(2, 1, [1, .nan], nil, w2, nil, q, q, variant, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_qs8_create(2, 1, w1, nil, w2, [0, .infinity], q, q, variant, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_qs8_create(2, 1, w1, nil, w2, nil, mk_quantization(scale: 1e30, zero_point: 0),
                                                 mk_quantization(scale: 1e-30, zero_point: 0), variant, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_qs8_create(2, 1, w1, nil, w2, nil, mk_quantization(scale: 0, zero_point: 0), q, variant, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_qs8_create(0, 1, w1, nil, w2, nil, q, q, variant, &op) == MK_STATUS_INVALID_ARGUMENT)
        try #require(mk_squeeze_excitation_qs8_create(2, 1, w1, nil, w2, nil, q, q, variant, &op) == MK_STATUS_OK)
        defer { mk_squeeze_excitation_qs8_destroy(op) }
        var plan = mk_squeeze_excitation_qs8_plan()
        #expect(mk_squeeze_excitation_qs8_reshape(op, 1, 0, 3, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_qs8_reshape(op, 1, 3, 3, 1, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_qs8_reshape(op, 1, 4096, 4096, 0, 0, nil, &plan) == MK_STATUS_SIZE_OVERFLOW)
        #expect(mk_squeeze_excitation_qs8_reshape(op, 1, 2, 2, 0, 0, nil, &plan) == MK_STATUS_OK)
        var buffer = [Int8](repeating: 0, count: 12)
        let overlap = buffer.withUnsafeMutableBufferPointer { p in
            mk_squeeze_excitation_qs8_run(op, &plan, p.baseAddress, p.baseAddress! + 2, nil)
        }
        #expect(overlap == MK_STATUS_INVALID_ARGUMENT)
    }

    @Test("channel shuffle of bytes (the AVX-512 VBMI form up to 256 channels: one to four source vectors)")
    func shuffle() throws {
        var rng = SplitMix64(seed: 3)
        for (g, c) in [(3, 240), (2, 58), (8, 384), (1, 5), (4, 4), (3, 60), (2, 64), (3, 120), (5, 130), (3, 192),
                       (8, 256), (5, 255), (3, 258)] {
            let pixels = 23
            let packed = rng.int8s(pixels * c)
            // Input pixels c + 1 bytes apart, output c + 2: the gaps must stay untouched.
            var x = [Int8](repeating: 99, count: pixels * (c + 1))
            for p in 0..<pixels { x.replaceSubrange((p * (c + 1))..<(p * (c + 1) + c), with: packed[(p * c)..<((p + 1) * c)]) }
            var y = [Int8](repeating: 7, count: pixels * (c + 2))
            #expect(mk_channel_shuffle_qs8(g, c, pixels, x, c + 1, &y, c + 2, nil) == MK_STATUS_OK)
            let want = Reference.channelShuffle(RefTensor(n: 1, h: 1, w: pixels, c: c, data: packed.map(Float.init)), groups: g).data
            var got: [Float] = []
            for p in 0..<pixels {
                got += y[(p * (c + 2))..<(p * (c + 2) + c)].map(Float.init)
                #expect(y[p * (c + 2) + c] == 7 && y[p * (c + 2) + c + 1] == 7, "g\(g) c\(c): gap written")
            }
            #expect(got == want, "g\(g) c\(c)")
        }
        var y = [Int8](repeating: 0, count: 10)
        #expect(mk_channel_shuffle_qs8(3, 10, 1, y, 0, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
    }
}
