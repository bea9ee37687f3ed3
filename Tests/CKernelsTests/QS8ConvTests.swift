import CKernels
import ReferenceKernels
import Testing

/// One int8 convolution case: the shapes of a ConvCase plus the quantization.
struct QS8Case: CustomStringConvertible {
    var conv: ConvCase
    var input = RefQuantization(scale: 0.02, zeroPoint: 3)
    var output = RefQuantization(scale: 0.05, zeroPoint: -7)
    var residual = RefQuantization(scale: 0.04, zeroPoint: 11)
    var weightScales: [Float] = []

    var description: String {
        "\(conv) in(\(input.scale), \(input.zeroPoint)) out(\(output.scale), \(output.zeroPoint))"
    }
    var params: mk_conv2d_qs8_params {
        mk_conv2d_qs8_params(conv: conv.params,
                             input: mk_quantization(scale: input.scale, zero_point: input.zeroPoint),
                             output: mk_quantization(scale: output.scale, zero_point: output.zeroPoint),
                             residual: mk_quantization(scale: residual.scale, zero_point: residual.zeroPoint),
                             output_f32: false)
    }
}

/// The activations the int8 convolution fuses (a clamp: none, relu, relu6, clamp).
let qs8Activations = [0, 1, 2, 5]

struct QS8Data {
    var x: [Int8]
    var weights: [Int8]
    var bias: [Int32]?
    var residual: [Int8]?
}

extension SplitMix64 {
    mutating func int8s(_ count: Int, _ lo: Int8 = -128, _ hi: Int8 = 127) -> [Int8] {
        (0..<count).map { _ in Int8.random(in: lo...hi, using: &self) }
    }
}

/// A random case: odd sizes, channel counts around the tile widths and K groups of 4, padding
/// on any side, strides, dilation, groups, batch > 1, 1x1 images, every clamp, residuals.
func randomQS8Case(_ rng: inout SplitMix64) -> QS8Case {
    while true {
        var c = ConvCase()
        c.batch = Int.random(in: 1...3, using: &rng)
        c.h = Int.random(in: 1...9, using: &rng)
        c.w = Int.random(in: 1...11, using: &rng)
        c.groups = [1, 1, 1, 2, 3].randomElement(using: &rng)!
        c.cin = c.groups * [1, 2, 3, 4, 5, 7, 8, 13, 16, 33].randomElement(using: &rng)!
        c.cout = c.groups * [1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 65].randomElement(using: &rng)!
        let k = [(1, 1), (1, 1), (3, 3), (3, 3), (5, 5), (1, 3), (3, 1)].randomElement(using: &rng)!
        (c.kh, c.kw) = k
        c.sh = Int.random(in: 1...2, using: &rng)
        c.sw = Bool.random(using: &rng) ? c.sh : Int.random(in: 1...2, using: &rng)
        if Int.random(in: 0..<6, using: &rng) == 0 { c.dh = 2; c.dw = 2 }
        c.pad = RefPadding(top: Int.random(in: 0..<c.extentH, using: &rng), left: Int.random(in: 0..<c.extentW, using: &rng),
                           bottom: Int.random(in: 0..<c.extentH, using: &rng), right: Int.random(in: 0..<c.extentW, using: &rng))
        if Bool.random(using: &rng) { c.pad = .zero }
        c.activation = qs8Activations.randomElement(using: &rng)!
        c.withBias = Int.random(in: 0..<4, using: &rng) != 0
        c.withResidual = Int.random(in: 0..<3, using: &rng) == 0
        guard c.valid else { continue }
        var q = QS8Case(conv: c)
        q.input = RefQuantization(scale: Float.random(in: 0.005...0.05, using: &rng),
                                  zeroPoint: Int32.random(in: -128...127, using: &rng))
        q.weightScales = (0..<c.cout).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
        // An output scale that spreads the sums over the int8 range (about 3 sigma).
        let kSum = Float((c.cin / c.groups) * c.kh * c.kw)
        q.output = RefQuantization(scale: q.input.scale * 0.011 * 74 * 74 * kSum.squareRoot() / 40,
                                   zeroPoint: Int32.random(in: -60...60, using: &rng))
        q.residual = RefQuantization(scale: q.output.scale * Float.random(in: 0.5...2, using: &rng),
                                     zeroPoint: Int32.random(in: -128...127, using: &rng))
        return q
    }
}

func makeQS8Data(_ q: QS8Case, _ rng: inout SplitMix64) -> QS8Data {
    let c = q.conv
    return QS8Data(x: rng.int8s(c.batch * c.h * c.w * c.cin), weights: rng.int8s(c.weightCount, -127, 127),
                   bias: c.withBias ? (0..<c.cout).map { _ in Int32.random(in: -20000...20000, using: &rng) } : nil,
                   residual: c.withResidual ? rng.int8s(c.batch * c.outH * c.outW * c.cout) : nil)
}

func referenceQS8(_ q: QS8Case, _ d: QS8Data) -> [Int8] {
    let c = q.conv
    return Reference.conv2dQS8(d.x, n: c.batch, h: c.h, w: c.w, cin: c.cin, input: q.input, weight: d.weights,
                               weightScales: q.weightScales, bias: d.bias, outChannels: c.cout, kernelH: c.kh,
                               kernelW: c.kw, strideH: c.sh, strideW: c.sw, padding: c.pad, dilationH: c.dh,
                               dilationW: c.dw, groups: c.groups, activation: allActivations[c.activation].1,
                               output: q.output, residual: d.residual, residualQuantization: q.residual).data
}

let qs8Sentinel: Int8 = 0x5A

/// Runs `variant` on `q` with pixel gaps (input gaps random, output gaps and a guard tail
/// `qs8Sentinel`, which must survive) and returns the dense output.
func runQS8(_ q: QS8Case, variant: mk_variant, data d: QS8Data, residualInPlace: Bool = false,
            inExtra: Int = 0, outExtra: Int = 0, pool: OpaquePointer? = nil) throws -> [Int8] {
    let c = q.conv
    var params = q.params
    var op: OpaquePointer?
    let created: mk_status = d.bias.withOptionalInt32Pointer { b in
        mk_conv2d_qs8_create(&params, d.weights, q.weightScales, b, variant, &op)
    }
    try #require(created == MK_STATUS_OK, "create \(convName(variant)) \(q): \(convStatus(created))")
    defer { mk_conv2d_qs8_destroy(op) }
    if variant != MK_VARIANT_AUTO { #expect(mk_conv2d_qs8_variant(op) == variant) }
    var plan = mk_conv2d_qs8_plan()
    let inStride = c.cin + inExtra, outStride = c.cout + outExtra
    let resStride = residualInPlace ? outStride : c.cout
    try #require(mk_conv2d_qs8_reshape(op, c.batch, c.h, c.w, inStride, outStride, resStride, pool, &plan) == MK_STATUS_OK)
    try #require(plan.out_h == c.outH && plan.out_w == c.outW)
    let inPixels = c.batch * c.h * c.w, outPixels = c.batch * c.outH * c.outW
    var input = [Int8](repeating: -99, count: inPixels * inStride)
    for i in 0..<inPixels { for ch in 0..<c.cin { input[i * inStride + ch] = d.x[i * c.cin + ch] } }
    var output = [Int8](repeating: qs8Sentinel, count: outPixels * outStride + 64)
    let status: mk_status
    if let residual = d.residual, residualInPlace {
        for i in 0..<outPixels { for ch in 0..<c.cout { output[i * outStride + ch] = residual[i * c.cout + ch] } }
        status = output.withUnsafeMutableBufferPointer { o in mk_conv2d_qs8_run(op, &plan, input, o.baseAddress, o.baseAddress, pool) }
    } else if let residual = d.residual {
        status = output.withUnsafeMutableBufferPointer { o in mk_conv2d_qs8_run(op, &plan, input, o.baseAddress, residual, pool) }
    } else {
        status = output.withUnsafeMutableBufferPointer { o in mk_conv2d_qs8_run(op, &plan, input, o.baseAddress, nil, pool) }
    }
    try #require(status == MK_STATUS_OK, "run \(convName(variant)) \(q): \(convStatus(status))")
    var dense = [Int8](repeating: 0, count: outPixels * c.cout)
    var stray = 0
    for i in 0..<outPixels {
        for ch in 0..<outStride {
            if ch < c.cout { dense[i * c.cout + ch] = output[i * outStride + ch] } else if output[i * outStride + ch] != qs8Sentinel { stray += 1 }
        }
    }
    stray += output[(outPixels * outStride)...].filter { $0 != qs8Sentinel }.count
    #expect(stray == 0, "\(convName(variant)) wrote \(stray) bytes outside the output: \(q)")
    return dense
}

extension Optional where Wrapped == [Int32] {
    func withOptionalInt32Pointer<R>(_ body: (UnsafePointer<Int32>?) throws -> R) rethrows -> R {
        switch self {
        case .some(let array): return try array.withUnsafeBufferPointer { try body($0.baseAddress) }
        case .none: return try body(nil)
        }
    }
}

let qs8Variants = familyVariants(MK_FAMILY_QS8_GEMM)

@Suite struct QS8ConvTests {
    @Test("int8 convolution matches the reference bit for bit", arguments: qs8Variants)
    func randomized(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 0x1_0008)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var saturated = 0, total = 0
        defer {
            // The cases exercise the requantization, not just its clamp.
            #expect(saturated * 4 < total, "\(saturated) of \(total) outputs at -128 or 127")
        }
        for i in 0..<90 {
            let q = randomQS8Case(&rng)
            let d = makeQS8Data(q, &rng)
            let expected = referenceQS8(q, d)
            saturated += expected.filter { $0 == -128 || $0 == 127 }.count
            total += expected.count
            let got = try runQS8(q, variant: variant, data: d, residualInPlace: i % 2 == 1,
                                 inExtra: i % 3, outExtra: i % 4 == 0 ? 5 : 0, pool: i % 5 == 0 ? pool : nil)
            let wrong = zip(got, expected).filter { $0 != $1 }.count
            #expect(wrong == 0, "\(convName(variant)) \(q): \(wrong) of \(got.count) differ")
            if wrong != 0 { break }
        }
    }

    @Test("MobileNet-shaped layers: pointwise 112x112-like tiles, stride-2 stems, wide K", arguments: qs8Variants)
    func layerShapes(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 77)
        let shapes: [(Int, Int, Int, Int, Int, Int)] = [  // h, cin, cout, k, stride, groups
            (14, 96, 24, 1, 1, 1), (7, 160, 960, 1, 1, 1), (9, 3, 32, 3, 2, 1), (6, 240, 60, 1, 1, 3),
            (5, 576, 20, 1, 1, 1), (1, 1024, 1000, 1, 1, 1),
        ]
        for (h, cin, cout, k, s, g) in shapes {
            var c = ConvCase({ $0.h = h; $0.w = h; $0.cin = cin; $0.cout = cout; $0.kh = k; $0.kw = k; $0.sh = s; $0.sw = s; $0.groups = g })
            if k == 3 { c.pad = RefPadding(top: 1, left: 1, bottom: 1, right: 1) }
            c.activation = 2
            var q = QS8Case(conv: c)
            q.weightScales = (0..<cout).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
            q.output.scale = q.input.scale * 0.011 * 74 * 74 * Float(cin / g * k * k).squareRoot() / 40
            let d = makeQS8Data(q, &rng)
            let got = try runQS8(q, variant: variant, data: d)
            #expect(got == referenceQS8(q, d), "\(convName(variant)) \(q)")
        }
    }

    @Test("the same bits for 1 and 2 threads and every variant")
    func threadsAndVariantsAgree() throws {
        var rng = SplitMix64(seed: 5)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var c = ConvCase({ $0.batch = 2; $0.h = 13; $0.w = 13; $0.cin = 40; $0.cout = 72; $0.kh = 3; $0.kw = 3 })
        c.pad = RefPadding(top: 1, left: 1, bottom: 1, right: 1)
        var q = QS8Case(conv: c)
        q.weightScales = (0..<c.cout).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
        q.output.scale = 0.4
        let d = makeQS8Data(q, &rng)
        let first = try runQS8(q, variant: MK_VARIANT_SCALAR, data: d)
        for v in qs8Variants {
            #expect(try runQS8(q, variant: v, data: d, pool: pool) == first, "\(convName(v))")
        }
        #expect(try runQS8(q, variant: MK_VARIANT_AUTO, data: d, pool: pool) == first)
    }

    @Test("the widest K (65536) with extreme zero points and biases wraps as the reference does", arguments: qs8Variants)
    func widestK(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 65536)
        var c = ConvCase({ $0.batch = 1; $0.h = 1; $0.w = 3; $0.cin = 16384; $0.cout = 9; $0.kh = 1; $0.kw = 4 })
        c.pad = RefPadding(top: 0, left: 1, bottom: 0, right: 2)  // K = 4 * 16384; padding reads the zero point
        var q = QS8Case(conv: c)
        q.input = RefQuantization(scale: 0.01, zeroPoint: 127)
        q.weightScales = (0..<9).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
        q.output = RefQuantization(scale: 30, zeroPoint: 0)
        var d = makeQS8Data(q, &rng)
        // Far from the zero point (x - zp = -255) against weights of -127 in outputs 0-3: their
        // sums reach 255 * 127 * 49152 (three real taps), 1.6e9, and +-2^30 biases push some
        // past the int32 range, where C and the reference both wrap.
        d.x = d.x.map { $0 < 64 ? -128 : $0 }
        d.weights = d.weights.enumerated().map { $0.offset / 65536 < 4 ? -127 : $0.element }
        d.bias = (0..<9).map { (i: Int) -> Int32 in
            let sign: Int32 = i % 2 == 0 ? 1 : -1
            return sign * (1 << 30) + Int32(i)
        }
        #expect(try runQS8(q, variant: variant, data: d) == referenceQS8(q, d), "\(convName(variant))")
        var p = q.params
        p.conv.input_channels = 16385
        #expect(mk_conv2d_qs8_supports(&p, variant) == MK_STATUS_INVALID_ARGUMENT)
    }

    @Test("sums scaled past the int32 range saturate to the clamp on full-width tiles (flipped A and row offsets)", arguments: qs8Variants)
    func hugeScales(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 1 << 31)
        // K 1024 (A flipped on VNNI) and 4096 (row offsets): sums up to 255 * 127 * K times a
        // scale of 100 reach 1.3e10; the kernels must not round them to int32 unclamped.
        for (cin, activation) in [(1024, 2), (4096, 0), (1024, 0)] {
            var c = ConvCase({ $0.batch = 1; $0.h = 3; $0.w = 3; $0.cin = cin; $0.cout = 64; $0.activation = activation })
            c.withBias = true
            var q = QS8Case(conv: c)
            q.input = RefQuantization(scale: 1, zeroPoint: -128)
            q.weightScales = (0..<64).map { _ in Float.random(in: 0.5...1, using: &rng) }
            q.output = RefQuantization(scale: 0.01, zeroPoint: 5)
            var d = makeQS8Data(q, &rng)
            // Half the columns all +127 or all -127 (huge sums of either sign), half random.
            d.weights = d.weights.enumerated().map { i, w in
                let o = i / cin
                return o % 4 == 0 ? 127 : o % 4 == 1 ? -127 : w
            }
            let expected = referenceQS8(q, d)
            #expect(expected.contains(127) && expected.contains(activation == 0 ? -128 : 5))  // relu6: 0 is 5
            #expect(try runQS8(q, variant: variant, data: d) == expected, "\(convName(variant)) K \(cin)")
        }
    }

    @Test("edges of the GEMM's forms: the flip threshold, full tiles then a full-width remainder, offsets from the first of several tiles, saturation at extreme zero points", arguments: qs8Variants)
    func gemmFormEdges(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 2340)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        func check(_ c: ConvCase, input: RefQuantization? = nil, output: RefQuantization? = nil, extremes: Bool = false,
                   inExtra: Int = 0, _ what: String) throws {
            var q = QS8Case(conv: c)
            q.weightScales = (0..<c.cout).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
            let kSum = Float((c.cin / c.groups) * c.kh * c.kw)
            q.output.scale = q.input.scale * 0.011 * 74 * 74 * kSum.squareRoot() / 40
            if let input { q.input = input }
            if let output { q.output = output }
            var d = makeQS8Data(q, &rng)
            if extremes { d.x = d.x.map { $0 < 0 ? -128 : 127 } }
            let expected = referenceQS8(q, d)
            #expect(try runQS8(q, variant: variant, data: d, inExtra: inExtra, pool: pool) == expected,
                    "\(convName(variant)) \(what) \(q)")
            #expect(try runQS8(q, variant: variant, data: d, inExtra: inExtra) == expected,
                    "\(convName(variant)) \(what), 1 thread \(q)")
        }
        // A flipped up to 16 KiB of a row tile's rows (K 2340 at 7 rows, 2730 at 6), row offsets past it.
        for cin in [2340, 2341, 2730, 2731] {
            try check(ConvCase({ $0.h = 3; $0.w = 3; $0.cin = cin; $0.cout = 40 }), "K \(cin)")
        }
        // Full tiles then a remainder wider than the narrower kernel (the full kernel, masked).
        for cout in [57, 89] {
            try check(ConvCase({ $0.h = 5; $0.w = 5; $0.cin = 40; $0.cout = cout; $0.activation = 2 }), "cout \(cout)")
        }
        // K per tap below 16: the row offsets from the first of the run's tiles (fn_sums).
        var sums = ConvCase({ $0.h = 7; $0.w = 7; $0.cin = 8; $0.cout = 72; $0.kh = 3; $0.kw = 3 })
        sums.pad = RefPadding(top: 1, left: 1, bottom: 1, right: 1)
        try check(sums, "fn_sums")
        // No activation at the extreme zero points, A at both ends, sums scaled past int16: the
        // bounded store without an int8 clamp saturates both ways (the zero point added with
        // saturation).
        for zp: Int32 in [127, -128] {
            let c = ConvCase({ $0.h = 4; $0.w = 4; $0.cin = 64; $0.cout = 64; $0.activation = 0 })
            try check(c, input: RefQuantization(scale: 0.02, zeroPoint: -zp / 2), output: RefQuantization(scale: 0.0001, zeroPoint: zp),
                      extremes: true, "zero point \(zp)")
        }
        // ReLU and ReLU6 (the zero point the lower bound: the store's unsigned-saturation form),
        // at the zero points' ends: nothing between the bounds (127), a narrow ReLU6 from -128,
        // values past 127 above the zero point (ReLU from -100, unscaled), sums scaled past
        // int16 both ways, and bounds that are all of int8 (ReLU from -128: saturation).
        for (activation, zp, scale): (Int, Int32, Float) in [(1, 127, 0.0001), (2, -128, 0.05), (1, -100, 0.05),
                                                             (2, 60, 0.0001), (1, -100, 0.0001), (1, -128, 0.0001)] {
            let c = ConvCase({ $0.h = 4; $0.w = 4; $0.cin = 64; $0.cout = 64; $0.activation = activation })
            try check(c, input: RefQuantization(scale: 0.02, zeroPoint: 9), output: RefQuantization(scale: scale, zeroPoint: zp),
                      extremes: scale < 0.001, "activation \(activation) zero point \(zp) scale \(scale)")
        }
        // Dense layers whose A is flipped in chunks of row tiles (up to 4 KiB): several chunks in
        // one task (152 tiles of 7, 16 a task at 1 thread), a partial last tile, batch 2, pixels
        // contiguous (one flip per chunk) or not (one over their pointers), groups.
        let chunked = ConvCase({ $0.batch = 2; $0.h = 23; $0.w = 23; $0.cin = 64; $0.cout = 40; $0.activation = 2 })
        try check(chunked, "chunks")
        try check(chunked, inExtra: 3, "chunks, pixel stride 67")
        try check(ConvCase({ $0.batch = 2; $0.h = 13; $0.w = 17; $0.cin = 96; $0.cout = 80; $0.groups = 2 }), "chunks, 2 groups")
    }

    @Test("float output (the logits' layer): (float)(acc + bias) * input scale * weight scale, bit for bit", arguments: qs8Variants)
    func floatOutput(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 0xF32)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for i in 0..<30 {
            // Pixels around the row tiles (1 for a batch-1 linear layer), K and N around the widths.
            let pixels = [1, 1, 2, 6, 7, 8, 13].randomElement(using: &rng)!
            let cin = [1, 3, 4, 17, 64, 200, 1280].randomElement(using: &rng)!
            let cout = [1, 10, 16, 31, 33, 100].randomElement(using: &rng)!
            let inQ = mk_quantization(scale: Float.random(in: 0.005...0.1, using: &rng), zero_point: Int32.random(in: -128...127, using: &rng))
            let x = rng.int8s(pixels * cin), w = rng.int8s(cout * cin, -127, 127)
            let scales = (0..<cout).map { _ in Float.random(in: 0.001...0.03, using: &rng) }
            let bias = (0..<cout).map { _ in Int32.random(in: -100_000...100_000, using: &rng) }
            var params = mk_conv2d_qs8_params()
            params.conv = ConvCase({ $0.batch = 1; $0.h = 1; $0.w = pixels; $0.cin = cin; $0.cout = cout; $0.activation = 0 }).params
            params.input = inQ
            params.output_f32 = true
            var op: OpaquePointer?
            try #require(mk_conv2d_qs8_create(&params, w, scales, bias, variant, &op) == MK_STATUS_OK)
            defer { mk_conv2d_qs8_destroy(op) }
            var plan = mk_conv2d_qs8_plan()
            // Output pixels cout + 3 floats apart: the gaps stay untouched.
            try #require(mk_conv2d_qs8_reshape(op, 1, 1, pixels, 0, cout + 3, 0, i % 2 == 0 ? nil : pool, &plan) == MK_STATUS_OK)
            var y = [Float](repeating: -7, count: pixels * (cout + 3))
            #expect(mk_conv2d_qs8_run_f32(op, &plan, x, &y, i % 2 == 0 ? nil : pool) == MK_STATUS_OK)
            var int8Out = [Int8](repeating: 0, count: pixels * (cout + 3))
            #expect(mk_conv2d_qs8_run(op, &plan, x, &int8Out, nil, nil) == MK_STATUS_INVALID_ARGUMENT)
            for p in 0..<pixels {
                for o in 0..<cout {
                    var acc = bias[o]
                    for k in 0..<cin { acc = acc &+ (Int32(x[p * cin + k]) - inQ.zero_point) &* Int32(w[o * cin + k]) }
                    #expect(y[p * (cout + 3) + o] == Float(acc) * (inQ.scale * scales[o]), "\(convName(variant)) \(pixels)x\(cin)->\(cout)")
                }
                #expect(y[(p * (cout + 3) + cout)..<((p + 1) * (cout + 3))].allSatisfy { $0 == -7 })
            }
        }
        // Grouped 3x3 with stride and padding on every side (taps, zero-point padding, groups).
        for (groups, stride) in [(1, 1), (3, 2), (2, 1)] {
            let (h, wd, cin, cout) = (5, 6, 3 * groups, 5 * groups)
            let (cinG, coutG) = (cin / groups, cout / groups)
            let inQ = mk_quantization(scale: 0.03, zero_point: 9)
            let x = rng.int8s(h * wd * cin), w = rng.int8s(cout * cinG * 9, -127, 127)
            let scales = (0..<cout).map { _ in Float.random(in: 0.001...0.03, using: &rng) }
            var params = mk_conv2d_qs8_params()
            params.conv = ConvCase({
                $0.batch = 1; $0.h = h; $0.w = wd; $0.cin = cin; $0.cout = cout; $0.groups = groups; $0.kh = 3; $0.kw = 3
                $0.sh = stride; $0.sw = stride; $0.pad = RefPadding(top: 1, left: 2, bottom: 1, right: 1); $0.activation = 0
            }).params
            params.input = inQ
            params.output_f32 = true
            var op: OpaquePointer?
            try #require(mk_conv2d_qs8_create(&params, w, scales, nil, variant, &op) == MK_STATUS_OK)
            defer { mk_conv2d_qs8_destroy(op) }
            var plan = mk_conv2d_qs8_plan()
            try #require(mk_conv2d_qs8_reshape(op, 1, h, wd, 0, 0, 0, pool, &plan) == MK_STATUS_OK)
            let (oh, ow) = (plan.out_h, plan.out_w)
            var y = [Float](repeating: 0, count: oh * ow * cout)
            #expect(mk_conv2d_qs8_run_f32(op, &plan, x, &y, pool) == MK_STATUS_OK)
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<cout {
                        var acc: Int32 = 0
                        for c in 0..<cinG {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let iy = oy * stride - 1 + ky, ix = ox * stride - 2 + kx
                                    // Padding reads the zero point: it adds nothing.
                                    guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                                    let xv = Int32(x[(iy * wd + ix) * cin + (o / coutG) * cinG + c]) - inQ.zero_point
                                    acc = acc &+ xv &* Int32(w[((o * cinG + c) * 3 + ky) * 3 + kx])
                                }
                            }
                        }
                        #expect(y[(oy * ow + ox) * cout + o] == Float(acc) * (inQ.scale * scales[o]),
                                "\(convName(variant)) g\(groups) s\(stride)")
                    }
                }
            }
        }
        // Float output has no int8 range to clamp to: an activation is unsupported.
        var params = mk_conv2d_qs8_params()
        params.conv = ConvCase({ $0.cin = 4; $0.cout = 4; $0.activation = 1 }).params
        params.input = mk_quantization(scale: 0.1, zero_point: 0)
        params.output_f32 = true
        #expect(mk_conv2d_qs8_supports(&params, variant) == MK_STATUS_UNSUPPORTED)
    }

    @Test("bad parameters, weights and buffers are errors")
    func errors() throws {
        var c = ConvCase({ $0.cin = 8; $0.cout = 8 })
        c.activation = 0
        var q = QS8Case(conv: c)
        q.weightScales = [Float](repeating: 0.01, count: 8)
        var op: OpaquePointer?
        var weights = [Int8](repeating: 1, count: 64)
        func create(_ q: QS8Case, _ w: [Int8], _ variant: mk_variant = MK_VARIANT_AUTO) -> mk_status {
            var p = q.params
            let s = mk_conv2d_qs8_create(&p, w, q.weightScales, nil, variant, &op)
            mk_conv2d_qs8_destroy(op)
            op = nil
            return s
        }
        #expect(create(q, weights) == MK_STATUS_OK)
        weights[5] = -128
        #expect(create(q, weights) == MK_STATUS_INVALID_ARGUMENT)
        weights[5] = 1
        var bad = q
        bad.weightScales[3] = 0
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        bad = q
        bad.weightScales[3] = .nan
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        bad = q
        bad.input.scale = -1
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        bad = q
        bad.output.zeroPoint = 128
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        // A residual quantization is only checked by runs with a residual.
        bad = q
        bad.residual = RefQuantization(scale: 0, zeroPoint: 0)
        #expect(create(bad, weights) == MK_STATUS_OK)
        do {
            var p = bad.params
            var rop: OpaquePointer?
            try #require(mk_conv2d_qs8_create(&p, weights, bad.weightScales, nil, MK_VARIANT_AUTO, &rop) == MK_STATUS_OK)
            defer { mk_conv2d_qs8_destroy(rop) }
            var plan = mk_conv2d_qs8_plan()
            try #require(mk_conv2d_qs8_reshape(rop, 1, 2, 2, 0, 0, 0, nil, &plan) == MK_STATUS_OK)
            let x = [Int8](repeating: 1, count: 32), r = [Int8](repeating: 2, count: 32)
            var y = [Int8](repeating: 0, count: 32)
            #expect(mk_conv2d_qs8_run(rop, &plan, x, &y, nil, nil) == MK_STATUS_OK)
            #expect(mk_conv2d_qs8_run(rop, &plan, x, &y, r, nil) == MK_STATUS_INVALID_ARGUMENT)
        }
        bad = q
        bad.conv.algorithm = mk_conv2d_algorithm(7)
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        bad = q
        bad.output.scale = .infinity
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        bad = q
        bad.conv.activation = 3  // hard-swish
        #expect(create(bad, weights) == MK_STATUS_UNSUPPORTED)
        bad = q
        bad.conv.shuffle = true
        #expect(create(bad, weights) == MK_STATUS_UNSUPPORTED)
        bad = q
        bad.conv.cin = 7  // groups do not divide
        bad.conv.groups = 2
        #expect(create(bad, weights) == MK_STATUS_INVALID_ARGUMENT)
        // K above MK_QS8_MAX_K.
        bad = q
        bad.conv.cin = 8192
        bad.conv.kh = 3
        bad.conv.kw = 3
        bad.conv.pad = RefPadding(top: 1, left: 1, bottom: 1, right: 1)
        var p = bad.params
        #expect(mk_conv2d_qs8_supports(&p, MK_VARIANT_AUTO) == MK_STATUS_INVALID_ARGUMENT)
        // A float-only variant has no int8 kernels.
        #expect(create(q, weights, MK_VARIANT_AVX512) == MK_STATUS_UNSUPPORTED || !mk_variant_available(MK_VARIANT_AVX512))
        #expect(create(q, weights, MK_VARIANT_BLIS) == MK_STATUS_UNSUPPORTED)
        #expect(create(q, weights, mk_variant(99)) == MK_STATUS_INVALID_ARGUMENT)

        // Reshape and run errors.
        p = q.params
        try #require(mk_conv2d_qs8_create(&p, weights, q.weightScales, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_conv2d_qs8_destroy(op) }
        var plan = mk_conv2d_qs8_plan()
        #expect(mk_conv2d_qs8_reshape(op, 0, 5, 5, 0, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_qs8_reshape(op, 1, 0, 5, 0, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_qs8_reshape(op, 1, 5, 5, 7, 0, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_qs8_reshape(op, Int.max / 2, 5, 5, 0, 0, 0, nil, &plan) == MK_STATUS_SIZE_OVERFLOW)
        try #require(mk_conv2d_qs8_reshape(op, 1, 5, 5, 0, 0, 0, nil, &plan) == MK_STATUS_OK)
        var buffer = [Int8](repeating: 0, count: 400)
        buffer.withUnsafeMutableBufferPointer { b in
            let base = b.baseAddress!
            #expect(mk_conv2d_qs8_run(op, &plan, base, base + 100, nil, nil) == MK_STATUS_INVALID_ARGUMENT)  // overlap
            #expect(mk_conv2d_qs8_run(op, &plan, base, base + 200, base + 210, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(mk_conv2d_qs8_run(op, &plan, base, base + 200, nil, nil) == MK_STATUS_OK)
            #expect(mk_conv2d_qs8_run(op, &plan, nil, base + 200, nil, nil) == MK_STATUS_NULL_POINTER)
        }
        var other = plan
        other.op = nil
        #expect(buffer.withUnsafeMutableBufferPointer { b in mk_conv2d_qs8_run(op, &other, b.baseAddress!, b.baseAddress! + 200, nil, nil) } == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_conv2d_qs8_weight_bytes(op) > 64)
    }
}

let qs8DwVariants = familyVariants(MK_FAMILY_QS8_DWCONV)

/// Runs the int8 depthwise operator on the depthwise case `q` (groups == cin == cout) with pixel
/// gaps and returns the dense output.
func runQS8Depthwise(_ q: QS8Case, variant: mk_variant, data d: QS8Data, inExtra: Int = 0, outExtra: Int = 0,
                     pool: OpaquePointer? = nil) throws -> [Int8] {
    let c = q.conv
    var params = mk_dwconv2d_qs8_params(
        dw: mk_dwconv2d_params(channels: c.cin, kernel_h: c.kh, kernel_w: c.kw, stride_h: c.sh, stride_w: c.sw,
                               dilation_h: c.dh, dilation_w: c.dw, pad_top: c.pad.top, pad_left: c.pad.left,
                               pad_bottom: c.pad.bottom, pad_right: c.pad.right, activation: allActivations[c.activation].0),
        input: mk_quantization(scale: q.input.scale, zero_point: q.input.zeroPoint),
        output: mk_quantization(scale: q.output.scale, zero_point: q.output.zeroPoint))
    var op: OpaquePointer?
    let created = d.bias.withOptionalInt32Pointer { b in mk_dwconv2d_qs8_create(&params, d.weights, q.weightScales, b, variant, &op) }
    try #require(created == MK_STATUS_OK, "create \(convName(variant)) \(q): \(convStatus(created))")
    defer { mk_dwconv2d_qs8_destroy(op) }
    if variant != MK_VARIANT_AUTO { #expect(mk_dwconv2d_qs8_variant(op) == variant) }
    let inStride = c.cin + inExtra, outStride = c.cout + outExtra
    var plan = mk_dwconv2d_qs8_plan()
    try #require(mk_dwconv2d_qs8_reshape(op, c.batch, c.h, c.w, inStride, outStride, pool, &plan) == MK_STATUS_OK)
    try #require(plan.out_h == c.outH && plan.out_w == c.outW)
    let inPixels = c.batch * c.h * c.w, outPixels = c.batch * c.outH * c.outW
    var input = [Int8](repeating: -99, count: inPixels * inStride)
    for i in 0..<inPixels { for ch in 0..<c.cin { input[i * inStride + ch] = d.x[i * c.cin + ch] } }
    var output = [Int8](repeating: qs8Sentinel, count: outPixels * outStride + 64)
    let status = output.withUnsafeMutableBufferPointer { o in mk_dwconv2d_qs8_run(op, &plan, input, o.baseAddress, pool) }
    try #require(status == MK_STATUS_OK, "run \(convName(variant)) \(q): \(convStatus(status))")
    var dense = [Int8](repeating: 0, count: outPixels * c.cout)
    var stray = 0
    for i in 0..<outPixels {
        for ch in 0..<outStride {
            if ch < c.cout { dense[i * c.cout + ch] = output[i * outStride + ch] } else if output[i * outStride + ch] != qs8Sentinel { stray += 1 }
        }
    }
    stray += output[(outPixels * outStride)...].filter { $0 != qs8Sentinel }.count
    #expect(stray == 0, "\(convName(variant)) wrote \(stray) bytes outside the output: \(q)")
    return dense
}

@Suite struct QS8DepthwiseTests {
    @Test("int8 depthwise convolution matches the reference bit for bit", arguments: qs8DwVariants)
    func randomized(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 0xD_0008)
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var saturated = 0, total = 0
        for i in 0..<80 {
            var c = ConvCase()
            c.batch = Int.random(in: 1...3, using: &rng)
            c.h = Int.random(in: 1...12, using: &rng)
            c.w = Int.random(in: 1...12, using: &rng)
            c.cin = [1, 3, 4, 7, 8, 15, 16, 17, 24, 31, 33, 40, 72, 96].randomElement(using: &rng)!
            c.cout = c.cin
            c.groups = c.cin
            (c.kh, c.kw) = [(3, 3), (3, 3), (5, 5), (5, 5), (1, 1), (3, 1), (7, 7), (2, 2), (1, 2), (4, 4)].randomElement(using: &rng)!
            c.sh = Int.random(in: 1...2, using: &rng)
            c.sw = Int.random(in: 0..<4, using: &rng) == 0 ? 3 - c.sh : c.sh
            if Int.random(in: 0..<6, using: &rng) == 0 { c.dh = 2; c.dw = 2 }
            c.pad = RefPadding(top: Int.random(in: 0..<c.extentH, using: &rng), left: Int.random(in: 0..<c.extentW, using: &rng),
                               bottom: Int.random(in: 0..<c.extentH, using: &rng), right: Int.random(in: 0..<c.extentW, using: &rng))
            c.activation = qs8Activations.randomElement(using: &rng)!
            c.withBias = i % 4 != 0
            c.withResidual = false
            guard c.valid else { continue }
            var q = QS8Case(conv: c)
            q.input = RefQuantization(scale: Float.random(in: 0.005...0.05, using: &rng), zeroPoint: Int32.random(in: -128...127, using: &rng))
            q.weightScales = (0..<c.cout).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
            q.output = RefQuantization(scale: q.input.scale * 0.011 * 74 * 74 * Float(c.kh * c.kw).squareRoot() / 40,
                                       zeroPoint: Int32.random(in: -60...60, using: &rng))
            let d = makeQS8Data(q, &rng)
            let expected = referenceQS8(q, d)
            saturated += expected.filter { $0 == -128 || $0 == 127 }.count
            total += expected.count
            let got = try runQS8Depthwise(q, variant: variant, data: d, inExtra: i % 3, outExtra: i % 4 == 1 ? 3 : 0,
                                          pool: i % 3 == 0 ? pool : nil)
            let wrong = zip(got, expected).filter { $0 != $1 }.count
            #expect(wrong == 0, "\(convName(variant)) \(q): \(wrong) of \(got.count) differ")
            if wrong != 0 { break }
        }
        #expect(saturated * 4 < total, "\(saturated) of \(total) outputs at -128 or 127")
    }

    @Test("depthwise errors: -128 weights, bad scales, hard-swish, float-only variants")
    func errors() throws {
        var params = mk_dwconv2d_qs8_params(
            dw: mk_dwconv2d_params(channels: 8, kernel_h: 3, kernel_w: 3, stride_h: 1, stride_w: 1, dilation_h: 1,
                                   dilation_w: 1, pad_top: 1, pad_left: 1, pad_bottom: 1, pad_right: 1,
                                   activation: allActivations[2].0),
            input: mk_quantization(scale: 0.02, zero_point: 0), output: mk_quantization(scale: 0.05, zero_point: -128))
        var weights = [Int8](repeating: 3, count: 72)
        let scales = [Float](repeating: 0.01, count: 8)
        var op: OpaquePointer?
        #expect(mk_dwconv2d_qs8_create(&params, weights, scales, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        mk_dwconv2d_qs8_destroy(op)
        weights[70] = -128
        #expect(mk_dwconv2d_qs8_create(&params, weights, scales, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        weights[70] = 3
        var badScales = scales
        badScales[0] = -1
        #expect(mk_dwconv2d_qs8_create(&params, weights, badScales, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_INVALID_ARGUMENT)
        var bad = params
        bad.output.zero_point = -129
        #expect(mk_dwconv2d_qs8_supports(&bad, MK_VARIANT_AUTO) == MK_STATUS_INVALID_ARGUMENT)
        bad = params
        bad.dw.activation = allActivations[3].0
        #expect(mk_dwconv2d_qs8_supports(&bad, MK_VARIANT_AUTO) == MK_STATUS_UNSUPPORTED)
        bad = params
        bad.dw.pad_top = 3
        #expect(mk_dwconv2d_qs8_supports(&bad, MK_VARIANT_AUTO) == MK_STATUS_INVALID_ARGUMENT)
        #expect(mk_dwconv2d_qs8_supports(&params, MK_VARIANT_BLIS) == MK_STATUS_UNSUPPORTED)
        try #require(mk_dwconv2d_qs8_create(&params, weights, scales, nil, MK_VARIANT_AUTO, &op) == MK_STATUS_OK)
        defer { mk_dwconv2d_qs8_destroy(op) }
        var plan = mk_dwconv2d_qs8_plan()
        #expect(mk_dwconv2d_qs8_reshape(op, 1, 5, 5, 4, 0, nil, &plan) == MK_STATUS_INVALID_ARGUMENT)
        try #require(mk_dwconv2d_qs8_reshape(op, 1, 5, 5, 0, 0, nil, &plan) == MK_STATUS_OK)
        var buffer = [Int8](repeating: 0, count: 400)
        buffer.withUnsafeMutableBufferPointer { b in
            #expect(mk_dwconv2d_qs8_run(op, &plan, b.baseAddress!, b.baseAddress! + 100, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(mk_dwconv2d_qs8_run(op, &plan, b.baseAddress!, b.baseAddress! + 200, nil) == MK_STATUS_OK)
        }
        #expect(mk_dwconv2d_qs8_weight_bytes(op) >= 72)
    }
}
