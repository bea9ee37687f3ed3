import CKernels
import ReferenceKernels
import Testing

/// The variants the convolution runs on this CPU: every SIMD variant, plus BLIS when available
/// (BLIS runs only the 1x1 convolutions without the fused shuffle; see `convSupports`).
/// Every variant that runs some convolution here: the GEMM family's and BLIS when linked (which
/// case each runs, mk_conv2d_f32_supports says).
let convVariants: [mk_variant] = concreteVariants.filter { v in
    var p = ConvCase({ _ in }).params
    return mk_conv2d_f32_supports(&p, v) == MK_STATUS_OK
}

func convName(_ variant: mk_variant) -> String { String(cString: mk_variant_name(variant)) }

func convStatus(_ status: mk_status) -> String { String(cString: mk_status_string(status)) }

/// One convolution configuration.
struct ConvCase: CustomStringConvertible {
    var batch = 1, h = 5, w = 5, cin = 8, cout = 8, groups = 1
    var kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1
    var pad = RefPadding.zero
    var activation = 0  // index into allActivations
    var withBias = true
    var withResidual = false
    var shuffle = false
    /// Create through mk_conv1x1_f32_create (needs a 1x1 kernel, one group, no padding, sh == sw).
    var pointwiseCreate = false
    var algorithm = MK_CONV2D_ALGORITHM_AUTO

    var description: String {
        "n\(batch) \(h)x\(w) \(cin)->\(cout) g\(groups) k\(kh)x\(kw) s\(sh)x\(sw) d\(dh)x\(dw) "
            + "pad(t\(pad.top) l\(pad.left) b\(pad.bottom) r\(pad.right)) \(allActivations[activation].1) "
            + "bias:\(withBias) residual:\(withResidual) shuffle:\(shuffle)\(pointwiseCreate ? " (mk_conv1x1_f32_create)" : "")"
            + (algorithm == MK_CONV2D_ALGORITHM_AUTO ? "" : algorithm == MK_CONV2D_ALGORITHM_WINOGRAD ? " winograd" : " direct")
    }
    var extentH: Int { dh * (kh - 1) + 1 }
    var extentW: Int { dw * (kw - 1) + 1 }
    var outH: Int { (h + pad.top + pad.bottom - extentH) / sh + 1 }
    var outW: Int { (w + pad.left + pad.right - extentW) / sw + 1 }
    /// Terms of one output's sum: the taps times the channels of a group, plus bias and residual.
    var reduction: Int { (cin / groups) * kh * kw + 2 }
    var weightCount: Int { cout * (cin / groups) * kh * kw }
    var valid: Bool {
        groups >= 1 && cin % groups == 0 && cout % groups == 0
            && h + pad.top + pad.bottom >= extentH && w + pad.left + pad.right >= extentW
            && pad.top < extentH && pad.bottom < extentH && pad.left < extentW && pad.right < extentW
            && (!pointwiseCreate || (kh == 1 && kw == 1 && groups == 1 && sh == sw && pad == .zero && !shuffle))
            && !(shuffle && withResidual)
    }
    var params: mk_conv2d_params {
        mk_conv2d_params(input_channels: cin, output_channels: cout, groups: groups, kernel_h: kh, kernel_w: kw,
                         stride_h: sh, stride_w: sw, dilation_h: dh, dilation_w: dw, pad_top: pad.top,
                         pad_left: pad.left, pad_bottom: pad.bottom, pad_right: pad.right,
                         activation: allActivations[activation].0, shuffle_output: shuffle, algorithm: algorithm)
    }
}

extension ConvCase {
    /// `ConvCase({ $0.cin = 3; $0.kh = 3 })`: the defaults with some fields changed.
    init(_ configure: (inout ConvCase) -> Void) {
        self.init()
        configure(&self)
    }
}

/// The tensors of one case, dense NHWC (residual: the output's shape), values in [-1, 1).
struct ConvData {
    var x: [Float]
    var weights: [Float]
    var bias: [Float]?
    var residual: [Float]?
}

func makeConvData(_ cs: ConvCase, _ rng: inout SplitMix64) -> ConvData {
    let x = rng.floats(cs.batch * cs.h * cs.w * cs.cin, -1, 1)
    let weights = rng.floats(cs.weightCount, -1, 1)
    let bias: [Float]? = cs.withBias ? rng.floats(cs.cout, -1, 1) : nil
    let residual: [Float]? = cs.withResidual ? rng.floats(cs.batch * cs.outH * cs.outW * cs.cout, -1, 1) : nil
    return ConvData(x: x, weights: weights, bias: bias, residual: residual)
}

/// Whether `variant` implements `cs` (the operator's own rule, mk_conv2d_f32_supports).
func convSupports(_ variant: mk_variant, _ cs: ConvCase) -> Bool {
    var p = cs.params
    return mk_conv2d_f32_supports(&p, variant) == MK_STATUS_OK
}

/// Creates the operator of `cs` (through mk_conv1x1_f32_create when `cs.pointwiseCreate`).
func convCreate(_ cs: ConvCase, variant: mk_variant, weights: [Float], bias: [Float]?) -> (mk_status, OpaquePointer?) {
    var op: OpaquePointer?
    var p = cs.params
    let status: mk_status = bias.withOptionalPointer { b in
        if cs.pointwiseCreate {
            return mk_conv1x1_f32_create(cs.cin, cs.cout, cs.sh, allActivations[cs.activation].0, weights, b, variant, &op)
        }
        return mk_conv2d_f32_create(&p, weights, b, variant, &op)
    }
    return (status, op)
}

/// mk_conv2d_f32_reshape then mk_conv2d_f32_run: the first status that is not OK.
func convRun(_ op: OpaquePointer?, _ batch: Int, _ h: Int, _ w: Int, _ x: UnsafePointer<Float>?, _ xStride: Int,
             _ y: UnsafeMutablePointer<Float>?, _ yStride: Int, _ r: UnsafePointer<Float>?, _ rStride: Int,
             _ pool: OpaquePointer?) -> mk_status {
    var plan = mk_conv2d_f32_plan()
    let status = mk_conv2d_f32_reshape(op, batch, h, w, xStride, yStride, rStride, pool, &plan)
    guard status == MK_STATUS_OK else { return status }
    if plan.workspace_bytes > 0 {  // Winograd
        guard let memory = mk_aligned_alloc(plan.workspace_bytes) else { return MK_STATUS_OUT_OF_MEMORY }
        plan.workspace = memory
    }
    defer { mk_aligned_free(plan.workspace) }
    return mk_conv2d_f32_run(op, &plan, x, y, r, pool)
}

/// Runs `variant` on `cs` and returns the dense NHWC output. Input, output and residual live in
/// buffers with `inExtra`, `outExtra`, `resExtra` floats between pixels: input and residual gaps
/// hold NaN (which must not leak into the result), output gaps and a guard tail past the output
/// hold `sentinel` (which must survive). With `residualInPlace` the residual is written into the
/// output buffer first and passed as the same pointer and stride (out = act(conv + out)).
func runConv(_ cs: ConvCase, variant: mk_variant, data d: ConvData, residualInPlace: Bool = false,
             inExtra: Int = 0, outExtra: Int = 0, resExtra: Int = 0, pool: OpaquePointer? = nil) throws -> [Float] {
    let (created, op) = convCreate(cs, variant: variant, weights: d.weights, bias: d.bias)
    try #require(created == MK_STATUS_OK, "create \(convName(variant)) \(cs): \(convStatus(created))")
    defer { mk_conv2d_f32_destroy(op) }
    try #require(op != nil)
    if variant != MK_VARIANT_AUTO {
        #expect(mk_conv2d_f32_variant(op) == variant, "\(convName(variant)) \(cs)")
    }
    var oh = 0, ow = 0
    try #require(mk_conv2d_f32_output_size(op, cs.h, cs.w, &oh, &ow) == MK_STATUS_OK, "output size of \(cs)")
    try #require(oh == cs.outH && ow == cs.outW, "output size of \(cs): \(oh)x\(ow)")

    let inStride = cs.cin + inExtra, outStride = cs.cout + outExtra
    let resStride = residualInPlace ? outStride : cs.cout + resExtra
    let inPixels = cs.batch * cs.h * cs.w, outPixels = cs.batch * oh * ow
    var input = [Float](repeating: .nan, count: inPixels * inStride)
    for i in 0..<inPixels { for ch in 0..<cs.cin { input[i * inStride + ch] = d.x[i * cs.cin + ch] } }
    var output = [Float](repeating: sentinel, count: outPixels * outStride + 8)
    let status: mk_status
    if let residual = d.residual {
        if residualInPlace {
            for i in 0..<outPixels { for ch in 0..<cs.cout { output[i * outStride + ch] = residual[i * cs.cout + ch] } }
            status = output.withUnsafeMutableBufferPointer { o in
                convRun(op, cs.batch, cs.h, cs.w, input, inStride, o.baseAddress, outStride,
                              o.baseAddress, outStride, pool)
            }
        } else {
            var res = [Float](repeating: .nan, count: outPixels * resStride)
            for i in 0..<outPixels { for ch in 0..<cs.cout { res[i * resStride + ch] = residual[i * cs.cout + ch] } }
            status = output.withUnsafeMutableBufferPointer { o in
                convRun(op, cs.batch, cs.h, cs.w, input, inStride, o.baseAddress, outStride,
                              res, resStride, pool)
            }
        }
    } else {
        status = output.withUnsafeMutableBufferPointer { o in
            convRun(op, cs.batch, cs.h, cs.w, input, inStride, o.baseAddress, outStride, nil, 0, pool)
        }
    }
    try #require(status == MK_STATUS_OK, "run \(convName(variant)) \(cs): \(convStatus(status))")

    var dense = [Float](repeating: 0, count: outPixels * cs.cout)
    var gapWrites = 0, tailWrites = 0
    for i in 0..<outPixels {
        for ch in 0..<outStride {
            let v = output[i * outStride + ch]
            if ch < cs.cout {
                dense[i * cs.cout + ch] = v
            } else if v.bitPattern != sentinel.bitPattern {
                gapWrites += 1
            }
        }
    }
    for i in (outPixels * outStride)..<output.count where output[i].bitPattern != sentinel.bitPattern {
        tailWrites += 1
    }
    #expect(gapWrites == 0, "\(convName(variant)) wrote \(gapWrites) floats between pixels: \(cs)")
    #expect(tailWrites == 0, "\(convName(variant)) wrote \(tailWrites) floats past the output: \(cs)")
    return dense
}

/// The reference result: conv2d with bias, then the residual add, then the activation; channel-
/// shuffled when `cs.shuffle`.
func referenceConv(_ cs: ConvCase, _ d: ConvData) -> [Float] {
    let input = RefTensor(n: cs.batch, h: cs.h, w: cs.w, c: cs.cin, data: d.x)
    let act = allActivations[cs.activation].1
    func conv(_ activation: RefActivation) -> RefTensor {
        Reference.conv2d(input, weight: d.weights, bias: d.bias, outChannels: cs.cout, kernelH: cs.kh, kernelW: cs.kw,
                         strideH: cs.sh, strideW: cs.sw, padding: cs.pad, dilationH: cs.dh, dilationW: cs.dw,
                         groups: cs.groups, activation: activation)
    }
    var out: RefTensor
    if let residual = d.residual {
        let plain = conv(.none)
        out = Reference.add(plain, RefTensor(n: plain.n, h: plain.h, w: plain.w, c: plain.c, data: residual),
                            activation: act)
    } else {
        out = conv(act)
    }
    if cs.shuffle { out = Reference.channelShuffle(out, groups: cs.groups) }
    return out.data
}

/// |got - want| <= 1e-5 * reduction + 1e-4 * |want| (inputs, weights, bias, residual in [-1, 1)).
func convClose(_ got: [Float], _ want: [Float], reduction: Int) -> (Bool, String) {
    guard got.count == want.count else { return (false, "count \(got.count) != \(want.count)") }
    for i in 0..<got.count {
        let tolerance = 1e-5 * Float(reduction) + 1e-4 * abs(want[i])
        if !(abs(got[i] - want[i]) <= tolerance) { return (false, "at \(i): got \(got[i]), want \(want[i])") }
    }
    return (true, "")
}

/// nil when `a` and `b` hold the same bits, else where they first differ.
func convBitMismatch(_ a: [Float], _ b: [Float]) -> String? {
    guard a.count == b.count else { return "count \(a.count) != \(b.count)" }
    for i in 0..<a.count where a[i].bitPattern != b[i].bitPattern {
        return "at \(i): \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))) != \(b[i]) (0x\(String(b[i].bitPattern, radix: 16)))"
    }
    return nil
}

/// Runs `cs` on every variant that implements it and checks the result against the reference.
/// Returns false at the first failure (recorded).
@discardableResult
func checkConv(_ cs: ConvCase, _ d: ConvData, residualInPlace: Bool = false, inExtra: Int = 0,
               outExtra: Int = 0, resExtra: Int = 0) throws -> Bool {
    let want = referenceConv(cs, d)
    for variant in convVariants where convSupports(variant, cs) {
        let got = try runConv(cs, variant: variant, data: d, residualInPlace: residualInPlace,
                              inExtra: inExtra, outExtra: outExtra, resExtra: resExtra)
        let (ok, detail) = convClose(got, want, reduction: cs.reduction)
        #expect(ok, "\(convName(variant)) \(cs) strides +\(inExtra)/+\(outExtra)/+\(resExtra)\(residualInPlace ? " residual in place" : ""): \(detail)")
        if !ok { return false }
    }
    return true
}

/// An image of `pixels` pixels for the pointwise sweep: h x w with h * w == pixels.
func convSpatial(_ pixels: Int) -> (h: Int, w: Int) {
    switch pixels {
    case 15: return (3, 5)
    case 16: return (4, 4)
    case 33: return (3, 11)
    case 48: return (6, 8)
    case 100: return (10, 10)
    case 320: return (16, 20)
    default: return (1, pixels)
    }
}

/// General KxK (and not-the-pointwise-path 1xK, Kx1, strided 1x1) cases of the sweep.
func convKernelCases() -> [ConvCase] {
    [
        // 3x3, stride 1 and 2, symmetric and asymmetric padding on every side.
        ConvCase({ $0.batch = 2; $0.h = 9; $0.w = 8; $0.cin = 8; $0.cout = 16; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
        ConvCase({ $0.h = 11; $0.w = 10; $0.cin = 17; $0.cout = 33; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = .symmetric(1) }),
        ConvCase({ $0.h = 7; $0.w = 9; $0.cin = 5; $0.cout = 7; $0.kh = 3; $0.kw = 3; $0.pad = RefPadding(top: 1, left: 0, bottom: 0, right: 1) }),
        ConvCase({ $0.batch = 2; $0.h = 8; $0.w = 8; $0.cin = 16; $0.cout = 24; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = RefPadding(top: 0, left: 0, bottom: 1, right: 1) }),
        ConvCase({ $0.h = 6; $0.w = 7; $0.cin = 3; $0.cout = 20; $0.kh = 3; $0.kw = 3; $0.pad = RefPadding(top: 2, left: 1, bottom: 0, right: 2) }),
        ConvCase({ $0.h = 10; $0.w = 10; $0.cin = 5; $0.cout = 6; $0.kh = 3; $0.kw = 3; $0.sh = 3; $0.sw = 3; $0.pad = .symmetric(1) }),
        ConvCase({ $0.h = 8; $0.w = 9; $0.cin = 15; $0.cout = 31; $0.kh = 3; $0.kw = 3; $0.sh = 1; $0.sw = 2; $0.pad = RefPadding(top: 1, left: 2, bottom: 2, right: 0) }),
        // 5x5 pad 2, and stride 2 with asymmetric padding.
        ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 12; $0.cout = 20; $0.kh = 5; $0.kw = 5; $0.pad = .symmetric(2) }),
        ConvCase({ $0.batch = 2; $0.h = 10; $0.w = 11; $0.cin = 8; $0.cout = 17; $0.kh = 5; $0.kw = 5; $0.sh = 2; $0.sw = 2; $0.pad = RefPadding(top: 1, left: 2, bottom: 2, right: 1) }),
        // AlexNet conv1-like: 11x11 stride 4 pad 2.
        ConvCase({ $0.h = 19; $0.w = 19; $0.cin = 3; $0.cout = 10; $0.kh = 11; $0.kw = 11; $0.sh = 4; $0.sw = 4; $0.pad = .symmetric(2) }),
        // Dilation 2 (both and one direction), dilation 3 with padding most of the extent.
        ConvCase({ $0.h = 10; $0.w = 10; $0.cin = 8; $0.cout = 12; $0.kh = 3; $0.kw = 3; $0.dh = 2; $0.dw = 2; $0.pad = .symmetric(2) }),
        ConvCase({ $0.h = 9; $0.w = 12; $0.cin = 6; $0.cout = 9; $0.kh = 3; $0.kw = 3; $0.dh = 2; $0.dw = 1; $0.pad = RefPadding(top: 2, left: 1, bottom: 2, right: 1) }),
        ConvCase({ $0.h = 6; $0.w = 7; $0.cin = 4; $0.cout = 5; $0.kh = 3; $0.kw = 3; $0.dh = 3; $0.dw = 3; $0.pad = RefPadding(top: 6, left: 6, bottom: 0, right: 1) }),
        // Grouped 3x3: g = 2, 4 (stride 2) and 3 with asymmetric padding.
        ConvCase({ $0.h = 8; $0.w = 8; $0.cin = 16; $0.cout = 24; $0.groups = 2; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
        ConvCase({ $0.batch = 2; $0.h = 9; $0.w = 9; $0.cin = 32; $0.cout = 16; $0.groups = 4; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = .symmetric(1) }),
        ConvCase({ $0.h = 7; $0.w = 6; $0.cin = 12; $0.cout = 9; $0.groups = 3; $0.kh = 3; $0.kw = 3; $0.pad = RefPadding(top: 1, left: 1, bottom: 0, right: 0) }),
        // A 1x1 input (every tap but the center is padding), and a single row.
        ConvCase({ $0.h = 1; $0.w = 1; $0.cin = 20; $0.cout = 30; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
        ConvCase({ $0.batch = 2; $0.h = 1; $0.w = 5; $0.cin = 4; $0.cout = 8; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
        // 1xK and Kx1 (padding in one direction only), 1x7 / 7x1 (Inception).
        ConvCase({ $0.h = 5; $0.w = 6; $0.cin = 10; $0.cout = 12; $0.kh = 1; $0.kw = 3; $0.pad = RefPadding(top: 0, left: 1, bottom: 0, right: 1) }),
        ConvCase({ $0.h = 8; $0.w = 5; $0.cin = 7; $0.cout = 5; $0.kh = 3; $0.kw = 1; $0.sh = 2; $0.sw = 1; $0.pad = RefPadding(top: 1, left: 0, bottom: 1, right: 0) }),
        ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 8; $0.cout = 8; $0.kh = 1; $0.kw = 7; $0.pad = RefPadding(top: 0, left: 3, bottom: 0, right: 3) }),
        ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 8; $0.cout = 8; $0.kh = 7; $0.kw = 1; $0.pad = RefPadding(top: 3, left: 0, bottom: 3, right: 0) }),
        // 1x1 kernels through mk_conv2d_f32_create with unequal strides (not mk_conv1x1_f32_create).
        ConvCase({ $0.h = 7; $0.w = 6; $0.cin = 9; $0.cout = 11; $0.sh = 2; $0.sw = 1 }),
        ConvCase({ $0.batch = 2; $0.h = 5; $0.w = 10; $0.cin = 9; $0.cout = 11; $0.sh = 1; $0.sw = 3 }),
        // Even kernel, and the largest kernel allowed (16 x 16 = 256 taps).
        ConvCase({ $0.h = 8; $0.w = 8; $0.cin = 8; $0.cout = 16; $0.kh = 2; $0.kw = 2; $0.sh = 2; $0.sw = 2 }),
        ConvCase({ $0.h = 17; $0.w = 17; $0.cin = 2; $0.cout = 3; $0.kh = 16; $0.kw = 16 }),
    ]
}

@Suite("Convolution (mk_conv2d, C ABI) vs ReferenceKernels")
struct ConvTests {
    @Test("pointwise sweep: pixels and channels from {1, 7, ..., 320}, batch 2, stride 1 and 2, every activation, bias, residual")
    func pointwiseSweep() throws {
        let sizes = [1, 7, 15, 16, 17, 31, 33, 48, 100, 320]
        // (pixels per image, Cin, Cout): the extremes first, then a deterministic sample.
        var combos: [(Int, Int, Int)] = [
            (1, 1, 1), (320, 1, 1), (1, 320, 1), (1, 1, 320), (320, 320, 33), (100, 320, 320), (320, 48, 320),
            (16, 16, 16), (17, 15, 33), (7, 31, 100), (33, 17, 7), (48, 100, 15),
        ]
        var rng = SplitMix64(seed: 1111)
        while combos.count < 42 {
            let m = sizes.randomElement(using: &rng)!
            let cin = sizes.randomElement(using: &rng)!
            let cout = sizes.randomElement(using: &rng)!
            if m * cin * cout <= 300_000 { combos.append((m, cin, cout)) }
        }
        for (index, (m, cin, cout)) in combos.enumerated() {
            let spatial = convSpatial(m)
            var cs = ConvCase()
            cs.batch = m * cin * cout > 1_000_000 ? 1 : 2
            cs.h = spatial.h
            cs.w = spatial.w
            cs.cin = cin
            cs.cout = cout
            let stride = index % 3 == 2 ? 2 : 1
            cs.sh = stride
            cs.sw = stride
            cs.pointwiseCreate = stride == 2 || index % 2 == 0
            cs.activation = index % allActivations.count
            cs.withBias = Bool.random(using: &rng)
            cs.withResidual = Bool.random(using: &rng)
            let extra = index % 4 == 3 ? 1 + index % 5 : 0
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            if try !checkConv(cs, d, inExtra: extra, outExtra: extra, resExtra: 2 * extra) { return }
        }
    }

    @Test("grouped 1x1: g = 2, 3, 4, 8 with awkward per-group sizes, stride 1 and 2")
    func groupedPointwise() throws {
        let shapes: [(cin: Int, cout: Int, groups: Int, stride: Int)] = [
            (240, 60, 3, 1), (60, 240, 3, 1), (24, 24, 8, 1), (36, 12, 4, 1), (32, 64, 2, 1),
            (48, 48, 4, 2), (120, 120, 8, 1), (9, 33, 3, 1), (16, 8, 8, 2), (34, 34, 2, 1),
        ]
        var rng = SplitMix64(seed: 2222)
        for (index, s) in shapes.enumerated() {
            var cs = ConvCase()
            cs.batch = 2
            cs.h = 5
            cs.w = 7
            cs.cin = s.cin
            cs.cout = s.cout
            cs.groups = s.groups
            cs.sh = s.stride
            cs.sw = s.stride
            cs.activation = index % allActivations.count
            cs.withBias = index % 3 != 1
            cs.withResidual = index % 2 == 0
            let extra = index % 3 == 2 ? 3 : 0
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            if try !checkConv(cs, d, inExtra: extra, outExtra: extra, resExtra: extra + 1) { return }
        }
    }

    @Test("KxK: 3x3, 5x5, 11x11 s4, 16x16, 1xK, Kx1, strides, asymmetric padding, dilation, groups, 1x1 input")
    func generalKernels() throws {
        var rng = SplitMix64(seed: 3333)
        for (index, base) in convKernelCases().enumerated() {
            var cs = base
            cs.activation = index % allActivations.count
            cs.withBias = index % 5 != 2
            cs.withResidual = Bool.random(using: &rng)
            guard cs.valid else {
                Issue.record("invalid test case \(cs)")
                continue
            }
            let d = makeConvData(cs, &rng)
            let extra = index % 3 == 1
            if try !checkConv(cs, d, inExtra: extra ? 2 : 0, outExtra: extra ? 3 : 0, resExtra: extra ? 1 : 0) { return }
        }
    }

    @Test("row taps (1-4 input channels, kernel rows of 9-48 floats): random kernels, strides, padding per side, dilation, batch 2, pixel strides")
    func rowTaps() throws {
        var rng = SplitMix64(seed: 3434)
        var checked = 0
        while checked < 60 {
            var cs = ConvCase()
            cs.cin = Int.random(in: 1...4, using: &rng)
            cs.kw = Int.random(in: (9 + cs.cin - 1) / cs.cin...min(16, 48 / cs.cin), using: &rng)
            cs.kh = Int.random(in: 1...16, using: &rng)
            cs.dh = checked % 5 == 4 ? 2 : 1
            cs.sh = Int.random(in: 1...4, using: &rng)
            cs.sw = Int.random(in: 1...4, using: &rng)
            cs.pad = RefPadding(top: Int.random(in: 0..<cs.extentH, using: &rng), left: Int.random(in: 0..<cs.kw, using: &rng),
                                bottom: Int.random(in: 0..<cs.extentH, using: &rng), right: Int.random(in: 0..<cs.kw, using: &rng))
            cs.h = Int.random(in: 1...20, using: &rng)
            cs.w = Int.random(in: 1...(checked % 2 == 0 ? 24 : 60), using: &rng)  // wide: whole tiles inside one row
            cs.batch = checked % 3 == 0 ? 2 : 1
            cs.cout = [1, 7, 16, 17, 33, 64][checked % 6]
            cs.activation = checked % allActivations.count
            cs.withBias = checked % 4 != 1
            cs.withResidual = checked % 3 == 2
            guard cs.valid else { continue }
            let d = makeConvData(cs, &rng)
            // In place (pixel stride = channels) and gathered (a wider stride).
            let extra = checked % 2 == 1 ? 1 + checked % 3 : 0
            if try !checkConv(cs, d, inExtra: extra, outExtra: checked % 4 == 3 ? 2 : 0) { return }
            checked += 1
        }
    }

    @Test("few pixels, wide N (the panels form): 1-5 pixels, Cout over several groups of column tiles plus remainders, K blocks, residual separate and in place")
    func fewPixelsWide() throws {
        var rng = SplitMix64(seed: 3535)
        let couts = [64, 65, 127, 128, 200, 257, 320]
        let cins = [1, 17, 300, 1100]
        for index in 0..<28 {
            var cs = ConvCase()
            cs.batch = index % 4 == 3 ? 2 : 1
            cs.h = 1
            cs.w = cs.batch == 2 ? 1 + index % 2 : 1 + index % 5
            cs.cin = cins[index % cins.count]
            cs.cout = couts[index % couts.count]
            cs.pointwiseCreate = index % 2 == 0
            cs.activation = index % allActivations.count
            cs.withBias = index % 3 != 1
            cs.withResidual = index % 3 != 0
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            let extra = index % 5 == 4 ? 3 : 0
            if try !checkConv(cs, d, residualInPlace: cs.withResidual && index % 2 == 1, inExtra: extra,
                              outExtra: extra, resExtra: cs.withResidual && index % 2 == 1 ? extra : 2 * extra) { return }
        }
    }

    @Test("several K blocks: 1x1 with Cin 1100 and 600, 3x3 with Cin 70, 5x5 with Cin 30, grouped 3x3 with 70 per group")
    func largeReduction() throws {
        let cases = [
            ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 1100; $0.cout = 20; $0.activation = 1; $0.withResidual = true }),
            ConvCase({ $0.h = 7; $0.w = 7; $0.cin = 600; $0.cout = 40; $0.sh = 2; $0.sw = 2; $0.pointwiseCreate = true; $0.activation = 3 }),
            ConvCase({ $0.h = 6; $0.w = 6; $0.cin = 70; $0.cout = 20; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 3; $0.withResidual = true }),
            ConvCase({ $0.h = 6; $0.w = 6; $0.cin = 30; $0.cout = 8; $0.kh = 5; $0.kw = 5; $0.pad = .symmetric(2); $0.activation = 5 }),
            ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 140; $0.cout = 16; $0.groups = 2; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 2 }),
        ]
        var rng = SplitMix64(seed: 4444)
        for (index, cs) in cases.enumerated() {
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            if try !checkConv(cs, d, inExtra: index % 2 == 1 ? 3 : 0, outExtra: index % 2 == 1 ? 1 : 0) { return }
        }
    }

    @Test("pixel strides > channels: NaN input gaps do not leak, output gaps and the tail survive")
    func pixelStrides() throws {
        let cases = [
            ConvCase({ $0.batch = 2; $0.h = 4; $0.w = 5; $0.cin = 17; $0.cout = 33; $0.activation = 1; $0.withResidual = true }),
            ConvCase({ $0.h = 6; $0.w = 6; $0.cin = 16; $0.cout = 8; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 3; $0.withResidual = true }),
            ConvCase({ $0.h = 5; $0.w = 4; $0.cin = 36; $0.cout = 12; $0.groups = 4; $0.activation = 5; $0.withResidual = true }),
            ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 7; $0.cout = 16; $0.sh = 2; $0.sw = 2; $0.pointwiseCreate = true; $0.activation = 2 }),
            ConvCase({ $0.h = 8; $0.w = 7; $0.cin = 16; $0.cout = 24; $0.groups = 2; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = RefPadding(top: 0, left: 1, bottom: 1, right: 0); $0.activation = 4 }),
        ]
        var rng = SplitMix64(seed: 5555)
        for cs in cases {
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            for (inExtra, outExtra, resExtra) in [(5, 3, 7), (1, 16, 0), (0, 1, 2)] {
                if try !checkConv(cs, d, inExtra: inExtra, outExtra: outExtra, resExtra: resExtra) { return }
            }
        }
    }

    @Test("residual == output in place: out = act(conv + out), also across K blocks")
    func residualInPlace() throws {
        let cases = [
            ConvCase({ $0.batch = 2; $0.h = 6; $0.w = 6; $0.cin = 24; $0.cout = 24; $0.activation = 1 }),
            ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 16; $0.cout = 40; $0.sh = 2; $0.sw = 2; $0.pointwiseCreate = true }),
            ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 32; $0.cout = 32; $0.groups = 4; $0.activation = 3 }),
            ConvCase({ $0.h = 6; $0.w = 7; $0.cin = 8; $0.cout = 16; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 2 }),
            // More input channels than one K block holds: the partial sums of the earlier blocks
            // must not be taken for the residual.
            ConvCase({ $0.h = 4; $0.w = 4; $0.cin = 1100; $0.cout = 20 }),
            ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 70; $0.cout = 12; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 5 }),
        ]
        var rng = SplitMix64(seed: 6666)
        for (index, base) in cases.enumerated() {
            var cs = base
            cs.withResidual = true
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            // Each variant is checked on its own so one failing variant does not hide the others.
            let want = referenceConv(cs, d)
            for variant in convVariants where convSupports(variant, cs) {
                let got = try runConv(cs, variant: variant, data: d, residualInPlace: true,
                                      inExtra: index % 2, outExtra: index % 2 == 1 ? 3 : 0)
                let (ok, detail) = convClose(got, want, reduction: cs.reduction)
                #expect(ok, "\(convName(variant)) \(cs) residual in place: \(detail)")
            }
        }
    }

    @Test("fused shuffle_output is bit-identical to the same variant's conv followed by the shuffle")
    func fusedShuffle() throws {
        let cases = [
            ConvCase({ $0.batch = 2; $0.h = 5; $0.w = 6; $0.cin = 16; $0.cout = 32; $0.groups = 2 }),
            ConvCase({ $0.h = 4; $0.w = 5; $0.cin = 240; $0.cout = 60; $0.groups = 3 }),
            ConvCase({ $0.h = 7; $0.w = 3; $0.cin = 36; $0.cout = 12; $0.groups = 4 }),
            ConvCase({ $0.h = 6; $0.w = 6; $0.cin = 24; $0.cout = 24; $0.groups = 8 }),
            ConvCase({ $0.h = 4; $0.w = 4; $0.cin = 64; $0.cout = 256; $0.groups = 8 }),
            ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 30; $0.cout = 120; $0.groups = 3 }),
            ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 10; $0.cout = 40; $0.groups = 5 }),
            ConvCase({ $0.h = 3; $0.w = 3; $0.cin = 32; $0.cout = 64; $0.groups = 32 }),
            ConvCase({ $0.h = 7; $0.w = 7; $0.cin = 12; $0.cout = 18; $0.groups = 6; $0.sh = 2; $0.sw = 2 }),
            ConvCase({ $0.h = 6; $0.w = 6; $0.cin = 8; $0.cout = 16; $0.groups = 2; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
            ConvCase({ $0.batch = 2; $0.h = 8; $0.w = 8; $0.cin = 16; $0.cout = 32; $0.groups = 4; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = RefPadding(top: 0, left: 0, bottom: 1, right: 1) }),
            ConvCase({ $0.h = 3; $0.w = 3; $0.cin = 1100; $0.cout = 8; $0.groups = 2 }),
            ConvCase({ $0.h = 4; $0.w = 3; $0.cin = 8; $0.cout = 8; $0.groups = 1 }),
        ]
        var rng = SplitMix64(seed: 7777)
        for (index, base) in cases.enumerated() {
            var fused = base
            fused.shuffle = true
            fused.activation = index % allActivations.count
            fused.withBias = index % 4 != 3
            try #require(fused.valid, "\(fused)")
            var plain = fused
            plain.shuffle = false
            let d = makeConvData(fused, &rng)
            let want = referenceConv(fused, d)
            let extra = index % 2 == 1
            for variant in familyVariants(MK_FAMILY_F32_GEMM) {
                let got = try runConv(fused, variant: variant, data: d, inExtra: extra ? 2 : 0, outExtra: extra ? 5 : 0)
                let unfused = try runConv(plain, variant: variant, data: d)
                let shuffled = Reference.channelShuffle(
                    RefTensor(n: plain.batch, h: plain.outH, w: plain.outW, c: plain.cout, data: unfused),
                    groups: plain.groups).data
                let mismatch = convBitMismatch(got, shuffled)
                #expect(mismatch == nil, "\(convName(variant)) \(fused): fused != conv + shuffle \(mismatch ?? "")")
                let (ok, detail) = convClose(got, want, reduction: fused.reduction)
                #expect(ok, "\(convName(variant)) \(fused) vs reference: \(detail)")
                if mismatch != nil || !ok { return }
            }
        }
    }

    @Test("1 and 2 threads give bit-identical output (pixel splits, column splits, K blocks)", arguments: convVariants)
    func threads(variant: mk_variant) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        let cases = [
            ConvCase({ $0.h = 30; $0.w = 30; $0.cin = 48; $0.cout = 100; $0.activation = 2; $0.withResidual = true }),
            // Few pixel tiles and many columns: the operator splits the columns across threads.
            ConvCase({ $0.h = 7; $0.w = 7; $0.cin = 160; $0.cout = 320; $0.activation = 3; $0.pointwiseCreate = true }),
            ConvCase({ $0.h = 3; $0.w = 3; $0.cin = 96; $0.cout = 320; $0.activation = 1; $0.withResidual = true }),
            ConvCase({ $0.h = 1; $0.w = 1; $0.cin = 64; $0.cout = 320 }),
            // Several K blocks.
            ConvCase({ $0.h = 8; $0.w = 8; $0.cin = 1100; $0.cout = 40; $0.withResidual = true }),
            ConvCase({ $0.batch = 2; $0.h = 10; $0.w = 10; $0.cin = 70; $0.cout = 24; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 3 }),
            ConvCase({ $0.h = 7; $0.w = 7; $0.cin = 70; $0.cout = 320; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1); $0.activation = 5 }),
            // Grouped, strided, fused shuffle.
            ConvCase({ $0.h = 12; $0.w = 12; $0.cin = 32; $0.cout = 48; $0.groups = 2; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = RefPadding(top: 0, left: 0, bottom: 1, right: 1) }),
            ConvCase({ $0.batch = 2; $0.h = 14; $0.w = 14; $0.cin = 64; $0.cout = 64; $0.sh = 2; $0.sw = 2; $0.pointwiseCreate = true; $0.activation = 5 }),
            ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 240; $0.cout = 60; $0.groups = 3; $0.activation = 4; $0.withResidual = true }),
            ConvCase({ $0.h = 20; $0.w = 20; $0.cin = 64; $0.cout = 128; $0.groups = 4; $0.shuffle = true; $0.activation = 1 }),
            ConvCase({ $0.h = 2; $0.w = 3; $0.cin = 48; $0.cout = 96; $0.groups = 4; $0.shuffle = true }),
        ]
        var rng = SplitMix64(seed: 8888)
        for (index, cs) in cases.enumerated() where convSupports(variant, cs) {
            try #require(cs.valid, "\(cs)")
            let d = makeConvData(cs, &rng)
            let (i, o, r) = index % 2 == 1 ? (3, 5, 2) : (0, 0, 0)
            let one = try runConv(cs, variant: variant, data: d, inExtra: i, outExtra: o, resExtra: r)
            let two = try runConv(cs, variant: variant, data: d, inExtra: i, outExtra: o, resExtra: r, pool: pool)
            let mismatch = convBitMismatch(one, two)
            #expect(mismatch == nil, "\(convName(variant)) \(cs): 1 vs 2 threads \(mismatch ?? "")")
        }
    }

    @Test("AUTO resolves to mk_variant_best(); explicit variants are kept; unavailable ones are UNSUPPORTED")
    func variants() throws {
        let cases = [
            ConvCase({ $0.cin = 8; $0.cout = 8 }),
            ConvCase({ $0.cin = 8; $0.cout = 8; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
            ConvCase({ $0.cin = 8; $0.cout = 8; $0.groups = 2; $0.shuffle = true }),
            ConvCase({ $0.cin = 8; $0.cout = 8; $0.pointwiseCreate = true }),
        ]
        for cs in cases {
            let weights = [Float](repeating: 0.25, count: cs.weightCount)
            let (status, op) = convCreate(cs, variant: MK_VARIANT_AUTO, weights: weights, bias: nil)
            #expect(status == MK_STATUS_OK, "\(cs)")
            #expect(mk_conv2d_f32_variant(op) == mk_variant_best(), "\(cs)")
            mk_conv2d_f32_destroy(op)
            for variant in convVariants where convSupports(variant, cs) {
                let (s, o) = convCreate(cs, variant: variant, weights: weights, bias: nil)
                #expect(s == MK_STATUS_OK, "\(convName(variant)) \(cs)")
                #expect(mk_conv2d_f32_variant(o) == variant, "\(convName(variant)) \(cs)")
                mk_conv2d_f32_destroy(o)
            }
            for variant in [MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_NEON, MK_VARIANT_BLIS] where !mk_variant_available(variant) {
                let (s, o) = convCreate(cs, variant: variant, weights: weights, bias: nil)
                #expect(s == MK_STATUS_UNSUPPORTED, "\(convName(variant)) \(cs): \(convStatus(s))")
                #expect(o == nil)
                mk_conv2d_f32_destroy(o)
            }
            #if arch(x86_64)
            let (neon, _) = convCreate(cs, variant: MK_VARIANT_NEON, weights: weights, bias: nil)
            #expect(neon == MK_STATUS_UNSUPPORTED)
            #endif
            let (unknown, u) = convCreate(cs, variant: mk_variant(rawValue: 42), weights: weights, bias: nil)
            #expect(unknown != MK_STATUS_OK)
            mk_conv2d_f32_destroy(u)
        }
    }

    @Test("BLIS creates 1x1 convolutions only: KxK kernels and the fused shuffle are UNSUPPORTED")
    func blisScope() {
        let weights = [Float](repeating: 0.5, count: 4096)
        let unsupported = [
            ConvCase({ $0.kh = 3; $0.kw = 3 }),
            ConvCase({ $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
            ConvCase({ $0.kh = 1; $0.kw = 3; $0.pad = RefPadding(top: 0, left: 1, bottom: 0, right: 1) }),
            ConvCase({ $0.kh = 2; $0.kw = 1; $0.sh = 2 }),
            ConvCase({ $0.groups = 2; $0.shuffle = true }),
            ConvCase({ $0.groups = 1; $0.shuffle = true }),
        ]
        for cs in unsupported {
            var p = cs.params
            var op: OpaquePointer?
            let status = mk_conv2d_f32_create(&p, weights, nil, MK_VARIANT_BLIS, &op)
            #expect(status == MK_STATUS_UNSUPPORTED, "\(cs): \(convStatus(status))")
            #expect(op == nil)
            mk_conv2d_f32_destroy(op)
        }
        let pointwise = [
            ConvCase({ $0.cin = 8; $0.cout = 16 }),
            ConvCase({ $0.cin = 8; $0.cout = 16; $0.groups = 4 }),
            ConvCase({ $0.cin = 8; $0.cout = 16; $0.sh = 2; $0.sw = 3 }),
            ConvCase({ $0.cin = 8; $0.cout = 16; $0.sh = 2; $0.sw = 2; $0.pointwiseCreate = true }),
        ]
        for cs in pointwise {
            let (status, op) = convCreate(cs, variant: MK_VARIANT_BLIS, weights: weights, bias: nil)
            let expected = mk_variant_available(MK_VARIANT_BLIS) ? MK_STATUS_OK : MK_STATUS_UNSUPPORTED
            #expect(status == expected, "\(cs): \(convStatus(status))")
            mk_conv2d_f32_destroy(op)
        }
    }

    @Test("create rejects bad parameters")
    func createErrors() throws {
        // Large enough for every valid case below, so an operator that read the weights of a
        // parameter set it should have rejected would still not read outside the buffer.
        let weights = [Float](repeating: 0.5, count: 1 << 16)
        let base = ConvCase({ $0.cin = 4; $0.cout = 8; $0.kh = 3; $0.kw = 3 }).params
        var op: OpaquePointer?
        var p = base
        #expect(mk_conv2d_f32_create(&p, weights, nil, MK_VARIANT_AUTO, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_conv2d_f32_create(nil, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_NULL_POINTER)
        #expect(op == nil)
        #expect(mk_conv2d_f32_create(&p, nil, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_NULL_POINTER)
        #expect(op == nil)

        let invalid: [(String, (inout mk_conv2d_params) -> Void)] = [
            ("input_channels 0", { $0.input_channels = 0 }),
            ("output_channels 0", { $0.output_channels = 0 }),
            ("groups 0", { $0.groups = 0 }),
            ("kernel_h 0", { $0.kernel_h = 0 }),
            ("kernel_w 0", { $0.kernel_w = 0 }),
            ("stride_h 0", { $0.stride_h = 0 }),
            ("stride_w 0", { $0.stride_w = 0 }),
            ("dilation_h 0", { $0.dilation_h = 0 }),
            ("dilation_w 0", { $0.dilation_w = 0 }),
            ("Cin 6 not divisible by 4 groups", { $0.groups = 4; $0.input_channels = 6 }),
            ("Cout 6 not divisible by 4 groups", { $0.groups = 4; $0.output_channels = 6 }),
            ("Cin 4 with 8 groups", { $0.groups = 8; $0.output_channels = 8 }),
            ("17x16 kernel (272 taps)", { $0.kernel_h = 17; $0.kernel_w = 16 }),
            ("257x1 kernel", { $0.kernel_h = 257; $0.kernel_w = 1 }),
            ("1x300 kernel", { $0.kernel_h = 1; $0.kernel_w = 300 }),
            ("pad_top 3 with a 3x3 kernel", { $0.pad_top = 3 }),
            ("pad_left 3 with a 3x3 kernel", { $0.pad_left = 3 }),
            ("pad_bottom 3 with a 3x3 kernel", { $0.pad_bottom = 3 }),
            ("pad_right 4 with a 3x3 kernel", { $0.pad_right = 4 }),
            ("pad_left 5 with a dilated extent of 5", { $0.dilation_w = 2; $0.pad_left = 5 }),
            ("1x1 kernel with padding 1", { $0.kernel_h = 1; $0.kernel_w = 1; $0.pad_top = 1; $0.pad_left = 1; $0.pad_bottom = 1; $0.pad_right = 1 }),
            ("1x1 kernel with pad_right 1", { $0.kernel_h = 1; $0.kernel_w = 1; $0.pad_right = 1 }),
            ("shuffle_output with 33 groups", { $0.groups = 33; $0.input_channels = 33; $0.output_channels = 66; $0.shuffle_output = true }),
            ("NaN clamp bound", { $0.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: .nan, max: 1) }),
            ("NaN clamp max", { $0.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 0, max: .nan) }),
            ("clamp min > max", { $0.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: 2, max: 1) }),
            ("unknown activation kind", { $0.activation = mk_activation(kind: mk_activation_kind(rawValue: 99), min: 0, max: 0) }),
        ]
        for (name, mutate) in invalid {
            var q = base
            mutate(&q)
            op = nil
            let status = mk_conv2d_f32_create(&q, weights, nil, MK_VARIANT_AUTO, &op)
            #expect(status == MK_STATUS_INVALID_ARGUMENT, "\(name): \(convStatus(status))")
            #expect(op == nil, "\(name)")
            mk_conv2d_f32_destroy(op)
        }

        // Sizes that overflow: rejected (SIZE_OVERFLOW or INVALID_ARGUMENT) before reading weights.
        let huge: [(String, (inout mk_conv2d_params) -> Void)] = [
            ("input_channels Int.max / 2", { $0.input_channels = Int.max / 2 }),
            ("output_channels Int.max / 2", { $0.output_channels = Int.max / 2 }),
            ("channels and groups Int.max / 2", { $0.input_channels = Int.max / 2; $0.output_channels = Int.max / 2; $0.groups = Int.max / 2 }),
        ]
        for (name, mutate) in huge {
            var q = base
            mutate(&q)
            op = nil
            let status = mk_conv2d_f32_create(&q, weights, nil, MK_VARIANT_AUTO, &op)
            #expect(status != MK_STATUS_OK, "\(name)")
            #expect(op == nil, "\(name)")
            mk_conv2d_f32_destroy(op)
        }

        // The limits themselves are accepted.
        let limits: [(String, (inout mk_conv2d_params) -> Void)] = [
            ("16x16 kernel (256 taps)", { $0.kernel_h = 16; $0.kernel_w = 16 }),
            ("1x256 kernel", { $0.kernel_h = 1; $0.kernel_w = 256 }),
            ("pad 2 on every side of a 3x3 kernel", { $0.pad_top = 2; $0.pad_left = 2; $0.pad_bottom = 2; $0.pad_right = 2 }),
            ("pad 4 with a dilated extent of 5", { $0.dilation_h = 2; $0.dilation_w = 2; $0.pad_top = 4; $0.pad_right = 4 }),
            ("shuffle_output with 32 groups", { $0.groups = 32; $0.input_channels = 32; $0.output_channels = 64; $0.shuffle_output = true }),
            ("groups == channels", { $0.groups = 4; $0.output_channels = 4 }),
            ("infinite clamp", { $0.activation = mk_activation(kind: MK_ACTIVATION_CLAMP, min: -.infinity, max: .infinity) }),
        ]
        for (name, mutate) in limits {
            var q = base
            mutate(&q)
            op = nil
            let status = mk_conv2d_f32_create(&q, weights, nil, MK_VARIANT_AUTO, &op)
            #expect(status == MK_STATUS_OK, "\(name): \(convStatus(status))")
            #expect(op != nil, "\(name)")
            mk_conv2d_f32_destroy(op)
        }

        // mk_conv1x1_f32_create.
        let relu = allActivations[1].0
        op = nil
        #expect(mk_conv1x1_f32_create(4, 8, 1, relu, weights, nil, MK_VARIANT_AUTO, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_conv1x1_f32_create(4, 8, 1, relu, nil, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_NULL_POINTER)
        #expect(mk_conv1x1_f32_create(0, 8, 1, relu, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv1x1_f32_create(4, 0, 1, relu, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv1x1_f32_create(4, 8, 0, relu, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        let nanClamp = mk_activation(kind: MK_ACTIVATION_CLAMP, min: .nan, max: 1)
        #expect(mk_conv1x1_f32_create(4, 8, 1, nanClamp, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        #expect(op == nil)
        try #require(mk_conv1x1_f32_create(4, 8, 2, relu, weights, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        var oh = 0, ow = 0
        #expect(mk_conv2d_f32_output_size(op, 5, 4, &oh, &ow) == MK_STATUS_OK && oh == 3 && ow == 2)
        mk_conv2d_f32_destroy(op)

        mk_conv2d_f32_destroy(nil)
    }

    @Test("output size follows the formula; empty outputs, zero sizes and NULL pointers are rejected")
    func outputSize() throws {
        let cases: [(ConvCase, Int, Int)] = [
            (ConvCase({ $0.h = 224; $0.w = 224; $0.cin = 3; $0.cout = 4; $0.kh = 11; $0.kw = 11; $0.sh = 4; $0.sw = 4; $0.pad = .symmetric(2) }), 55, 55),
            (ConvCase({ $0.h = 8; $0.w = 7; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2; $0.pad = RefPadding(top: 0, left: 0, bottom: 1, right: 1) }), 4, 3),
            (ConvCase({ $0.h = 5; $0.w = 6; $0.kh = 3; $0.kw = 3; $0.dh = 2; $0.dw = 2 }), 1, 2),
            (ConvCase({ $0.h = 1; $0.w = 1; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }), 1, 1),
            (ConvCase({ $0.h = 10; $0.w = 9; $0.sh = 3; $0.sw = 2 }), 4, 5),
            (ConvCase({ $0.h = 2; $0.w = 2; $0.kh = 3; $0.kw = 3; $0.pad = RefPadding(top: 1, left: 0, bottom: 0, right: 1) }), 1, 1),
        ]
        for (cs, wantH, wantW) in cases {
            #expect(cs.outH == wantH && cs.outW == wantW, "test case \(cs)")
            let (status, op) = convCreate(cs, variant: MK_VARIANT_AUTO, weights: [Float](repeating: 1, count: cs.weightCount), bias: nil)
            try #require(status == MK_STATUS_OK, "\(cs)")
            defer { mk_conv2d_f32_destroy(op) }
            var oh = 0, ow = 0
            #expect(mk_conv2d_f32_output_size(op, cs.h, cs.w, &oh, &ow) == MK_STATUS_OK, "\(cs)")
            #expect(oh == wantH && ow == wantW, "\(cs): got \(oh)x\(ow)")
        }

        // 3x3 kernel, dilation 2 (extent 5), no padding.
        let cs = ConvCase({ $0.cin = 2; $0.cout = 2; $0.kh = 3; $0.kw = 3; $0.dh = 2; $0.dw = 2 })
        let (status, op) = convCreate(cs, variant: MK_VARIANT_AUTO, weights: [Float](repeating: 1, count: cs.weightCount), bias: nil)
        try #require(status == MK_STATUS_OK)
        defer { mk_conv2d_f32_destroy(op) }
        var oh = 0, ow = 0
        #expect(mk_conv2d_f32_output_size(op, 5, 5, &oh, &ow) == MK_STATUS_OK && oh == 1 && ow == 1)
        #expect(mk_conv2d_f32_output_size(op, 4, 5, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_f32_output_size(op, 5, 4, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_f32_output_size(op, 0, 5, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_f32_output_size(op, 5, 0, &oh, &ow) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_f32_output_size(op, Int.max / 2, 5, &oh, &ow) != MK_STATUS_OK)
        #expect(mk_conv2d_f32_output_size(op, 5, Int.max, &oh, &ow) != MK_STATUS_OK)
        #expect(mk_conv2d_f32_output_size(nil, 5, 5, &oh, &ow) == MK_STATUS_NULL_POINTER)
        #expect(mk_conv2d_f32_output_size(op, 5, 5, nil, &ow) == MK_STATUS_NULL_POINTER)
        #expect(mk_conv2d_f32_output_size(op, 5, 5, &oh, nil) == MK_STATUS_NULL_POINTER)
    }

    @Test("run rejects bad arguments before touching memory")
    func runErrors() throws {
        // 3x3, Cin 4, Cout 2, no padding, all-ones weights: every output of an all-ones 5x5 input is 36.
        var p = ConvCase({ $0.cin = 4; $0.cout = 2; $0.kh = 3; $0.kw = 3 }).params
        var op: OpaquePointer?
        try #require(mk_conv2d_f32_create(&p, [Float](repeating: 1, count: 72), nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_conv2d_f32_destroy(op) }
        #expect(mk_conv2d_f32_variant(op) == mk_variant_best())
        let x = [Float](repeating: 1, count: 100)
        let r = [Float](repeating: 0.5, count: 18)
        var y = [Float](repeating: 0, count: 18)

        #expect(convRun(nil, 1, 5, 5, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_NULL_POINTER)
        #expect(convRun(op, 1, 5, 5, nil, 0, &y, 0, nil, 0, nil) == MK_STATUS_NULL_POINTER)
        #expect(convRun(op, 1, 5, 5, x, 0, nil, 0, nil, 0, nil) == MK_STATUS_NULL_POINTER)
        #expect(convRun(op, 0, 5, 5, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(convRun(op, 1, 0, 5, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(convRun(op, 1, 5, 0, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(convRun(op, 1, 2, 5, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // smaller than the kernel
        #expect(convRun(op, 1, 5, 2, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(convRun(op, 1, 5, 5, x, 3, &y, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // stride < Cin
        #expect(convRun(op, 1, 5, 5, x, 0, &y, 1, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)  // stride < Cout
        #expect(convRun(op, 1, 5, 5, x, 0, &y, 0, r, 1, nil) == MK_STATUS_INVALID_ARGUMENT)  // residual stride < Cout
        #expect(convRun(op, 1, Int.max / 2, 5, x, 0, &y, 0, nil, 0, nil) != MK_STATUS_OK)
        #expect(convRun(op, 1, 5, Int.max / 2, x, 0, &y, 0, nil, 0, nil) != MK_STATUS_OK)
        #expect(convRun(op, Int.max / 4, 5, 5, x, 0, &y, 0, nil, 0, nil) != MK_STATUS_OK)
        #expect(convRun(op, 1, 5, 5, x, Int.max / 2, &y, 0, nil, 0, nil) != MK_STATUS_OK)
        #expect(convRun(op, 1, 5, 5, x, 0, &y, Int.max / 2, nil, 0, nil) != MK_STATUS_OK)
        #expect(convRun(op, 1, 5, 5, x, 0, &y, 0, r, Int.max / 2, nil) != MK_STATUS_OK)
        #expect(y.allSatisfy { $0 == 0 }, "a rejected run wrote the output")

        #expect(convRun(op, 1, 5, 5, x, 0, &y, 0, nil, 0, nil) == MK_STATUS_OK)
        #expect(y.allSatisfy { $0 == 36 })
        #expect(convRun(op, 1, 5, 5, x, 0, &y, 0, r, 0, nil) == MK_STATUS_OK)
        #expect(y.allSatisfy { $0 == 36.5 })

        // Overlaps, in one buffer: input [0, 100) floats, output 18 floats.
        var buffer = [Float](repeating: 1, count: 400)
        buffer.withUnsafeMutableBufferPointer { b in
            let base = b.baseAddress!
            #expect(convRun(op, 1, 5, 5, base, 0, base, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(convRun(op, 1, 5, 5, base, 0, base + 50, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(convRun(op, 1, 5, 5, base, 0, base + 99, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(convRun(op, 1, 5, 5, base + 100, 0, base + 90, 0, nil, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            // Residual partially overlapping the output, or the same start with another stride.
            #expect(convRun(op, 1, 5, 5, base, 0, base + 200, 0, base + 201, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(convRun(op, 1, 5, 5, base, 0, base + 200, 2, base + 200, 3, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(convRun(op, 1, 5, 5, base, 0, base + 200, 0, base + 190, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
            for i in 100..<400 where base[i] != 1 { Issue.record("a rejected run wrote float \(i)") }
            // Adjacent (touching, not overlapping) input and output.
            #expect(convRun(op, 1, 5, 5, base, 0, base + 100, 0, nil, 0, nil) == MK_STATUS_OK)
            #expect((100..<118).allSatisfy { base[$0] == 36 })
            #expect(base[118] == 1)
            // Residual == output, same stride: out += conv.
            #expect(convRun(op, 1, 5, 5, base, 0, base + 200, 2, base + 200, 2, nil) == MK_STATUS_OK)
            #expect((200..<218).allSatisfy { base[$0] == 37 })
            #expect(base[218] == 1)
        }

        // Residual with the fused shuffle is rejected at run.
        var sp = ConvCase({ $0.cin = 4; $0.cout = 4; $0.groups = 2; $0.shuffle = true }).params
        var shuffled: OpaquePointer?
        try #require(mk_conv2d_f32_create(&sp, [Float](repeating: 1, count: 8), nil, MK_VARIANT_AUTO, &shuffled) == MK_STATUS_OK)
        defer { mk_conv2d_f32_destroy(shuffled) }
        var z = [Float](repeating: 0, count: 100)
        let res = [Float](repeating: 1, count: 100)
        #expect(convRun(shuffled, 1, 5, 5, x, 0, &z, 0, res, 0, nil) == MK_STATUS_INVALID_ARGUMENT)
        #expect(z.allSatisfy { $0 == 0 })
        #expect(convRun(shuffled, 1, 5, 5, x, 0, &z, 0, nil, 0, nil) == MK_STATUS_OK)
        #expect(z.allSatisfy { $0 == 2 })  // 2 ones per group

        // A plan is made once and runs many times; a plan of another operator is rejected.
        var plan = mk_conv2d_f32_plan()
        try #require(mk_conv2d_f32_reshape(op, 1, 5, 5, 0, 0, 0, nil, &plan) == MK_STATUS_OK)
        #expect(plan.out_h == 3 && plan.out_w == 3 && plan.output_pixel_stride == 2)
        #expect(mk_conv2d_f32_reshape(op, 1, 5, 5, 0, 0, 0, nil, nil) == MK_STATUS_NULL_POINTER)
        y = [Float](repeating: 0, count: 18)
        #expect(mk_conv2d_f32_run(op, &plan, x, &y, nil, nil) == MK_STATUS_OK)
        y.withUnsafeMutableBufferPointer { b in
            #expect(mk_conv2d_f32_run(op, &plan, x, b.baseAddress, b.baseAddress, nil) == MK_STATUS_OK)  // out += conv
        }
        #expect(y.allSatisfy { $0 == 72 })
        #expect(mk_conv2d_f32_run(op, nil, x, &y, nil, nil) == MK_STATUS_NULL_POINTER)
        #expect(mk_conv2d_f32_run(shuffled, &plan, x, &z, nil, nil) == MK_STATUS_INVALID_ARGUMENT)

        mk_conv2d_f32_destroy(nil)
    }
}
