import CKernels
import CKernelsTesting
import Testing

/// Every f32_gemm microkernel of the catalogue that this CPU runs, called directly on one tile:
/// a new tile or ISA in the catalogue is tested here without editing a list.
private let gemmEntries: [(index: Int, name: String, mr: Int, nr: Int)] = (0..<mk_catalogue_count()).compactMap { i in
    guard let info = mk_catalogue_entry(i)?.pointee, info.family == MK_FAMILY_F32_GEMM,
          mk_variant_available(info.variant) else { return nil }
    return (i, String(cString: info.name), info.mr, info.nr)
}

/// The microkernel contract (gemm.h) in plain Swift: per element, the k sum from 0 in order
/// t, k; then the earlier sum (accumulate) or the residual (first block); then bias and the
/// activation (last block).
private func expectedTile(mr: Int, nc: Int, kc: Int, ks: Int, nr: Int, rows: [[Float]], w: [Float],
                          c0: [Float], cStride: Int, bias: [Float], residual: [Float], accumulate: Bool,
                          last: Bool, activation: Int) -> [Float] {
    var c = c0
    for m in 0..<mr {
        for n in 0..<nc {
            var sum: Float = 0
            for t in 0..<ks { for k in 0..<kc { sum += rows[t * 16 + m][k] * w[(t * kc + k) * nr + n] } }
            var x = sum
            if accumulate { x = c0[m * cStride + n] + x } else { x += residual[m * nr + n] }
            if last { x = allActivations[activation].1.apply(x + bias[n]) }
            c[m * cStride + n] = x
        }
    }
    return c
}

/// Every f32_dwconv microkernel of the catalogue that this CPU runs (rows: kernel > 0).
private let dwconvEntries: [(index: Int, name: String, kernel: Int, stride: Int, tile: Int)] =
    (0..<mk_catalogue_count()).compactMap { i in
        guard let info = mk_catalogue_entry(i)?.pointee, info.family == MK_FAMILY_F32_DWCONV,
              mk_variant_available(info.variant) else { return nil }
        return (i, String(cString: info.name), info.kernel, info.stride, info.nr)
    }

@Suite("Microkernels from the catalogue (every tile, remainders)")
struct MicrokernelTests {
    @Test("the catalogue lists every f32_gemm tile this CPU runs, named by tile and ISA")
    func catalogue() {
        #expect(!gemmEntries.isEmpty)
        for e in gemmEntries { #expect(e.name.contains("_\(e.mr)x\(e.nr)__"), "\(e.name)") }
        #expect(mk_family_variants(MK_FAMILY_F32_GEMM) & (1 << MK_VARIANT_SCALAR.rawValue) != 0)
    }

    @Test("f32_gemm: every row and column count, K lengths, taps, accumulate/residual/bias/activation",
          arguments: gemmEntries.map(\.index))
    func gemmTile(index: Int) throws {
        let e = gemmEntries.first { $0.index == index }!
        var rng = SplitMix64(seed: UInt64(index) * 977 + 1)
        let cStride = e.nr + 3
        for mr in 1...e.mr {
            for nc in Set([1, e.nr / 2 + 1, e.nr - 1, e.nr]).filter({ $0 >= 1 }).sorted() {
                for (kc, ks) in [(1, 1), (7, 1), (19, 3)] {
                    let act = Int.random(in: 0..<allActivations.count, using: &rng)
                    let accumulate = Bool.random(using: &rng), last = Bool.random(using: &rng)
                    // Rows past mr still point at valid memory (the contract); tap-major, 16 apart.
                    let rows = (0..<(ks * 16)).map { _ in rng.floats(kc, -1, 1) }
                    var w = [Float](repeating: 0, count: ks * kc * e.nr)
                    for t in 0..<ks { for k in 0..<kc { for n in 0..<nc { w[(t * kc + k) * e.nr + n] = Float.random(in: -1..<1, using: &rng) } } }
                    let bias = rng.floats(e.nr, -1, 1)
                    let residual = rng.floats(e.mr * e.nr, -1, 1)
                    var c = [Float](repeating: sentinel, count: e.mr * cStride)
                    for m in 0..<mr { for n in 0..<nc { c[m * cStride + n] = Float.random(in: -1..<1, using: &rng) } }
                    let want = expectedTile(mr: mr, nc: nc, kc: kc, ks: ks, nr: e.nr, rows: rows, w: w, c0: c,
                                            cStride: cStride, bias: bias, residual: residual, accumulate: accumulate,
                                            last: last, activation: act)
                    let status = withRowPointers(rows, mr: e.mr, ks: ks) { a in
                        c.withUnsafeMutableBufferPointer { cb in
                            mk_testing_gemm_ukernel(index, mr, nc, kc, ks, a, w, cb.baseAddress, cStride, bias, residual,
                                                    e.nr, accumulate, last, allActivations[act].0)
                        }
                    }
                    try #require(status == MK_STATUS_OK)
                    let label = "\(e.name) mr \(mr) nc \(nc) kc \(kc) ks \(ks) acc \(accumulate) last \(last) act \(act)"
                    for i in 0..<c.count {
                        let (m, n) = (i / cStride, i % cStride)
                        if m >= mr || n >= nc {
                            #expect(c[i].bitPattern == sentinel.bitPattern, "\(label): wrote outside the tile at \(m), \(n)")
                        } else {
                            let tolerance = Float(kc * ks + 2) * 2e-6 * 4
                            #expect(abs(c[i] - want[i]) <= tolerance, "\(label) [\(m), \(n)]: \(c[i]) vs \(want[i])")
                        }
                    }
                }
            }
        }
    }

    @Test("f32_gemm dense form: row tiles and column tiles in one call, the same sums as one tile at a time",
          arguments: gemmEntries.filter { $0.mr > 1 }.map(\.index))
    func gemmDense(index: Int) throws {
        let e = gemmEntries.first { $0.index == index }!
        var rng = SplitMix64(seed: UInt64(index) * 131 + 7)
        for (mtiles, mrLast, ntiles, ncLast, kc) in [(1, 1, 1, 1, 5), (2, e.mr, 2, e.nr, 16), (3, e.mr - 1, 3, e.nr / 2 + 1, 33)] {
            let rowsTotal = (mtiles - 1) * e.mr + mrLast, aStride = kc + 2
            let cols = (ntiles - 1) * e.nr + ncLast, cStride = ntiles * e.nr + 1
            let a = rng.floats(rowsTotal * aStride + e.mr * aStride, -1, 1)  // + the prefetched next tile
            let wStride = kc * e.nr
            var w = [Float](repeating: 0, count: ntiles * wStride)
            for j in 0..<ntiles { for k in 0..<kc { for n in 0..<(j + 1 == ntiles ? ncLast : e.nr) { w[j * wStride + k * e.nr + n] = Float.random(in: -1..<1, using: &rng) } } }
            let bias = rng.floats(ntiles * e.nr, -1, 1)
            var dense = [Float](repeating: sentinel, count: rowsTotal * cStride + cStride)
            let st = a.withUnsafeBufferPointer { ab in
                dense.withUnsafeMutableBufferPointer { cb in
                    mk_testing_gemm_dense_ukernel(index, mtiles, mrLast, ntiles, ncLast, kc, ab.baseAddress, aStride, w,
                                                  wStride, cb.baseAddress, cStride, bias, nil, 0, false, true,
                                                  allActivations[2].0)
                }
            }
            try #require(st == MK_STATUS_OK)
            // The same through the one-tile form, tile by tile.
            var tiled = [Float](repeating: sentinel, count: dense.count)
            for i in 0..<mtiles {
                let mr = i + 1 == mtiles ? mrLast : e.mr
                for j in 0..<ntiles {
                    let nc = j + 1 == ntiles ? ncLast : e.nr
                    let status = a.withUnsafeBufferPointer { ab in
                        let ptrs: [UnsafePointer<Float>?] = (0..<e.mr).map { m in ab.baseAddress! + (i * e.mr + min(m, mr - 1)) * aStride }
                        return ptrs.withUnsafeBufferPointer { p in
                            tiled.withUnsafeMutableBufferPointer { cb in
                                Array(w[(j * wStride)...]).withUnsafeBufferPointer { wb in
                                    Array(bias[(j * e.nr)...]).withUnsafeBufferPointer { bb in
                                        mk_testing_gemm_ukernel(index, mr, nc, kc, 1, p.baseAddress, wb.baseAddress,
                                                                cb.baseAddress! + i * e.mr * cStride + j * e.nr, cStride,
                                                                bb.baseAddress, nil, 0, false, true, allActivations[2].0)
                                    }
                                }
                            }
                        }
                    }
                    try #require(status == MK_STATUS_OK)
                }
            }
            #expect(dense.map(\.bitPattern) == tiled.map(\.bitPattern),
                    "\(e.name) dense \(mtiles)x\(ntiles) tiles, last \(mrLast) rows / \(ncLast) columns, kc \(kc)")
            #expect(cols <= cStride)
        }
    }

    @Test("f32_dwconv rows: every channel count of the tile, row widths, left padding, padding rows",
          arguments: dwconvEntries.filter { $0.kernel > 0 }.map(\.index))
    func dwconvRow(index: Int) throws {
        let e = dwconvEntries.first { $0.index == index }!
        let K = e.kernel, S = e.stride, T = e.tile
        var rng = SplitMix64(seed: UInt64(index) * 71 + 3)
        let zeros = [Float](repeating: 0, count: T)
        for inW in Set([K, K + 1, 2 * K + 3, 17]).sorted() {
            for pad in 0..<((K + 1) / 2 + 1) where pad < K {
                let pixels = (inW + 2 * pad - K) / S + 1
                for nc in Set([1, T / 2 + 1, T - 1, T]).filter({ $0 >= 1 }).sorted() {
                    let act = Int.random(in: 0..<allActivations.count, using: &rng)
                    let step = T + 3  // pixel stride of the input rows
                    let data = (0..<K).map { _ in rng.floats(inW * step, -1, 1) }
                    let zeroRow = Int.random(in: -1..<K, using: &rng)  // one kernel row as padding, or none
                    var weights = [Float](repeating: 0, count: (1 + K * K) * T)
                    for i in 0..<((1 + K * K) * T) where i % T < nc { weights[i] = Float.random(in: -1..<1, using: &rng) }
                    let outStep = T + 1
                    var out = [Float](repeating: sentinel, count: pixels * outStep + 4)
                    var want = out
                    for ox in 0..<pixels {
                        for c in 0..<nc {
                            var acc = weights[c]
                            for ky in 0..<K where ky != zeroRow {
                                for kx in 0..<K {
                                    let ix = ox * S + kx - pad
                                    if ix >= 0 && ix < inW { acc += weights[(1 + ky * K + kx) * T + c] * data[ky][ix * step + c] }
                                }
                            }
                            want[ox * outStep + c] = allActivations[act].1.apply(acc)
                        }
                    }
                    let steps = (0..<K).map { $0 == zeroRow ? 0 : step }
                    let status = data.withRowBases(zeros: zeros, zeroRow: zeroRow) { rows in
                        out.withUnsafeMutableBufferPointer { o in
                            withAligned(weights) { w in
                                mk_testing_dwconv_row_ukernel(index, pixels, nc, rows, steps, inW, pad, w, o.baseAddress,
                                                              outStep, allActivations[act].0)
                            }
                        }
                    }
                    try #require(status == MK_STATUS_OK)
                    let label = "\(e.name) in_w \(inW) pad \(pad) nc \(nc) zero row \(zeroRow) act \(act)"
                    for i in 0..<out.count {
                        if want[i].bitPattern == sentinel.bitPattern {
                            #expect(out[i].bitPattern == sentinel.bitPattern, "\(label): wrote outside at \(i)")
                        } else {
                            #expect(abs(out[i] - want[i]) <= 1e-5 * Float(K * K), "\(label) [\(i / outStep), \(i % outStep)]: \(out[i]) vs \(want[i])")
                        }
                    }
                }
            }
        }
    }

    @Test("f32_dwconv generic: channel counts across tiles, any number of taps",
          arguments: dwconvEntries.filter { $0.kernel == 0 }.map(\.index))
    func dwconvPixel(index: Int) throws {
        let e = dwconvEntries.first { $0.index == index }!
        let T = e.tile
        var rng = SplitMix64(seed: UInt64(index) * 13 + 5)
        for channels in Set([1, T - 1, T, T + 1, 4 * T + 3, 9 * T]).filter({ $0 >= 1 }).sorted() {
            for taps in [1, 4, 9, 25, 121] {
                let tiles = (channels + T - 1) / T
                let inputs = (0..<taps).map { _ in rng.floats(channels, -1, 1) }
                var weights = [Float](repeating: 0, count: tiles * (1 + taps) * T)
                for t in 0..<tiles { for j in 0..<((1 + taps) * T) where t * T + j % T < channels {
                    weights[t * (1 + taps) * T + j] = Float.random(in: -1..<1, using: &rng)
                } }
                var out = [Float](repeating: sentinel, count: channels + 4)
                let status = inputs.flatMap { $0 }.withUnsafeBufferPointer { f in
                    let ptrs: [UnsafePointer<Float>?] = (0..<taps).map { f.baseAddress! + $0 * channels }
                    return out.withUnsafeMutableBufferPointer { o in
                        withAligned(weights) { w in
                            mk_testing_dwconv_pixel_ukernel(index, channels, taps, ptrs, w, o.baseAddress,
                                                            allActivations[1].0)
                        }
                    }
                }
                try #require(status == MK_STATUS_OK)
                for c in 0..<channels {
                    let base = (c / T) * (1 + taps) * T + c % T
                    var acc = weights[base]
                    for t in 0..<taps { acc += weights[base + (1 + t) * T] * inputs[t][c] }
                    let want = allActivations[1].1.apply(acc)
                    #expect(abs(out[c] - want) <= 1e-5 * Float(taps), "\(e.name) C \(channels) taps \(taps) c \(c)")
                }
                #expect(out[channels...].allSatisfy { $0.bitPattern == sentinel.bitPattern }, "\(e.name) C \(channels): wrote past the pixel")
            }
        }
    }

    @Test("bad calls are rejected, not run")
    func errors() {
        var c = [Float](repeating: 0, count: 64)
        let notGemm = (0..<mk_catalogue_count()).first { mk_catalogue_entry($0)!.pointee.family != MK_FAMILY_F32_GEMM }!
        let none = mk_activation(kind: MK_ACTIVATION_NONE, min: 0, max: 0)
        #expect(mk_testing_gemm_ukernel(notGemm, 1, 1, 1, 1, nil, nil, &c, 1, nil, nil, 0, false, true, none) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_testing_gemm_ukernel(mk_catalogue_count(), 1, 1, 1, 1, nil, nil, &c, 1, nil, nil, 0, false, true, none) == MK_STATUS_INVALID_ARGUMENT)
        if let e = gemmEntries.first {
            #expect(mk_testing_gemm_ukernel(e.index, e.mr + 1, 1, 1, 1, nil, nil, &c, 1, nil, nil, 0, false, true, none) == MK_STATUS_INVALID_ARGUMENT)
            #expect(mk_testing_gemm_ukernel(e.index, 1, e.nr + 1, 1, 1, nil, nil, &c, 1, nil, nil, 0, false, true, none) == MK_STATUS_INVALID_ARGUMENT)
        }
        #expect(c.allSatisfy { $0 == 0 })
    }
}

/// Calls `body` with a 64-byte-aligned copy of `values` (packed depthwise weights are read with
/// aligned vector loads, as the operator packs them).
private func withAligned<R>(_ values: [Float], _ body: (UnsafePointer<Float>) -> R) -> R {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, values.count) * 4, alignment: 64)
    defer { raw.deallocate() }
    let p = raw.bindMemory(to: Float.self, capacity: max(1, values.count))
    p.initialize(from: values, count: values.count)
    return body(p)
}

extension Array where Element == [Float] {
    /// Calls `body` with one pointer per row (the zero row's pointing at `zeros`).
    func withRowBases<R>(zeros: [Float], zeroRow: Int,
                         _ body: (UnsafePointer<UnsafePointer<Float>?>) throws -> R) rethrows -> R {
        let flat = flatMap { $0 }
        let width = self[0].count
        return try flat.withUnsafeBufferPointer { f in
            try zeros.withUnsafeBufferPointer { z in
                let ptrs: [UnsafePointer<Float>?] = (0..<count).map { $0 == zeroRow ? z.baseAddress! : f.baseAddress! + $0 * width }
                return try ptrs.withUnsafeBufferPointer { try body($0.baseAddress!) }
            }
        }
    }
}

/// Calls `body` with ks * MR row pointers (tap-major) into `rows` (16 rows per tap).
private func withRowPointers<R>(_ rows: [[Float]], mr: Int, ks: Int,
                                _ body: (UnsafePointer<UnsafePointer<Float>?>) throws -> R) rethrows -> R {
    let flat = rows.flatMap { $0 }
    let kc = rows[0].count
    return try flat.withUnsafeBufferPointer { f in
        let ptrs: [UnsafePointer<Float>?] = (0..<ks).flatMap { t in (0..<mr).map { m in f.baseAddress! + (t * 16 + m) * kc } }
        return try ptrs.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}
