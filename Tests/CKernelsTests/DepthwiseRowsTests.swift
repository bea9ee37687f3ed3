import CKernels
import ReferenceKernels
import Testing

// mk_dwconv2d_f32_run_rows: output rows from a band of input rows, as an inference plan runs a
// depthwise convolution while its producer fills the band.

@Suite("Depthwise convolution on bands of rows (mk_dwconv2d_f32_run_rows, mk_dwconv2d_f32_input_rows)")
struct DepthwiseRowsTests {
    /// The image rows (inclusive) output rows o0 ..< o1 read, padding aside.
    private func needed(_ cs: DWCase, _ o0: Int, _ o1: Int) -> (first: Int, last: Int) {
        (max(0, o0 * cs.sh - cs.pad.top), min(cs.h - 1, (o1 - 1) * cs.sh - cs.pad.top + (cs.kh - 1) * cs.dh))
    }

    @Test("bands of 1 to 5 rows give mk_dwconv2d_f32_run's bits; each band in a buffer of its own size",
          arguments: familyVariants(MK_FAMILY_F32_DWCONV))
    func bandsEqualWholeImage(variant: mk_variant) throws {
        guard mk_variant_available(variant) else { return }
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 0xBA4D + UInt64(variant.rawValue))
        var cases = 0
        while cases < 120 {
            let k = [1, 3, 5, 7].randomElement(using: &rng)!
            var cs = DWCase(batch: 1, h: Int.random(in: 1...19, using: &rng), w: Int.random(in: 1...19, using: &rng),
                            c: [1, 3, 16, 17, 33, 64, 100].randomElement(using: &rng)!, kh: k, kw: k,
                            sh: Int.random(in: 1...3, using: &rng), sw: Int.random(in: 1...2, using: &rng),
                            dh: cases % 5 == 4 ? 2 : 1, dw: 1, activation: cases % allActivations.count)
            cs.pad = RefPadding(top: Int.random(in: 0..<k, using: &rng), left: Int.random(in: 0..<k, using: &rng),
                                bottom: Int.random(in: 0..<k, using: &rng), right: Int.random(in: 0..<k, using: &rng))
            guard cs.valid else { continue }
            cases += 1
            let x = rng.floats(cs.h * cs.w * cs.c), weights = rng.floats(cs.c * k * k, -1, 1), bias = rng.floats(cs.c)
            let whole = try runDepthwise(cs, variant: variant, x: x, weights: weights, bias: bias)
            var p = cs.params
            var op: OpaquePointer?
            try #require(mk_dwconv2d_f32_create(&p, weights, bias, variant, &op) == MK_STATUS_OK)
            defer { mk_dwconv2d_f32_destroy(op) }
            let band = Int.random(in: 1...5, using: &rng)
            let rowFloats = cs.w * cs.c, outRow = cs.outW * cs.c
            var got = [Float](repeating: .nan, count: cs.outH * outRow)
            for o0 in stride(from: 0, to: cs.outH, by: band) {
                let o1 = min(o0 + band, cs.outH)
                let (first, last) = needed(cs, o0, o1)
                var apiFirst = -1, apiRows = -1
                #expect(mk_dwconv2d_f32_input_rows(op, cs.h, o0, o1, &apiFirst, &apiRows) == MK_STATUS_OK)
                #expect(apiFirst == first && apiRows == last - first + 1, "\(cs) rows \(o0)..<\(o1): input rows")
                let rows = Array(x[(first * rowFloats)..<((last + 1) * rowFloats)])  // exactly the band
                var out = [Float](repeating: .nan, count: (o1 - o0) * outRow)
                let status = mk_dwconv2d_f32_run_rows(op, cs.h, cs.w, first, last - first + 1, rows, 0, o0, o1,
                                                  &out, 0, o0 % 2 == 0 ? pool : nil)
                try #require(status == MK_STATUS_OK, "\(cs) rows \(o0)..<\(o1)")
                got.replaceSubrange((o0 * outRow)..<(o1 * outRow), with: out)
                // A band without its first or last needed row is refused.
                if last > first {
                    #expect(mk_dwconv2d_f32_run_rows(op, cs.h, cs.w, first + 1, last - first, Array(rows[rowFloats...]),
                                                 0, o0, o1, &out, 0, nil) == MK_STATUS_INVALID_ARGUMENT, "\(cs)")
                    #expect(mk_dwconv2d_f32_run_rows(op, cs.h, cs.w, first, last - first, rows, 0, o0, o1,
                                                 &out, 0, nil) == MK_STATUS_INVALID_ARGUMENT, "\(cs)")
                }
            }
            #expect(got.map(\.bitPattern) == whole.map(\.bitPattern), "\(name(variant)) \(cs), bands of \(band)")
        }
    }

    @Test("bad row ranges and bands are INVALID_ARGUMENT, NULL pointers NULL_POINTER")
    func errors() throws {
        var p = DWCase(batch: 1, h: 8, w: 8, c: 4, pad: .symmetric(1)).params
        let weights = [Float](repeating: 0.5, count: 36)
        var op: OpaquePointer?
        try #require(mk_dwconv2d_f32_create(&p, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_dwconv2d_f32_destroy(op) }
        let x = [Float](repeating: 1, count: 8 * 8 * 4)
        var y = [Float](repeating: 0, count: 8 * 8 * 4)
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 8, x, 0, 0, 8, &y, 0, nil) == MK_STATUS_OK)
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 8, x, 0, 3, 3, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // empty
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 8, x, 0, 0, 9, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // past out_h
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 9, x, 0, 0, 8, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // past in_h
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 8, 1, x, 0, 0, 8, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // first >= in_h
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 0, x, 0, 0, 8, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // no rows
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 2, 6, x, 0, 2, 8, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // row 1 missing
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 1, 7, x, 0, 2, 8, &y, 0, nil) == MK_STATUS_OK)
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 4, x, 0, 0, 4, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // row 4 missing
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 5, x, 0, 0, 4, &y, 0, nil) == MK_STATUS_OK)
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 8, x, 3, 0, 8, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // stride < C
        #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 8, x, 0, 0, 8, nil, 0, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_dwconv2d_f32_run_rows(nil, 8, 8, 0, 8, x, 0, 0, 8, &y, 0, nil) == MK_STATUS_NULL_POINTER)
        var first = 0, rows = 0
        #expect(mk_dwconv2d_f32_input_rows(op, 8, 2, 5, &first, &rows) == MK_STATUS_OK && first == 1 && rows == 5)
        #expect(mk_dwconv2d_f32_input_rows(op, 8, 0, 8, &first, &rows) == MK_STATUS_OK && first == 0 && rows == 8)
        #expect(mk_dwconv2d_f32_input_rows(op, 8, 3, 3, &first, &rows) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_dwconv2d_f32_input_rows(op, 8, 0, 9, &first, &rows) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_dwconv2d_f32_input_rows(op, 8, 0, 8, nil, &rows) == MK_STATUS_NULL_POINTER)
        #expect(mk_dwconv2d_f32_input_rows(nil, 8, 0, 8, &first, &rows) == MK_STATUS_NULL_POINTER)
        x.withUnsafeBufferPointer { xb in  // output overlapping the input
            #expect(mk_dwconv2d_f32_run_rows(op, 8, 8, 0, 8, xb.baseAddress, 0, 0, 8,
                                         UnsafeMutablePointer(mutating: xb.baseAddress), 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        }
    }
}

private func name(_ variant: mk_variant) -> String { String(cString: mk_variant_name(variant)) }
