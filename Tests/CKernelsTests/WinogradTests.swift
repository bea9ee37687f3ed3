import CKernels
import CKernelsTesting
import ReferenceKernels
import Testing

/// The variants that run Winograd here (f32_gemm and f32_winograd kernels, CPU support).
let winogradVariants: [mk_variant] = convVariants.filter { convSupports($0, winogradCase({ _ in })) }

/// A 3x3 stride-1 case forced onto Winograd.
func winogradCase(_ configure: (inout ConvCase) -> Void) -> ConvCase {
    ConvCase {
        $0.kh = 3
        $0.kw = 3
        $0.pad = .symmetric(1)
        $0.algorithm = MK_CONV2D_ALGORITHM_WINOGRAD
        configure(&$0)
    }
}

/// Runs `cs` with `variant` and checks it against the reference (and that Winograd ran).
func checkWinograd(_ cs: ConvCase, _ d: ConvData, variant: mk_variant, residualInPlace: Bool = false,
                   inExtra: Int = 0, outExtra: Int = 0, resExtra: Int = 0, pool: OpaquePointer? = nil) throws -> [Float] {
    let got = try runConv(cs, variant: variant, data: d, residualInPlace: residualInPlace, inExtra: inExtra,
                          outExtra: outExtra, resExtra: resExtra, pool: pool)
    let (ok, detail) = convClose(got, referenceConv(cs, d), reduction: cs.reduction)
    #expect(ok, "\(convName(variant)) \(cs) strides +\(inExtra)/+\(outExtra)/+\(resExtra)\(residualInPlace ? " residual in place" : ""): \(detail)")
    return got
}

@Suite("Winograd F(4x4, 3x3) convolution")
struct WinogradTests {
    @Test("the variants with Winograd kernels run it, and AUTO picks it for the wide 3x3 stride-1 layers only")
    func selection() throws {
        #expect(!winogradVariants.isEmpty)
        let weights = [Float](repeating: 0.01, count: 64 * 64 * 25)  // the largest case below: 5x5
        func algorithm(_ cs: ConvCase, _ variant: mk_variant = MK_VARIANT_AUTO) throws -> mk_conv2d_algorithm? {
            try #require(cs.weightCount <= weights.count)
            let (status, op) = convCreate(cs, variant: variant, weights: Array(weights.prefix(cs.weightCount)), bias: nil)
            defer { mk_conv2d_f32_destroy(op) }
            return status == MK_STATUS_OK ? mk_conv2d_f32_algorithm(op) : nil
        }
        let wide = ConvCase({ $0.cin = 64; $0.cout = 64; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) })
        #expect(try algorithm(wide) == MK_CONV2D_ALGORITHM_WINOGRAD)
        var direct = wide
        direct.algorithm = MK_CONV2D_ALGORITHM_DIRECT
        #expect(try algorithm(direct) == MK_CONV2D_ALGORITHM_DIRECT)
        // VGG16's first layer (3 input channels), strided, dilated, grouped, 5x5: direct.
        for cs in [ConvCase({ $0.cin = 3; $0.cout = 64; $0.kh = 3; $0.kw = 3; $0.pad = .symmetric(1) }),
                   ConvCase({ $0.cin = 64; $0.cout = 64; $0.kh = 3; $0.kw = 3; $0.sh = 2; $0.sw = 2 }),
                   ConvCase({ $0.cin = 64; $0.cout = 64; $0.kh = 3; $0.kw = 3; $0.dh = 2; $0.dw = 2 }),
                   ConvCase({ $0.cin = 64; $0.cout = 64; $0.groups = 2; $0.kh = 3; $0.kw = 3 }),
                   ConvCase({ $0.h = 9; $0.w = 9; $0.cin = 64; $0.cout = 64; $0.kh = 5; $0.kw = 5 })] {
            #expect(try algorithm(cs) == MK_CONV2D_ALGORITHM_DIRECT, "\(cs)")
            var forced = cs
            forced.algorithm = MK_CONV2D_ALGORITHM_WINOGRAD
            var p = forced.params
            let expected = cs.cin == 3 ? MK_STATUS_OK : MK_STATUS_UNSUPPORTED
            #expect(mk_conv2d_f32_supports(&p, MK_VARIANT_AUTO) == expected, "\(forced)")
        }
        var p = winogradCase({ _ in }).params
        #expect(mk_conv2d_f32_supports(&p, MK_VARIANT_BLIS) == MK_STATUS_UNSUPPORTED)
        p.algorithm = mk_conv2d_algorithm(rawValue: 7)
        #expect(mk_conv2d_f32_supports(&p, MK_VARIANT_AUTO) == MK_STATUS_INVALID_ARGUMENT)
    }

    @Test("randomized shapes against the reference: odd sizes, channels off the vector width, padding on every side, batch 2, 1x1 input, strides, residual, activations",
          arguments: winogradVariants)
    func randomized(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 4343 + UInt64(variant.rawValue))
        let channels = [1, 3, 7, 8, 9, 16, 17, 33]
        var checked = 0
        while checked < 60 {
            var cs = winogradCase { _ in }
            cs.batch = rng.next() % 4 == 0 ? 2 : 1
            cs.h = 1 + Int(rng.next() % 13)
            cs.w = 1 + Int(rng.next() % 13)
            cs.cin = channels[Int(rng.next() % UInt64(channels.count))]
            cs.cout = channels[Int(rng.next() % UInt64(channels.count))]
            cs.pad = RefPadding(top: Int(rng.next() % 3), left: Int(rng.next() % 3),
                                bottom: Int(rng.next() % 3), right: Int(rng.next() % 3))
            cs.activation = Int(rng.next() % UInt64(allActivations.count))
            cs.withBias = rng.next() % 5 != 0
            cs.withResidual = rng.next() % 3 == 0
            guard cs.valid else { continue }
            let d = makeConvData(cs, &rng)
            let extra = checked % 3 == 0 ? (2, 3, 1) : (0, 0, 0)
            _ = try checkWinograd(cs, d, variant: variant, residualInPlace: cs.withResidual && checked % 2 == 0,
                                  inExtra: extra.0, outExtra: extra.1, resExtra: extra.2)
            checked += 1
        }
        // A 1x1 input (only the centre tap is inside) and a single row.
        for cs in [winogradCase({ $0.h = 1; $0.w = 1; $0.cin = 20; $0.cout = 30 }),
                   winogradCase({ $0.batch = 2; $0.h = 1; $0.w = 6; $0.cin = 5; $0.cout = 9; $0.pad = RefPadding(top: 1, left: 2, bottom: 1, right: 0) })] {
            _ = try checkWinograd(cs, makeConvData(cs, &rng), variant: variant)
        }
    }

    @Test("larger layers: several tile blocks, several K blocks, column splits; 1 and 2 threads bit-identical",
          arguments: winogradVariants)
    func blocksAndThreads(variant: mk_variant) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 77)
        let cases = [
            // 25 tiles in blocks of a few (workspace override below), ReLU6, residual.
            winogradCase({ $0.batch = 2; $0.h = 19; $0.w = 17; $0.cin = 24; $0.cout = 40; $0.activation = 2; $0.withResidual = true }),
            // More channels than a K block holds (kc >= 512 floats) and than an N block (256 columns).
            winogradCase({ $0.h = 6; $0.w = 5; $0.cin = 1030; $0.cout = 20 }),
            winogradCase({ $0.h = 5; $0.w = 7; $0.cin = 12; $0.cout = 300; $0.activation = 3 }),
            // U per block in groups of column tiles of up to 384 KiB (6 points x 200 channels:
            // AVX-512, NR 32, 5 tiles (4 + 1 of 2 columns) in groups of 2, 2, 1; AVX2, NR 16, 9
            // tiles in groups of 5 and 4).
            winogradCase({ $0.h = 5; $0.w = 6; $0.cin = 200; $0.cout = 130; $0.withResidual = true }),
        ]
        defer {
            mk_testing_winograd_workspace(0)
            mk_testing_winograd_lazy(0)
        }
        for cs in cases {
            let d = makeConvData(cs, &rng)
            var first: [Float]?
            // U at create, per block and column tile, and once per run, each with the default
            // blocks and with a budget of a few tiles: one result, bit for bit.
            for lazy in [2, 1, 3] {
                mk_testing_winograd_lazy(Int32(lazy))
                for budget in [0, 40_000] {
                    mk_testing_winograd_workspace(budget)
                    let form = "\(convName(variant)) \(cs) U \(["", "per block", "at create", "per run"][lazy]) budget \(budget)"
                    let one = try checkWinograd(cs, d, variant: variant)
                    let two = try checkWinograd(cs, d, variant: variant, pool: pool)
                    let mismatch = convBitMismatch(one, two)
                    #expect(mismatch == nil, "\(form): 1 vs 2 threads \(mismatch ?? "")")
                    if let first {
                        let differs = convBitMismatch(first, one)
                        #expect(differs == nil, "\(form) against U at create, default blocks: \(differs ?? "")")
                    } else {
                        first = one
                    }
                }
            }
        }
    }

    @Test("U is computed in the run for the layers whose U would pass 4 MiB (a quarter of the memory held): per block with one block of tiles or a U above 16 MiB, else once per run in the plan's workspace")
    func lazyChoice() throws {
        mk_testing_winograd_lazy(0)  // the library's choice (this thread's override)
        mk_testing_winograd_workspace(0)
        var rng = SplitMix64(seed: 8)
        // 36 * Cin * Cout * 4 bytes: 128 -> 128 is 2.4 MB (held), 256 -> 256 9.4 MB, 256 -> 512 18.9 MB.
        for (cin, cout, lazy) in [(128, 128, false), (256, 256, true), (256, 512, true)] {
            let cs = winogradCase { $0.h = 4; $0.w = 4; $0.cin = cin; $0.cout = cout }
            let w = rng.floats(cs.weightCount, -1, 1)
            let (status, op) = convCreate(cs, variant: MK_VARIANT_AUTO, weights: w, bias: nil)
            try #require(status == MK_STATUS_OK)
            defer { mk_conv2d_f32_destroy(op) }
            try #require(mk_conv2d_f32_algorithm(op) == MK_CONV2D_ALGORITHM_WINOGRAD)
            #expect(mk_testing_winograd_is_lazy(op) == lazy, "\(cin)->\(cout)")
            // The packed weights: 36 (U) or 9 (g) floats per weight, columns rounded to tiles.
            let perWeight = Double(mk_conv2d_f32_weight_bytes(op)) / Double(4 * cs.weightCount / 9)
            #expect(perWeight > (lazy ? 9 : 36) && perWeight < (lazy ? 9.1 : 36.1), "\(cin)->\(cout): \(perWeight) floats per weight")
            // Where the plans find U: a workspace that holds all of U exactly when U is once per
            // run (several blocks of tiles and U at most 16 MiB).
            let uBytes = 36 * cin * cout * 4
            for size in [8, 64] {
                var plan = mk_conv2d_f32_plan()
                try #require(mk_conv2d_f32_reshape(op, 1, size, size, 0, 0, 0, nil, &plan) == MK_STATUS_OK)
                let perRun = lazy && size == 64 && uBytes <= 16 << 20
                #expect((plan.workspace_bytes >= uBytes) == perRun, "\(cin)->\(cout) at \(size)x\(size): workspace \(plan.workspace_bytes)")
            }
        }
    }

    @Test("Winograd and direct agree to rounding on a VGG-like layer (relative to the output's scale)",
          arguments: winogradVariants)
    func againstDirect(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 99)
        var cs = winogradCase({ $0.h = 14; $0.w = 14; $0.cin = 128; $0.cout = 64; $0.withBias = true })
        let d = makeConvData(cs, &rng)
        let wino = try runConv(cs, variant: variant, data: d)
        cs.algorithm = MK_CONV2D_ALGORITHM_DIRECT
        let direct = try runConv(cs, variant: variant, data: d)
        let scale = direct.map { abs($0) }.max() ?? 1
        let worst = zip(wino, direct).map { abs($0 - $1) }.max() ?? 0
        // The error documented in CKernels/README.md: about 6e-6 of the scale on this layer for
        // F(4x4, 3x3) with the points 0, +-1, +-2 (direct's own is ~1e-7).
        #expect(worst / scale < 2e-5, "\(convName(variant)): max |winograd - direct| / max |direct| = \(worst / scale)")
    }

    @Test("a plan needs its workspace and a pool no wider than it was planned for")
    func workspaceRules() throws {
        let cs = winogradCase({ $0.h = 8; $0.w = 8; $0.cin = 8; $0.cout = 8 })
        var rng = SplitMix64(seed: 5)
        let d = makeConvData(cs, &rng)
        let (status, op) = convCreate(cs, variant: MK_VARIANT_AUTO, weights: d.weights, bias: d.bias)
        try #require(status == MK_STATUS_OK)
        defer { mk_conv2d_f32_destroy(op) }
        #expect(mk_conv2d_f32_algorithm(op) == MK_CONV2D_ALGORITHM_WINOGRAD)
        var plan = mk_conv2d_f32_plan()
        try #require(mk_conv2d_f32_reshape(op, 1, 8, 8, 0, 0, 0, nil, &plan) == MK_STATUS_OK)
        #expect(plan.workspace_bytes > 0)
        var y = [Float](repeating: 0, count: 64 * 8)
        #expect(mk_conv2d_f32_run(op, &plan, d.x, &y, nil, nil) == MK_STATUS_INVALID_ARGUMENT)  // no workspace
        let memory = mk_aligned_alloc(plan.workspace_bytes)
        defer { mk_aligned_free(memory) }
        plan.workspace = memory
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        #expect(mk_conv2d_f32_run(op, &plan, d.x, &y, nil, pool) == MK_STATUS_INVALID_ARGUMENT)  // planned for 1
        #expect(mk_conv2d_f32_run(op, &plan, d.x, &y, nil, nil) == MK_STATUS_OK)
        // A direct plan needs none.
        var direct = cs
        direct.algorithm = MK_CONV2D_ALGORITHM_DIRECT
        let (s2, op2) = convCreate(direct, variant: MK_VARIANT_AUTO, weights: d.weights, bias: d.bias)
        try #require(s2 == MK_STATUS_OK)
        defer { mk_conv2d_f32_destroy(op2) }
        var plan2 = mk_conv2d_f32_plan()
        try #require(mk_conv2d_f32_reshape(op2, 1, 8, 8, 0, 0, 0, nil, &plan2) == MK_STATUS_OK)
        #expect(plan2.workspace_bytes == 0)
    }

    @Test("the transformed weights are G g G^T per point to float rounding, the same bits at create and in the run; set_weights packs the same",
          arguments: winogradVariants)
    func packedWeights(variant: mk_variant) throws {
        // F(4x4, 3x3)'s G, and U[6 i + k] = sum_a G[i][a] (sum_b g[a][b] G[k][b]) in double; the
        // kernel's float transform (12 operations per row of 3) stays within a few roundings of
        // the scale sum_a,b |G[i][a]| |g[a][b]| |G[k][b]|.
        let G: [[Double]] = [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                             [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
        func point(_ g: ArraySlice<Float>, _ p: Int) -> (value: Double, scale: Double) {
            let i = p / 6, k = p % 6, g0 = g.startIndex
            var sum = 0.0, scale = 0.0
            for a in 0..<3 {
                for b in 0..<3 {
                    sum += G[i][a] * Double(g[g0 + a * 3 + b]) * G[k][b]
                    scale += abs(G[i][a] * Double(g[g0 + a * 3 + b]) * G[k][b])
                }
            }
            return (sum, scale)
        }
        defer { mk_testing_winograd_lazy(0) }
        var rng = SplitMix64(seed: 41)
        for (cin, cout) in [(1, 1), (3, 17), (32, 40), (19, 70), (64, 9), (40, 33)] {
            let cs = winogradCase { $0.cin = cin; $0.cout = cout }
            let first = rng.floats(cs.weightCount, -2, 2), weights = rng.floats(cs.weightCount, -2, 2)
            var ops: [OpaquePointer?] = []
            defer { ops.forEach { mk_conv2d_f32_destroy($0) } }
            for lazy in [2, 1] {
                mk_testing_winograd_lazy(Int32(lazy))
                let (status, op) = convCreate(cs, variant: variant, weights: first, bias: nil)
                try #require(status == MK_STATUS_OK, "\(cs)")
                ops.append(op)
                try #require(mk_conv2d_f32_algorithm(op) == MK_CONV2D_ALGORITHM_WINOGRAD)
                #expect(mk_testing_winograd_is_lazy(op) == (lazy == 1))
            }
            for (label, w) in [("create", first), ("set_weights", weights)] {
                if label == "set_weights" {
                    for op in ops { try #require(mk_conv2d_f32_set_weights(op, w, nil) == MK_STATUS_OK) }
                }
                var wrong = 0, unreadable = 0, forms = 0, worst = 0.0
                for o in 0..<cout {
                    for c in 0..<cin {
                        for p in 0..<36 {
                            var atCreate: Float = .nan, inRun: Float = .nan
                            if mk_testing_winograd_packed(ops[0], p, o, c, &atCreate) != MK_STATUS_OK { unreadable += 1 }
                            if mk_testing_winograd_packed(ops[1], p, o, c, &inRun) != MK_STATUS_OK { unreadable += 1 }
                            if atCreate.bitPattern != inRun.bitPattern { forms += 1 }
                            let want = point(w[((o * cin + c) * 9)...], p)
                            let error = abs(Double(atCreate) - want.value) / (want.scale * 0x1p-24)
                            worst = max(worst, error.isNaN ? .infinity : error)
                            if !(error <= 8) { wrong += 1 }
                        }
                    }
                }
                #expect(unreadable == 0)
                #expect(forms == 0, "\(convName(variant)) \(cin)->\(cout) \(label): \(forms) points differ between U at create and in the run")
                #expect(wrong == 0, "\(convName(variant)) \(cin)->\(cout) \(label): \(wrong) of \(cout * cin * 36) points off by more than 8 roundings of their scale (worst \(worst))")
            }
            var value: Float = 0
            for op in ops {
                #expect(mk_testing_winograd_packed(op, 36, 0, 0, &value) == MK_STATUS_INVALID_ARGUMENT)
                #expect(mk_testing_winograd_packed(op, 0, 0, cin, &value) == MK_STATUS_INVALID_ARGUMENT)
            }
        }
    }
}
