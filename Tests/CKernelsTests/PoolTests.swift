import CKernels
import Dispatch
import ReferenceKernels
import Testing

/// Pooling's variants; the squeeze-and-excitation and add tests ask their operators the same
/// way (mk_squeeze_excitation_supports, f32_vbinary).
private let poolVariants = familyVariants(MK_FAMILY_F32_POOL)

// Pooling, squeeze-and-excitation and the residual add through the C ABI (mk_pool.h), against
// ReferenceKernels, on every SIMD variant this CPU runs.

private func name(_ variant: mk_variant) -> String { String(cString: mk_variant_name(variant)) }

private func statusText(_ status: mk_status) -> String { String(cString: mk_status_string(status)) }

/// A fresh two-thread pool (destroyed by the caller).
private func makePool() throws -> OpaquePointer? {
    var pool: OpaquePointer?
    try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
    return pool
}

/// Values with -0.0 and -infinity mixed in (max pooling must keep their bits).
private func poolValues(_ count: Int, _ rng: inout SplitMix64, specials: Bool = true) -> [Float] {
    var values = rng.floats(count, -4, 4)
    for i in 0..<count {
        if i % 7 == 3 {
            values[i] = -0.0
        } else if specials && i % 29 == 6 {
            values[i] = -.infinity
        }
    }
    return values
}

/// nil when `got` and `want` hold the same bits (-0.0 differs from +0.0, NaN payloads must
/// agree), else the first difference.
private func bitMismatch(_ got: [Float], _ want: [Float]) -> String? {
    guard got.count == want.count else { return "count \(got.count) != \(want.count)" }
    for i in 0..<got.count where got[i].bitPattern != want[i].bitPattern {
        return "at \(i): \(got[i]) (0x\(String(got[i].bitPattern, radix: 16))) != \(want[i]) (0x\(String(want[i].bitPattern, radix: 16)))"
    }
    return nil
}

/// The check for a result with `activation` applied: bit for bit without one; with one, equal
/// values within the activation's ulp tolerance (`withinULPs`: NaN matches NaN and -0.0 matches
/// +0.0, since the kernels' relu keeps -0.0 where Swift's max(x, 0) gives +0.0).
private func activationMismatch(_ got: [Float], _ want: [Float], _ activation: RefActivation) -> String? {
    if activation == .none { return bitMismatch(got, want) }
    guard got.count == want.count else { return "count \(got.count) != \(want.count)" }
    for i in 0..<got.count where !withinULPs(got[i], want[i], ulpTolerance(activation)) {
        return "at \(i): \(got[i]) (0x\(String(got[i].bitPattern, radix: 16))) != \(want[i]) (0x\(String(want[i].bitPattern, radix: 16)))"
    }
    return nil
}

/// Lays `x` (`inPixels` dense rows of `channels`) out with `inExtra` NaN floats between rows, runs
/// `call(input, inStride, output, outStride)` into an output of `outPixels` rows `outExtra` apart
/// prefilled with `sentinel` (plus a guard tail), checks that no gap or tail float was written
/// and returns the dense output rows.
private func runStrided(inPixels: Int, outPixels: Int, channels: Int, _ x: [Float], inExtra: Int, outExtra: Int,
                        label: String,
                        _ call: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> mk_status) throws -> [Float] {
    let inStride = channels + inExtra, outStride = channels + outExtra
    var input = [Float](repeating: .nan, count: inPixels * inStride)
    for p in 0..<inPixels { for c in 0..<channels { input[p * inStride + c] = x[p * channels + c] } }
    var output = [Float](repeating: sentinel, count: outPixels * outStride + 8)
    let status = input.withUnsafeBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in call(i.baseAddress!, inStride, o.baseAddress!, outStride) }
    }
    try #require(status == MK_STATUS_OK, "\(label): \(statusText(status))")
    var dense = [Float](repeating: 0, count: outPixels * channels)
    var stray = 0
    for p in 0..<outPixels {
        for c in 0..<outStride {
            let v = output[p * outStride + c]
            if c < channels { dense[p * channels + c] = v } else if v.bitPattern != sentinel.bitPattern { stray += 1 }
        }
    }
    for i in (outPixels * outStride)..<output.count where output[i].bitPattern != sentinel.bitPattern { stray += 1 }
    #expect(stray == 0, "\(label): wrote \(stray) floats outside the output rows")
    return dense
}

/// One randomized window-pooling case.
private struct PoolCase: CustomStringConvertible {
    var n, h, w, c, kh, kw, sh, sw: Int
    var pad: RefPadding
    var inExtra, outExtra: Int
    var activation: Int  // index into allActivations

    var oh: Int { (h + pad.top + pad.bottom - kh) / sh + 1 }
    var ow: Int { (w + pad.left + pad.right - kw) / sw + 1 }
    var fits: Bool { h + pad.top + pad.bottom >= kh && w + pad.left + pad.right >= kw }

    var params: mk_pool2d_params {
        mk_pool2d_params(kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pad_top: pad.top, pad_left: pad.left,
                         pad_bottom: pad.bottom, pad_right: pad.right, count_include_pad: false,
                         activation: allActivations[activation].0)
    }

    var description: String {
        "[\(n), \(h), \(w), \(c)] kernel \(kh)x\(kw) stride \(sh)x\(sw) pad t\(pad.top) l\(pad.left) b\(pad.bottom) r\(pad.right) strides +\(inExtra)/+\(outExtra) \(allActivations[activation].1)"
    }

    static func random(_ rng: inout SplitMix64, index: Int) -> PoolCase {
        let kernels = [2, 3, 5]
        while true {
            let kh = kernels.randomElement(using: &rng)!
            let kw = Int.random(in: 0..<4, using: &rng) == 0 ? kernels.randomElement(using: &rng)! : kh
            let pad = RefPadding(top: Int.random(in: 0..<kh, using: &rng), left: Int.random(in: 0..<kw, using: &rng),
                                 bottom: Int.random(in: 0..<kh, using: &rng), right: Int.random(in: 0..<kw, using: &rng))
            let spatial = [1, 2, 3, 5, 7, 9, 11, 13]
            let pc = PoolCase(n: index % 3 == 0 ? 1 : 2, h: spatial.randomElement(using: &rng)!,
                              w: spatial.randomElement(using: &rng)!, c: Int.random(in: 1...70, using: &rng),
                              kh: kh, kw: kw, sh: Int.random(in: 1...2, using: &rng), sw: Int.random(in: 1...2, using: &rng),
                              pad: pad, inExtra: index % 2 == 0 ? 0 : Int.random(in: 1...5, using: &rng),
                              outExtra: index % 4 < 2 ? 0 : Int.random(in: 1...3, using: &rng),
                              activation: index % allActivations.count)
            if pc.fits { return pc }
        }
    }
}

private enum WindowPool { case max, avgIncludePad, avgExcludePad }

/// Runs mk_max_pool2d / mk_avg_pool2d on a case, dense result.
private func runWindowPool(_ kind: WindowPool, _ pc: PoolCase, _ x: [Float], variant: mk_variant,
                           pool: OpaquePointer?) throws -> [Float] {
    var params = pc.params
    params.count_include_pad = kind == .avgIncludePad
    let label = "\(kind) \(name(variant)) \(pc)\(pool == nil ? "" : " 2 threads")"
    return try runStrided(inPixels: pc.n * pc.h * pc.w, outPixels: pc.n * pc.oh * pc.ow, channels: pc.c, x,
                          inExtra: pc.inExtra, outExtra: pc.outExtra, label: label) { i, si, o, so in
        kind == .max
            ? maxPoolOnce(&params, pc.n, pc.h, pc.w, pc.c, i, si, o, so, variant, pool)
            : avgPoolOnce(&params, pc.n, pc.h, pc.w, pc.c, i, si, o, so, variant, pool)
    }
}

private func referenceWindowPool(_ kind: WindowPool, _ pc: PoolCase, _ x: [Float]) -> [Float] {
    let t = RefTensor(n: pc.n, h: pc.h, w: pc.w, c: pc.c, data: x)
    let pooled = kind == .max
        ? Reference.maxPool2d(t, kernelH: pc.kh, kernelW: pc.kw, strideH: pc.sh, strideW: pc.sw, padding: pc.pad)
        : Reference.avgPool2d(t, kernelH: pc.kh, kernelW: pc.kw, strideH: pc.sh, strideW: pc.sw, padding: pc.pad,
                              countIncludePad: kind == .avgIncludePad)
    return Reference.activation(pooled, allActivations[pc.activation].1).data
}

/// PyTorch's AdaptiveAvgPool2d written out: rows floor(i * h / oh) ..< ceil((i + 1) * h / oh),
/// summed row by row from 0, divided by the count.
private func referenceAdaptive(_ x: [Float], n: Int, h: Int, w: Int, c: Int, oh: Int, ow: Int) -> [Float] {
    var out = [Float](repeating: 0, count: n * oh * ow * c)
    for b in 0..<n {
        for i in 0..<oh {
            let y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh
            for j in 0..<ow {
                let x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow
                for ch in 0..<c {
                    var sum: Float = 0
                    for y in y0..<y1 { for xx in x0..<x1 { sum += x[((b * h + y) * w + xx) * c + ch] } }
                    out[((b * oh + i) * ow + j) * c + ch] = sum / Float((y1 - y0) * (x1 - x0))
                }
            }
        }
    }
    return out
}

@Suite("Pooling, squeeze-and-excitation and add (mk_pool.h, C ABI) vs ReferenceKernels")
struct PoolTests {
    @Test("max and average pooling: randomized shapes, every activation, strides, batch 2; 1 and 2 threads bit-identical",
          arguments: poolVariants)
    func windowPools(variant: mk_variant) throws {
        let pool = try makePool()
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 0x9001 &+ UInt64(variant.rawValue))
        var cases = (0..<90).map { PoolCase.random(&rng, index: $0) }
        // Fixed corners: 1x1 images (a window of one pixel among padding), single channel,
        // channels around the vector widths, every side padded.
        cases += [
            PoolCase(n: 2, h: 1, w: 1, c: 5, kh: 2, kw: 2, sh: 1, sw: 1, pad: RefPadding(top: 1, left: 1, bottom: 0, right: 0),
                     inExtra: 2, outExtra: 1, activation: 0),
            PoolCase(n: 2, h: 1, w: 1, c: 17, kh: 3, kw: 3, sh: 2, sw: 2, pad: .symmetric(1), inExtra: 0, outExtra: 0, activation: 1),
            PoolCase(n: 1, h: 7, w: 7, c: 1, kh: 3, kw: 3, sh: 2, sw: 2, pad: .symmetric(1), inExtra: 3, outExtra: 2, activation: 3),
            PoolCase(n: 2, h: 9, w: 6, c: 64, kh: 5, kw: 3, sh: 2, sw: 1, pad: RefPadding(top: 4, left: 2, bottom: 3, right: 1),
                     inExtra: 1, outExtra: 0, activation: 5),
            PoolCase(n: 2, h: 8, w: 8, c: 65, kh: 2, kw: 2, sh: 2, sw: 2, pad: .zero, inExtra: 0, outExtra: 0, activation: 2),
            PoolCase(n: 1, h: 5, w: 5, c: 300, kh: 3, kw: 3, sh: 1, sw: 1, pad: .symmetric(1), inExtra: 7, outExtra: 1, activation: 4),
            // ShuffleNet's stem pool: 24 channels end in a vector that overlaps the one before.
            PoolCase(n: 2, h: 13, w: 11, c: 24, kh: 3, kw: 3, sh: 2, sw: 2, pad: .symmetric(1), inExtra: 0, outExtra: 3, activation: 0),
        ]
        for pc in cases {
            for kind in [WindowPool.max, .avgIncludePad, .avgExcludePad] {
                let x = poolValues(pc.n * pc.h * pc.w * pc.c, &rng, specials: kind == .max)
                let want = referenceWindowPool(kind, pc, x)
                let one = try runWindowPool(kind, pc, x, variant: variant, pool: nil)
                let two = try runWindowPool(kind, pc, x, variant: variant, pool: pool)
                if let m = activationMismatch(one, want, allActivations[pc.activation].1) {
                    Issue.record("\(kind) \(name(variant)) \(pc): \(m)")
                    return
                }
                if let m = bitMismatch(two, one) {
                    Issue.record("\(kind) \(name(variant)) \(pc): 2 threads differ from 1: \(m)")
                    return
                }
            }
        }
    }

    @Test("max pooling propagates NaN as PyTorch does and is bit-exact; every variant agrees with scalar")
    func maxPoolNaNAndVariants() throws {
        var rng = SplitMix64(seed: 0x9002)
        let pc = PoolCase(n: 2, h: 9, w: 7, c: 37, kh: 3, kw: 3, sh: 2, sw: 2, pad: .symmetric(1), inExtra: 0, outExtra: 0,
                          activation: 0)
        var x = poolValues(pc.n * pc.h * pc.w * pc.c, &rng)
        for i in stride(from: 5, to: x.count, by: 41) { x[i] = Float(bitPattern: 0x7FC0_1234) }
        let want = referenceWindowPool(.max, pc, x)
        #expect(want.contains { $0.isNaN })
        for variant in poolVariants {
            let got = try runWindowPool(.max, pc, x, variant: variant, pool: nil)
            #expect(bitMismatch(got, want) == nil, "\(name(variant)): \(bitMismatch(got, want) ?? "")")
        }
        // Ties: windows of -0.0, +0.0, -1 and -inf, where the first of equal maxima must win
        // (-0.0 and +0.0 compare equal but differ in bits).
        let ties: [Float] = [-0.0, 0.0, -1, -.infinity]
        let z = (0..<x.count).map { _ in ties[Int(rng.next() % 4)] }
        let wantTies = referenceWindowPool(.max, pc, z)
        for variant in poolVariants {
            let got = try runWindowPool(.max, pc, z, variant: variant, pool: nil)
            #expect(bitMismatch(got, wantTies) == nil, "\(name(variant)) ties: \(bitMismatch(got, wantTies) ?? "")")
        }
        // AVX-512, AVX2 and scalar give the same bits on average pooling too (same sums, same order).
        let avgCase = PoolCase(n: 2, h: 11, w: 13, c: 70, kh: 5, kw: 5, sh: 2, sw: 2, pad: .symmetric(2), inExtra: 0,
                               outExtra: 0, activation: 3)
        let y = poolValues(avgCase.n * avgCase.h * avgCase.w * avgCase.c, &rng, specials: false)
        let scalar = try runWindowPool(.avgExcludePad, avgCase, y, variant: MK_VARIANT_SCALAR, pool: nil)
        for variant in poolVariants {
            let got = try runWindowPool(.avgExcludePad, avgCase, y, variant: variant, pool: nil)
            #expect(bitMismatch(got, scalar) == nil, "\(name(variant)) vs scalar")
        }
    }

    @Test("global average pooling: bit-exact against the reference; strides, batch 2, 1 and 2 threads", arguments: poolVariants)
    func globalAverage(variant: mk_variant) throws {
        let pool = try makePool()
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 0x9003 &+ UInt64(variant.rawValue))
        let shapes: [(Int, Int, Int, Int)] = [(2, 1, 1, 1), (2, 7, 7, 70), (1, 3, 5, 17), (2, 14, 14, 96), (1, 7, 7, 1280),
                                             (2, 2, 9, 33), (1, 1, 1, 700)]
        for (n, h, w, c) in shapes {
            for (inExtra, outExtra) in [(0, 0), (3, 2)] {
                let x = poolValues(n * h * w * c, &rng, specials: false)
                let want = Reference.globalAveragePool(RefTensor(n: n, h: h, w: w, c: c, data: x)).data
                for p in [nil, pool] {
                    let label = "\(name(variant)) [\(n), \(h), \(w), \(c)] +\(inExtra)/+\(outExtra)\(p == nil ? "" : " 2 threads")"
                    let got = try runStrided(inPixels: n * h * w, outPixels: n, channels: c, x, inExtra: inExtra,
                                             outExtra: outExtra, label: label) { i, si, o, so in
                        globalAvgPoolOnce(n, h, w, c, i, si, o, so, variant, p)
                    }
                    #expect(bitMismatch(got, want) == nil, "\(label): \(bitMismatch(got, want) ?? "")")
                }
            }
        }
    }

    @Test("adaptive average pooling: PyTorch's windows (shrink, identity, grow, 1x1), 1 and 2 threads", arguments: poolVariants)
    func adaptiveAverage(variant: mk_variant) throws {
        let pool = try makePool()
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 0x9004 &+ UInt64(variant.rawValue))
        // (n, h, w, c, oh, ow)
        let cases: [(Int, Int, Int, Int, Int, Int)] = [
            (2, 13, 13, 19, 6, 6), (1, 7, 7, 64, 7, 7), (2, 5, 3, 33, 7, 7), (1, 10, 9, 5, 3, 4), (2, 6, 6, 70, 1, 1),
            (1, 1, 1, 8, 2, 3), (2, 14, 15, 40, 7, 7),
        ]
        for (n, h, w, c, oh, ow) in cases {
            let x = poolValues(n * h * w * c, &rng, specials: false)
            let want = referenceAdaptive(x, n: n, h: h, w: w, c: c, oh: oh, ow: ow)
            for p in [nil, pool] {
                let label = "\(name(variant)) [\(n), \(h), \(w), \(c)] -> \(oh)x\(ow)\(p == nil ? "" : " 2 threads")"
                let got = try runStrided(inPixels: n * h * w, outPixels: n * oh * ow, channels: c, x, inExtra: 2,
                                         outExtra: 1, label: label) { i, si, o, so in
                    adaptiveAvgPoolOnce(n, h, w, c, oh, ow, i, si, o, so, variant, p)
                }
                #expect(bitMismatch(got, want) == nil, "\(label): \(bitMismatch(got, want) ?? "")")
                if h == oh && w == ow { #expect(bitMismatch(got, x.map { $0 + 0 }) == nil, "\(label): not the identity") }
                if oh == 1 && ow == 1 {
                    let global = Reference.globalAveragePool(RefTensor(n: n, h: h, w: w, c: c, data: x)).data
                    #expect(bitMismatch(got, global) == nil, "\(label): not the global average")
                }
            }
        }
    }

    /// Random SE weights of the given sizes.
    private struct SEWeights {
        var w1, b1, w2, b2: [Float]
        init(c: Int, s: Int, _ rng: inout SplitMix64) {
            w1 = rng.floats(s * c, -0.5, 0.5)
            b1 = rng.floats(s, -0.5, 0.5)
            w2 = rng.floats(c * s, -0.5, 0.5)
            b2 = rng.floats(c, -1, 1)
        }
    }

    private func makeSE(_ c: Int, _ s: Int, _ wt: SEWeights, _ variant: mk_variant) throws -> OpaquePointer {
        var op: OpaquePointer?
        let status = mk_squeeze_excitation_f32_create(c, s, wt.w1, wt.b1, wt.w2, wt.b2, variant, &op)
        try #require(status == MK_STATUS_OK, "SE create C\(c) S\(s) \(name(variant)): \(statusText(status))")
        return op!
    }

    /// SE through the C ABI: out of place with strides, or in place in one strided buffer.
    private func runSE(_ op: OpaquePointer, n: Int, h: Int, w: Int, c: Int, _ x: [Float], inExtra: Int, outExtra: Int,
                       inPlace: Bool, pool: OpaquePointer?) throws -> [Float] {
        let label = "SE C\(c) [\(n), \(h), \(w)] +\(inExtra)/+\(outExtra)\(inPlace ? " in place" : "")"
        if !inPlace {
            return try runStrided(inPixels: n * h * w, outPixels: n * h * w, channels: c, x, inExtra: inExtra,
                                  outExtra: outExtra, label: label) { i, si, o, so in
                squeezeExcitationRun(op, n, h, w, i, si, o, so, pool)
            }
        }
        let stride = c + outExtra, pixels = n * h * w
        var buffer = [Float](repeating: sentinel, count: pixels * stride + 8)
        for p in 0..<pixels { for ch in 0..<c { buffer[p * stride + ch] = x[p * c + ch] } }
        let status = buffer.withUnsafeMutableBufferPointer { b in
            squeezeExcitationRun(op, n, h, w, b.baseAddress, stride, b.baseAddress, stride, pool)
        }
        try #require(status == MK_STATUS_OK, "\(label): \(statusText(status))")
        var dense = [Float](repeating: 0, count: pixels * c)
        var stray = 0
        for p in 0..<pixels {
            for ch in 0..<stride {
                if ch < c { dense[p * c + ch] = buffer[p * stride + ch] } else if buffer[p * stride + ch].bitPattern != sentinel.bitPattern { stray += 1 }
            }
        }
        #expect(stray == 0, "\(label): wrote between pixels")
        return dense
    }

    @Test("squeeze-and-excitation vs the reference; in place, strides, batch 2, 1 and 2 threads; variants agree bit for bit")
    func squeezeExcitation() throws {
        let pool = try makePool()
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 0x9005)
        // (n, h, w, c, s): MobileNetV3 shapes and odd ones (s > c as torchvision's rounding allows).
        let cases: [(Int, Int, Int, Int, Int)] = [
            (2, 7, 7, 72, 24), (1, 14, 14, 120, 32), (2, 3, 5, 17, 8), (1, 1, 1, 1, 8), (2, 4, 4, 70, 3), (1, 7, 7, 960, 240),
            (2, 2, 3, 65, 16),
        ]
        for (n, h, w, c, s) in cases {
            let wt = SEWeights(c: c, s: s, &rng)
            let x = rng.floats(n * h * w * c, -3, 3)
            let want = Reference.squeezeExcitation(RefTensor(n: n, h: h, w: w, c: c, data: x), fc1Weight: wt.w1,
                                                   fc1Bias: wt.b1, squeezeChannels: s, fc2Weight: wt.w2, fc2Bias: wt.b2).data
            var first: [Float]?
            for variant in poolVariants {
                let op = try makeSE(c, s, wt, variant)
                defer { mk_squeeze_excitation_f32_destroy(op) }
                #expect(mk_squeeze_excitation_f32_variant(op) == variant)
                let label = "SE \(name(variant)) [\(n), \(h), \(w), \(c)] s\(s)"
                let got = try runSE(op, n: n, h: h, w: w, c: c, x, inExtra: 0, outExtra: 0, inPlace: false, pool: nil)
                var bad: Int?
                for i in 0..<got.count where abs(got[i] - want[i]) > 1e-5 * max(1, abs(want[i])) {
                    bad = i
                    break
                }
                #expect(bad == nil, "\(label): \(bad.map { "at \($0): \(got[$0]) vs \(want[$0])" } ?? "")")
                let layouts: [(Int, Int, Bool, OpaquePointer?)] = [(3, 2, false, pool), (0, 0, true, nil), (0, 3, true, pool),
                                                                    (2, 0, false, pool)]
                for (inExtra, outExtra, inPlace, p) in layouts {
                    let other = try runSE(op, n: n, h: h, w: w, c: c, x, inExtra: inExtra, outExtra: outExtra,
                                          inPlace: inPlace, pool: p)
                    #expect(bitMismatch(other, got) == nil,
                            "\(label) +\(inExtra)/+\(outExtra) in place \(inPlace) threads \(p == nil ? 1 : 2): \(bitMismatch(other, got) ?? "")")
                }
                if let first {
                    #expect(bitMismatch(got, first) == nil, "\(label) differs from \(name(poolVariants[0]))")
                } else {
                    first = got
                }
            }
        }
    }

    @Test("squeeze-and-excitation at 8192 channels, NULL biases, and two threads running one op at once")
    func squeezeExcitationLimitsAndConcurrency() throws {
        var rng = SplitMix64(seed: 0x9006)
        let (c, s) = (8192, 16)
        let wt = SEWeights(c: c, s: s, &rng)
        let x = rng.floats(2 * c, -2, 2)
        var op: OpaquePointer?
        try #require(mk_squeeze_excitation_f32_create(c, s, wt.w1, nil, wt.w2, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_squeeze_excitation_f32_destroy(op) }
        let want = Reference.squeezeExcitation(RefTensor(n: 2, h: 1, w: 1, c: c, data: x), fc1Weight: wt.w1,
                                               fc1Bias: [Float](repeating: 0, count: s), squeezeChannels: s,
                                               fc2Weight: wt.w2, fc2Bias: [Float](repeating: 0, count: c)).data
        let got = try runSE(op!, n: 2, h: 1, w: 1, c: c, x, inExtra: 0, outExtra: 0, inPlace: true, pool: nil)
        var bad = 0
        for i in 0..<got.count where abs(got[i] - want[i]) > 1e-5 * max(1, abs(want[i])) { bad += 1 }
        #expect(bad == 0, "C 8192: \(bad) values off")

        // Two threads, one op, different images: each matches its serial result.
        let small = SEWeights(c: 96, s: 24, &rng)
        let se = try makeSE(96, 24, small, MK_VARIANT_AUTO)
        defer { mk_squeeze_excitation_f32_destroy(se) }
        let inputs = (0..<2).map { _ in rng.floats(14 * 14 * 96, -3, 3) }
        let serial = try inputs.map { try runSE(se, n: 1, h: 14, w: 14, c: 96, $0, inExtra: 0, outExtra: 0, inPlace: false, pool: nil) }
        let count = 14 * 14 * 96
        let outputs = (0..<2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: count) }
        defer { outputs.forEach { $0.deallocate() } }
        // Pointers cross into the @Sendable closure as integers.
        let opBits = UInt(bitPattern: se), outBits = outputs.map { UInt(bitPattern: $0) }
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            let out = UnsafeMutablePointer<Float>(bitPattern: outBits[k])
            for _ in 0..<20 {
                _ = squeezeExcitationRun(OpaquePointer(bitPattern: opBits), 1, 14, 14, inputs[k], 0, out, 0, nil)
            }
        }
        for k in 0..<2 {
            let got = Array(UnsafeBufferPointer(start: outputs[k], count: count))
            #expect(bitMismatch(got, serial[k]) == nil, "concurrent run \(k)")
        }
    }

    @Test("add: every activation, strides, in place into a or b, a == b; bit-exact, 1 and 2 threads", arguments: poolVariants)
    func add(variant: mk_variant) throws {
        let pool = try makePool()
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 0x9007 &+ UInt64(variant.rawValue))
        for (index, (pixels, c)) in [(1, 1), (37, 3), (50, 70), (9, 16), (200, 24), (3000, 17), (7, 1000)].enumerated() {
            for (ai, (act, ref)) in allActivations.enumerated() {
                let a = poolValues(pixels * c, &rng, specials: false), b = poolValues(pixels * c, &rng, specials: false)
                let want = Reference.add(RefTensor(n: 1, h: 1, w: pixels, c: c, data: a),
                                         RefTensor(n: 1, h: 1, w: pixels, c: c, data: b), activation: ref).data
                let label = "add \(name(variant)) pixels \(pixels) C\(c) \(ref)"
                let p = (index + ai) % 2 == 0 ? nil : pool
                // Out of place, strided a (the runner's input), dense or strided b and output.
                let bExtra = ai % 3
                var bRows = [Float](repeating: .nan, count: pixels * (c + bExtra))
                for q in 0..<pixels { for ch in 0..<c { bRows[q * (c + bExtra) + ch] = b[q * c + ch] } }
                let bStrided = bRows
                let got = try runStrided(inPixels: pixels, outPixels: pixels, channels: c, a, inExtra: 2, outExtra: ai % 2,
                                         label: label) { i, si, o, so in
                    addOnce(pixels, c, i, si, bStrided, c + bExtra, o, so, act, variant, p)
                }
                #expect(activationMismatch(got, want, ref) == nil, "\(label): \(activationMismatch(got, want, ref) ?? "")")
                // In place: a += b, then b += a (output == the second operand).
                var acc = a
                var status = acc.withUnsafeMutableBufferPointer { y in
                    addOnce(pixels, c, y.baseAddress, 0, b, 0, y.baseAddress, 0, act, variant, p)
                }
                #expect(status == MK_STATUS_OK)
                #expect(bitMismatch(acc, got) == nil, "\(label) into a")
                var acc2 = b
                status = acc2.withUnsafeMutableBufferPointer { y in
                    addOnce(pixels, c, a, 0, y.baseAddress, 0, y.baseAddress, 0, act, variant, p)
                }
                #expect(status == MK_STATUS_OK)
                #expect(bitMismatch(acc2, got) == nil, "\(label) into b")
                // a == b == output: x = act(x + x).
                var twice = a
                status = twice.withUnsafeMutableBufferPointer { y in
                    addOnce(pixels, c, y.baseAddress, 0, y.baseAddress, 0, y.baseAddress, 0, act, variant, p)
                }
                #expect(status == MK_STATUS_OK)
                let wantTwice = Reference.add(RefTensor(n: 1, h: 1, w: pixels, c: c, data: a),
                                              RefTensor(n: 1, h: 1, w: pixels, c: c, data: a), activation: ref).data
                #expect(activationMismatch(twice, wantTwice, ref) == nil, "\(label) x + x in place")
            }
        }
    }

    @Test("bad arguments return their status and write nothing")
    func errors() {
        var buffer = [Float](repeating: 1, count: 1024)
        let other = [Float](repeating: 2, count: 1024)
        let none = mk_activation(kind: MK_ACTIVATION_NONE, min: 0, max: 0)
        let auto = MK_VARIANT_AUTO
        let params = mk_pool2d_params(kernel_h: 3, kernel_w: 3, stride_h: 2, stride_w: 2, pad_top: 1, pad_left: 1,
                                      pad_bottom: 1, pad_right: 1, count_include_pad: true, activation: none)
        other.withUnsafeBufferPointer { ob in
            let o = ob.baseAddress!
            buffer.withUnsafeMutableBufferPointer { bp in
                let p = bp.baseAddress!
                var pp = params
                var oh = 0, ow = 0
                #expect(mk_pool2d_output_size(&pp, 7, 7, &oh, &ow) == MK_STATUS_OK && oh == 4 && ow == 4)
                #expect(mk_pool2d_output_size(nil, 7, 7, &oh, &ow) == MK_STATUS_NULL_POINTER)
                #expect(mk_pool2d_output_size(&pp, 0, 7, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_pool2d_output_size(&pp, -1, 7, &oh, &ow) == MK_STATUS_SIZE_OVERFLOW)  // SIZE_MAX + padding
                for pool in [maxPoolOnce, avgPoolOnce] {
                    func run(_ q: mk_pool2d_params, n: Int = 1, h: Int = 7, w: Int = 7, c: Int = 4,
                             input: UnsafePointer<Float>? = nil, inStride: Int = 0,
                             output: UnsafeMutablePointer<Float>? = nil, outStride: Int = 0,
                             variant: mk_variant = MK_VARIANT_AUTO) -> mk_status {
                        var q = q
                        return pool(&q, n, h, w, c, input ?? o, inStride, output ?? p, outStride, variant, nil)
                    }
                    #expect(pool(nil, 1, 7, 7, 4, o, 0, p, 0, auto, nil) == MK_STATUS_NULL_POINTER)
                    #expect(pool(&pp, 1, 7, 7, 4, nil, 0, p, 0, auto, nil) == MK_STATUS_NULL_POINTER)
                    #expect(pool(&pp, 1, 7, 7, 4, o, 0, nil, 0, auto, nil) == MK_STATUS_NULL_POINTER)
                    var q = params
                    q.kernel_h = 0
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    q = params
                    q.stride_w = 0
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    q = params
                    q.pad_bottom = 3  // == kernel
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    q = params
                    q.pad_left = 3
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    q = params
                    q.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 2, max: 1)
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    q.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: .nan, max: 1)
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    q.activation = mk_activation(kind: mk_activation_kind(rawValue: 99), min: 0, max: 0)
                    #expect(run(q) == MK_STATUS_INVALID_ARGUMENT)
                    #expect(run(params, n: 0) == MK_STATUS_INVALID_ARGUMENT)
                    #expect(run(params, h: 0) == MK_STATUS_INVALID_ARGUMENT)
                    #expect(run(params, c: 0) == MK_STATUS_INVALID_ARGUMENT)
                    q = params
                    q.pad_top = 0
                    q.pad_bottom = 0
                    #expect(run(q, h: 2) == MK_STATUS_INVALID_ARGUMENT)  // output < 1
                    #expect(run(params, inStride: 3) == MK_STATUS_INVALID_ARGUMENT)  // stride < channels
                    #expect(run(params, outStride: 3) == MK_STATUS_INVALID_ARGUMENT)
                    #expect(run(params, n: Int.max / 2) == MK_STATUS_SIZE_OVERFLOW)
                    #expect(run(params, h: Int.max) == MK_STATUS_SIZE_OVERFLOW)
                    #expect(run(params, inStride: Int.max / 4) == MK_STATUS_SIZE_OVERFLOW)
                    #expect(run(params, variant: MK_VARIANT_BLIS) == MK_STATUS_UNSUPPORTED)
                    #expect(run(params, variant: mk_variant(rawValue: 42)) != MK_STATUS_OK)
                    for v in [MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_NEON] where !mk_variant_available(v) {
                        #expect(run(params, variant: v) == MK_STATUS_UNSUPPORTED, "\(name(v))")
                    }
                    // Overlap: the input is 7 * 7 * 4 = 196 floats, the output 4 * 4 * 4 = 64.
                    #expect(run(params, input: UnsafePointer(p), output: p + 100) == MK_STATUS_INVALID_ARGUMENT)
                    #expect(run(params, input: UnsafePointer(p + 150), output: p + 100) == MK_STATUS_INVALID_ARGUMENT)
                    #expect(run(params, input: UnsafePointer(p), output: p) == MK_STATUS_INVALID_ARGUMENT)
                }

                #expect(globalAvgPoolOnce(1, 7, 7, 4, nil, 0, p, 0, auto, nil) == MK_STATUS_NULL_POINTER)
                #expect(globalAvgPoolOnce(1, 7, 7, 4, o, 0, nil, 0, auto, nil) == MK_STATUS_NULL_POINTER)
                #expect(globalAvgPoolOnce(0, 7, 7, 4, o, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(globalAvgPoolOnce(1, 0, 7, 4, o, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(globalAvgPoolOnce(1, 7, 7, 0, o, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(globalAvgPoolOnce(1, 7, 7, 4, o, 2, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(globalAvgPoolOnce(1, 7, 7, 4, o, 0, p, 0, MK_VARIANT_BLIS, nil) == MK_STATUS_UNSUPPORTED)
                #expect(globalAvgPoolOnce(1, Int.max / 2, 7, 4, o, 0, p, 0, auto, nil) == MK_STATUS_SIZE_OVERFLOW)
                #expect(globalAvgPoolOnce(1, 7, 7, 4, p, 0, p + 8, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(adaptiveAvgPoolOnce(1, 7, 7, 4, 0, 7, o, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(adaptiveAvgPoolOnce(1, 7, 7, 4, 7, 0, o, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(adaptiveAvgPoolOnce(1, 7, 7, 4, 3, 3, nil, 0, p, 0, auto, nil) == MK_STATUS_NULL_POINTER)
                #expect(adaptiveAvgPoolOnce(1, Int.max / 2, 7, 4, 3, 3, o, 0, p, 0, auto, nil) == MK_STATUS_SIZE_OVERFLOW)
                #expect(adaptiveAvgPoolOnce(1, 7, 7, 4, 3, 3, p, 0, p + 100, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(adaptiveAvgPoolOnce(1, 7, 7, 4, 3, 3, o, 0, p, 0, MK_VARIANT_BLIS, nil) == MK_STATUS_UNSUPPORTED)

                #expect(addOnce(4, 8, nil, 0, o, 0, p, 0, none, auto, nil) == MK_STATUS_NULL_POINTER)
                #expect(addOnce(4, 8, o, 0, nil, 0, p, 0, none, auto, nil) == MK_STATUS_NULL_POINTER)
                #expect(addOnce(4, 8, o, 0, o, 0, nil, 0, none, auto, nil) == MK_STATUS_NULL_POINTER)
                #expect(addOnce(0, 8, o, 0, o, 0, p, 0, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 0, o, 0, o, 0, p, 0, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 8, o, 7, o, 0, p, 0, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 8, o, 0, o, 0, p, 7, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 8, o, 0, o, 0, p, 0, mk_activation(kind: MK_ACTIVATION_CLAMP, min: 1, max: 0),
                                           auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 8, o, 0, o, 0, p, 0, none, MK_VARIANT_BLIS, nil) == MK_STATUS_UNSUPPORTED)
                #expect(addOnce(Int.max / 2, 8, o, 0, o, 0, p, 0, none, auto, nil) == MK_STATUS_SIZE_OVERFLOW)
                // The output may be a or b exactly, not shifted or with another stride.
                #expect(addOnce(4, 8, p, 0, o, 0, p + 1, 0, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 8, o, 0, p + 3, 0, p, 0, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
                #expect(addOnce(4, 8, p, 8, o, 0, p, 16, none, auto, nil) == MK_STATUS_INVALID_ARGUMENT)

                var untouched = 0
                for i in 0..<1024 where p[i] == 1 { untouched += 1 }
                #expect(untouched == 1024, "a rejected call wrote the buffer")
                // Adjacent (touching) buffers are fine: input [0, 196), output [196, 260).
                #expect(maxPoolOnce(&pp, 1, 7, 7, 4, p, 0, p + 196, 0, auto, nil) == MK_STATUS_OK)
                #expect(addOnce(4, 8, p, 0, p + 32, 0, p + 64, 0, none, auto, nil) == MK_STATUS_OK)
            }
        }

        // Squeeze-and-excitation.
        let w = [Float](repeating: 0.1, count: 16 * 4)
        var op: OpaquePointer?
        #expect(mk_squeeze_excitation_f32_create(16, 4, w, nil, w, nil, auto, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_squeeze_excitation_f32_create(16, 4, nil, nil, w, nil, auto, &op) == MK_STATUS_NULL_POINTER)
        #expect(mk_squeeze_excitation_f32_create(16, 4, w, nil, nil, nil, auto, &op) == MK_STATUS_NULL_POINTER)
        #expect(mk_squeeze_excitation_f32_create(0, 4, w, nil, w, nil, auto, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_f32_create(16, 0, w, nil, w, nil, auto, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_f32_create(8193, 4, w, nil, w, nil, auto, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_f32_create(4, 8193, w, nil, w, nil, auto, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_squeeze_excitation_f32_create(16, 4, w, nil, w, nil, MK_VARIANT_BLIS, &op) == MK_STATUS_UNSUPPORTED)
        #expect(op == nil)
        #expect(mk_squeeze_excitation_f32_create(16, 4, w, nil, w, nil, auto, &op) == MK_STATUS_OK)
        defer { mk_squeeze_excitation_f32_destroy(op) }
        var image = [Float](repeating: 1, count: 4 * 16 * 2)
        image.withUnsafeMutableBufferPointer { bp in
            let p = bp.baseAddress!
            #expect(squeezeExcitationRun(nil, 1, 2, 2, p, 0, p, 0, nil) == MK_STATUS_NULL_POINTER)
            #expect(squeezeExcitationRun(op, 1, 2, 2, nil, 0, p, 0, nil) == MK_STATUS_NULL_POINTER)
            #expect(squeezeExcitationRun(op, 1, 2, 2, p, 0, nil, 0, nil) == MK_STATUS_NULL_POINTER)
            #expect(squeezeExcitationRun(op, 0, 2, 2, p, 0, p, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(squeezeExcitationRun(op, 1, 0, 2, p, 0, p, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(squeezeExcitationRun(op, 1, 2, 2, p, 15, p, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(squeezeExcitationRun(op, 1, 2, 2, p, 0, p + 1, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(squeezeExcitationRun(op, 1, 2, 2, p, 16, p, 32, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(squeezeExcitationRun(op, Int.max / 2, 2, 2, p, 0, p, 0, nil) == MK_STATUS_SIZE_OVERFLOW)
            var untouched = 0
            for i in 0..<bp.count where p[i] == 1 { untouched += 1 }
            #expect(untouched == bp.count, "a rejected call wrote the buffer")
            #expect(squeezeExcitationRun(op, 1, 2, 2, p, 0, p + 64, 0, nil) == MK_STATUS_OK)  // adjacent
        }
        #expect(mk_squeeze_excitation_f32_variant(nil) == MK_VARIANT_AUTO)
        mk_squeeze_excitation_f32_destroy(nil)
    }
}
