import CKernels
import ReferenceKernels
import Testing

/// One depthwise configuration of the randomized sweep.
struct DWCase: CustomStringConvertible {
    var batch = 1, h = 5, w = 5, c = 8
    var kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1
    var pad = RefPadding.zero
    var activation = 0  // index into allActivations
    var withBias = true
    var description: String {
        "n\(batch) \(h)x\(w)x\(c) k\(kh)x\(kw) s\(sh)x\(sw) d\(dh)x\(dw) pad(t\(pad.top) l\(pad.left) b\(pad.bottom) r\(pad.right)) \(allActivations[activation].1) bias:\(withBias)"
    }
    var outH: Int { (h + pad.top + pad.bottom - dh * (kh - 1) - 1) / sh + 1 }
    var outW: Int { (w + pad.left + pad.right - dw * (kw - 1) - 1) / sw + 1 }
    var valid: Bool {
        h + pad.top + pad.bottom >= dh * (kh - 1) + 1 && w + pad.left + pad.right >= dw * (kw - 1) + 1
            && pad.top < dh * (kh - 1) + 1 && pad.bottom < dh * (kh - 1) + 1
            && pad.left < dw * (kw - 1) + 1 && pad.right < dw * (kw - 1) + 1
    }
    var params: mk_dwconv2d_params {
        mk_dwconv2d_params(channels: c, kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw,
                           dilation_h: dh, dilation_w: dw, pad_top: pad.top, pad_left: pad.left,
                           pad_bottom: pad.bottom, pad_right: pad.right, activation: allActivations[activation].0)
    }
}

/// Runs `variant` on `cs` with the given pixel strides (extra floats between pixels are filled
/// with a sentinel that must survive) and returns the dense NHWC output, or nil if it failed.
func runDepthwise(_ cs: DWCase, variant: mk_variant, x: [Float], weights: [Float], bias: [Float]?,
                  inExtra: Int = 0, outExtra: Int = 0, pool: OpaquePointer? = nil) throws -> [Float] {
    var p = cs.params
    var op: OpaquePointer?
    let created = bias.withOptionalPointer { mk_dwconv2d_f32_create(&p, weights, $0, variant, &op) }
    try #require(created == MK_STATUS_OK, "create \(cs)")
    defer { mk_dwconv2d_f32_destroy(op) }
    var oh = 0, ow = 0
    try #require(mk_dwconv2d_f32_output_size(op, cs.h, cs.w, &oh, &ow) == MK_STATUS_OK)
    try #require(oh == cs.outH && ow == cs.outW, "output size of \(cs)")
    let inStride = cs.c + inExtra, outStride = cs.c + outExtra
    let inPixels = cs.batch * cs.h * cs.w, outPixels = cs.batch * oh * ow
    var input = [Float](repeating: .nan, count: inPixels * inStride)
    for i in 0..<inPixels { for ch in 0..<cs.c { input[i * inStride + ch] = x[i * cs.c + ch] } }
    var output = [Float](repeating: sentinel, count: outPixels * outStride + 8)
    let status = output.withUnsafeMutableBufferPointer { o in
        dwconvRun(op, cs.batch, cs.h, cs.w, input, inStride, o.baseAddress, outStride, pool)
    }
    try #require(status == MK_STATUS_OK, "run \(cs)")
    var dense = [Float](repeating: 0, count: outPixels * cs.c)
    for i in 0..<outPixels {
        for ch in 0..<outStride {
            let v = output[i * outStride + ch]
            if ch < cs.c { dense[i * cs.c + ch] = v } else {
                #expect(v.bitPattern == sentinel.bitPattern, "wrote between pixels: \(cs)")
            }
        }
    }
    for i in (outPixels * outStride)..<output.count {
        #expect(output[i].bitPattern == sentinel.bitPattern, "wrote past the output: \(cs)")
    }
    return dense
}

/// The reference result of `cs`.
func referenceDepthwise(_ cs: DWCase, x: [Float], weights: [Float], bias: [Float]?) -> [Float] {
    Reference.conv2d(RefTensor(n: cs.batch, h: cs.h, w: cs.w, c: cs.c, data: x), weight: weights, bias: bias,
                     outChannels: cs.c, kernelH: cs.kh, kernelW: cs.kw, strideH: cs.sh, strideW: cs.sw,
                     padding: cs.pad, dilationH: cs.dh, dilationW: cs.dw, groups: cs.c,
                     activation: allActivations[cs.activation].1).data
}

/// |got - want| <= 1e-5 * reduction length + 1e-4 * |want| (inputs and weights in [-1, 1]).
func closeEnough(_ got: [Float], _ want: [Float], reduction: Int) -> (Bool, String) {
    guard got.count == want.count else { return (false, "count \(got.count) != \(want.count)") }
    for i in 0..<got.count {
        let tolerance = 1e-5 * Float(reduction) + 1e-4 * abs(want[i])
        if !(abs(got[i] - want[i]) <= tolerance) { return (false, "at \(i): got \(got[i]), want \(want[i])") }
    }
    return (true, "")
}

/// A randomized depthwise case drawn from the sweep.
func randomDWCase(_ rng: inout SplitMix64) -> DWCase {
    let channels = [1, 3, 8, 15, 16, 17, 31, 33, 64, 100, 144]
    var cs = DWCase()
    repeat {
        cs.c = channels.randomElement(using: &rng)!
        let k = [3, 3, 5, 5, 7, 1, 2].randomElement(using: &rng)!
        cs.kh = k
        cs.kw = Int.random(in: 0..<5, using: &rng) == 0 ? [1, 3, 5].randomElement(using: &rng)! : k
        cs.h = Int.random(in: 1...19, using: &rng)
        cs.w = Int.random(in: 1...19, using: &rng)
        cs.sh = [1, 1, 2, 2, 3].randomElement(using: &rng)!
        cs.sw = Int.random(in: 0..<4, using: &rng) == 0 ? [1, 2, 3].randomElement(using: &rng)! : cs.sh
        cs.dh = Int.random(in: 0..<5, using: &rng) == 0 ? 2 : 1
        cs.dw = Int.random(in: 0..<5, using: &rng) == 0 ? 2 : cs.dh
        let eh = cs.dh * (cs.kh - 1) + 1, ew = cs.dw * (cs.kw - 1) + 1
        if Int.random(in: 0..<3, using: &rng) == 0 {
            cs.pad = RefPadding(top: Int.random(in: 0..<eh, using: &rng), left: Int.random(in: 0..<ew, using: &rng),
                                bottom: Int.random(in: 0..<eh, using: &rng), right: Int.random(in: 0..<ew, using: &rng))
        } else {
            cs.pad = RefPadding(top: (eh - 1) / 2, left: (ew - 1) / 2, bottom: (eh - 1) / 2, right: (ew - 1) / 2)
        }
        cs.batch = Int.random(in: 0..<4, using: &rng) == 0 ? 2 : 1
        cs.activation = Int.random(in: 0..<allActivations.count, using: &rng)
        cs.withBias = Int.random(in: 0..<5, using: &rng) != 0
    } while !cs.valid
    return cs
}

@Suite("Depthwise convolution (C ABI) vs ReferenceKernels")
struct DepthwiseTests {
    @Test("randomized sweep: channels, sizes 1...19, K 1-7, stride 1-3, asymmetric padding, dilation, batch 2, every activation")
    func sweep() throws {
        var rng = SplitMix64(seed: 2024)
        for index in 0..<300 {
            let cs = randomDWCase(&rng)
            let x = rng.floats(cs.batch * cs.h * cs.w * cs.c, -1, 1)
            let weights = rng.floats(cs.c * cs.kh * cs.kw, -1, 1)
            let bias = cs.withBias ? rng.floats(cs.c, -1, 1) : nil
            let want = referenceDepthwise(cs, x: x, weights: weights, bias: bias)
            for variant in familyVariants(MK_FAMILY_F32_DWCONV) {
                // Every fourth case reads from and writes into channel slices of wider tensors.
                let extra = index % 4 == 0 ? 3 : 0
                let got = try runDepthwise(cs, variant: variant, x: x, weights: weights, bias: bias,
                                           inExtra: extra, outExtra: extra)
                let (ok, detail) = closeEnough(got, want, reduction: cs.kh * cs.kw)
                #expect(ok, "\(String(cString: mk_variant_name(variant))) \(cs): \(detail)")
                if !ok { return }
            }
        }
    }

    @Test("MobileNet layer shapes: 3x3 and 5x5, stride 1 and 2, TF SAME asymmetric padding")
    func layerShapes() throws {
        var rng = SplitMix64(seed: 77)
        var cases: [DWCase] = []
        for (k, s) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
            for c in [16, 24, 40, 72] {
                let h = 14 + c % 3
                var cs = DWCase(h: h, w: h + 1, c: c, kh: k, kw: k, sh: s, sw: s)
                cs.pad = .symmetric(k / 2)
                cases.append(cs)
                // TensorFlow SAME for stride 2 on an even input pads less on the top/left.
                cs.pad = RefPadding(top: (k - s) / 2, left: (k - s) / 2, bottom: k - s - (k - s) / 2, right: k - s - (k - s) / 2)
                cs.activation = 3
                cases.append(cs)
            }
        }
        for cs in cases where cs.valid {
            let x = rng.floats(cs.batch * cs.h * cs.w * cs.c, -1, 1)
            let weights = rng.floats(cs.c * cs.kh * cs.kw, -1, 1)
            let bias = rng.floats(cs.c, -1, 1)
            let want = referenceDepthwise(cs, x: x, weights: weights, bias: bias)
            for variant in familyVariants(MK_FAMILY_F32_DWCONV) {
                let got = try runDepthwise(cs, variant: variant, x: x, weights: weights, bias: bias)
                let (ok, detail) = closeEnough(got, want, reduction: cs.kh * cs.kw)
                #expect(ok, "\(String(cString: mk_variant_name(variant))) \(cs): \(detail)")
            }
        }
    }

    @Test("1 and 2 threads give bit-identical output", arguments: familyVariants(MK_FAMILY_F32_DWCONV))
    func threads(variant: mk_variant) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 31)
        for (k, s, c, h) in [(3, 1, 33, 28), (3, 2, 96, 29), (5, 1, 40, 14), (5, 2, 72, 27), (7, 1, 17, 9), (3, 1, 960, 7)] {
            var cs = DWCase(batch: 2, h: h, w: h, c: c, kh: k, kw: k, sh: s, sw: s)
            cs.pad = .symmetric(k / 2)
            cs.activation = 3
            let x = rng.floats(cs.batch * h * h * c, -1, 1)
            let weights = rng.floats(c * k * k, -1, 1)
            let bias = rng.floats(c, -1, 1)
            let one = try runDepthwise(cs, variant: variant, x: x, weights: weights, bias: bias)
            let two = try runDepthwise(cs, variant: variant, x: x, weights: weights, bias: bias, pool: pool)
            #expect(one.map(\.bitPattern) == two.map(\.bitPattern), "\(cs)")
        }
    }

    @Test("3x3 and 5x5 use the specialized microkernels; other kernels the generic one")
    func specialization() throws {
        for (k, d, s, expected) in [(3, 1, 1, true), (3, 1, 2, true), (5, 1, 2, true), (3, 2, 1, false), (7, 1, 1, false), (3, 1, 3, false)] {
            var p = DWCase(c: 8, kh: k, kw: k, sh: s, sw: s, dh: d, dw: d).params
            var op: OpaquePointer?
            try #require(mk_dwconv2d_f32_create(&p, [Float](repeating: 1, count: 8 * k * k), nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
            #expect(mk_dwconv2d_f32_is_specialized(op) == expected, "k\(k) d\(d) s\(s)")
            mk_dwconv2d_f32_destroy(op)
        }
    }

    @Test("bad arguments return their status")
    func errors() throws {
        let w = [Float](repeating: 1, count: 9 * 4)
        var op: OpaquePointer?
        var p = DWCase(c: 4).params
        #expect(mk_dwconv2d_f32_create(&p, w, nil, MK_VARIANT_AUTO, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_dwconv2d_f32_create(nil, w, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_NULL_POINTER)
        #expect(mk_dwconv2d_f32_create(&p, nil, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_NULL_POINTER)
        for mutate in [{ (q: inout mk_dwconv2d_params) in q.channels = 0 }, { $0.kernel_h = 0 }, { $0.kernel_w = 12 },
                       { $0.stride_h = 0 }, { $0.dilation_w = 0 }, { $0.pad_top = 3 }, { $0.pad_right = 5 },
                       { $0.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 1, max: 0) }] {
            var q = p
            mutate(&q)
            #expect(mk_dwconv2d_f32_create(&q, w, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        }
        var huge = p
        huge.channels = Int.max / 2
        #expect(mk_dwconv2d_f32_create(&huge, w, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_SIZE_OVERFLOW)
        #expect(mk_dwconv2d_f32_create(&p, w, nil, MK_VARIANT_BLIS, &op) == MK_STATUS_UNSUPPORTED)
        #expect(op == nil)

        try #require(mk_dwconv2d_f32_create(&p, w, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_dwconv2d_f32_destroy(op) }
        var oh = 0, ow = 0
        #expect(mk_dwconv2d_f32_output_size(op, 0, 5, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_dwconv2d_f32_output_size(op, 2, 5, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)  // 2 < 3, no padding
        #expect(mk_dwconv2d_f32_output_size(op, 3, 3, &oh, &ow) == MK_STATUS_OK && oh == 1 && ow == 1)
        var x = [Float](repeating: 1, count: 4 * 25), y = [Float](repeating: 0, count: 4 * 9)
        #expect(dwconvRun(nil, 1, 5, 5, x, 0, &y, 0, nil) == MK_STATUS_NULL_POINTER)
        #expect(dwconvRun(op, 1, 5, 5, nil, 0, &y, 0, nil) == MK_STATUS_NULL_POINTER)
        #expect(dwconvRun(op, 0, 5, 5, x, 0, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(dwconvRun(op, 1, 5, 5, x, 3, &y, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(dwconvRun(op, Int.max / 4, 5, 5, x, 0, &y, 0, nil) == MK_STATUS_SIZE_OVERFLOW)
        #expect(dwconvRun(op, 1, Int.max / 2, 5, x, 0, &y, 0, nil) == MK_STATUS_SIZE_OVERFLOW)
        // Overlapping input and output.
        let overlap = x.withUnsafeMutableBufferPointer { b in dwconvRun(op, 1, 5, 5, b.baseAddress, 0, b.baseAddress! + 4, 0, nil) }
        #expect(overlap == MK_STATUS_INVALID_ARGUMENT)
        #expect(dwconvRun(op, 1, 5, 5, x, 0, &y, 0, nil) == MK_STATUS_OK)
        #expect(y.allSatisfy { $0 == 9 })  // all-ones weights over all-ones input, no padding
    }
}
