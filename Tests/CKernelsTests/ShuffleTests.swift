import CKernels
import ReferenceKernels
import Testing

func shuffleName(_ variant: mk_variant) -> String { String(cString: mk_variant_name(variant)) }

/// Values to shuffle: uniform floats with some -0.0, -infinity and a quiet NaN with a payload
/// mixed in (a shuffle only moves floats, so every bit must survive).
func shuffleValues(_ count: Int, _ rng: inout SplitMix64) -> [Float] {
    var values = rng.floats(count, -4, 4)
    for i in 0..<count {
        if i % 7 == 3 {
            values[i] = -0.0
        } else if i % 11 == 5 {
            values[i] = Float(bitPattern: 0x7FC0_1234)
        } else if i % 13 == 6 {
            values[i] = -.infinity
        }
    }
    return values
}

/// Reference.channelShuffle of `pixels` dense rows of `channels` values.
func shuffleReference(groups: Int, channels: Int, pixels: Int, _ x: [Float]) -> [Float] {
    Reference.channelShuffle(RefTensor(n: 1, h: 1, w: pixels, c: channels, data: x), groups: groups).data
}

/// nil when `a` and `b` hold the same bits, else where they first differ.
func shuffleBitMismatch(_ a: [Float], _ b: [Float]) -> String? {
    guard a.count == b.count else { return "count \(a.count) != \(b.count)" }
    for i in 0..<a.count where a[i].bitPattern != b[i].bitPattern {
        return "at \(i): 0x\(String(a[i].bitPattern, radix: 16)) != 0x\(String(b[i].bitPattern, radix: 16))"
    }
    return nil
}

/// Runs mk_channel_shuffle on `pixels` rows of `channels` values (dense in `x`) and returns the
/// dense result. Out of place, the input rows are `inExtra` floats apart beyond the channels
/// (gaps: NaN) and the output rows `outExtra`; in place, one buffer with `outExtra`. Output gaps
/// and a guard tail hold `sentinel`, which must survive.
func runShuffle(groups: Int, channels: Int, pixels: Int, _ x: [Float], variant: mk_variant, inExtra: Int = 0,
                outExtra: Int = 0, inPlace: Bool = false, pool: OpaquePointer? = nil) throws -> [Float] {
    let outStride = channels + outExtra
    let inStride = inPlace ? outStride : channels + inExtra
    var output = [Float](repeating: sentinel, count: pixels * outStride + 8)
    let status: mk_status
    if inPlace {
        for p in 0..<pixels { for c in 0..<channels { output[p * outStride + c] = x[p * channels + c] } }
        status = output.withUnsafeMutableBufferPointer { o in
            channelShuffleOnce(groups, channels, pixels, o.baseAddress, outStride, o.baseAddress, outStride, variant, pool)
        }
    } else {
        var input = [Float](repeating: .nan, count: pixels * inStride)
        for p in 0..<pixels { for c in 0..<channels { input[p * inStride + c] = x[p * channels + c] } }
        status = output.withUnsafeMutableBufferPointer { o in
            channelShuffleOnce(groups, channels, pixels, input, inStride, o.baseAddress, outStride, variant, pool)
        }
    }
    let label = "\(shuffleName(variant)) g\(groups) C\(channels) pixels \(pixels) strides +\(inExtra)/+\(outExtra)\(inPlace ? " in place" : "")"
    try #require(status == MK_STATUS_OK, "\(label): \(String(cString: mk_status_string(status)))")
    var dense = [Float](repeating: 0, count: pixels * channels)
    var gapWrites = 0, tailWrites = 0
    for p in 0..<pixels {
        for c in 0..<outStride {
            let v = output[p * outStride + c]
            if c < channels {
                dense[p * channels + c] = v
            } else if v.bitPattern != sentinel.bitPattern {
                gapWrites += 1
            }
        }
    }
    for i in (pixels * outStride)..<output.count where output[i].bitPattern != sentinel.bitPattern {
        tailWrites += 1
    }
    #expect(gapWrites == 0, "\(label): wrote \(gapWrites) floats between pixels")
    #expect(tailWrites == 0, "\(label): wrote \(tailWrites) floats past the output")
    return dense
}

@Suite("Channel shuffle (mk_channel_shuffle, C ABI) vs ReferenceKernels")
struct ShuffleTests {
    /// Checks every layout (out of place dense and strided, in place dense and strided) of one
    /// shape against the reference, bit for bit. False at the first mismatch (recorded).
    func checkAllLayouts(groups: Int, channels: Int, pixels: Int, variant: mk_variant,
                         rng: inout SplitMix64, pool: OpaquePointer? = nil) throws -> Bool {
        let x = shuffleValues(pixels * channels, &rng)
        let want = shuffleReference(groups: groups, channels: channels, pixels: pixels, x)
        let layouts: [(inExtra: Int, outExtra: Int, inPlace: Bool)] = [
            (0, 0, false), (3, 2, false), (0, 5, false), (0, 0, true), (0, 3, true),
        ]
        for layout in layouts {
            let got = try runShuffle(groups: groups, channels: channels, pixels: pixels, x, variant: variant,
                                     inExtra: layout.inExtra, outExtra: layout.outExtra, inPlace: layout.inPlace,
                                     pool: pool)
            if let mismatch = shuffleBitMismatch(got, want) {
                Issue.record("\(shuffleName(variant)) g\(groups) C\(channels) pixels \(pixels) strides +\(layout.inExtra)/+\(layout.outExtra)\(layout.inPlace ? " in place" : ""): \(mismatch)")
                return false
            }
        }
        return true
    }

    @Test("groups 1...8, every C = k * groups up to 8 * groups, 1 and 37 pixels, every layout: bit-exact",
          arguments: familyVariants(MK_FAMILY_F32_SHUFFLE))
    func vectorizedGroups(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 81)
        for groups in 1...8 {
            for channels in stride(from: groups, through: 8 * groups, by: groups) {
                for pixels in [1, 37] {
                    if try !checkAllLayouts(groups: groups, channels: channels, pixels: pixels, variant: variant, rng: &rng) {
                        return
                    }
                }
            }
        }
    }

    @Test("other group counts (generic loop) and wide rows: bit-exact", arguments: familyVariants(MK_FAMILY_F32_SHUFFLE))
    func genericGroups(variant: mk_variant) throws {
        var rng = SplitMix64(seed: 82)
        for groups in [9, 10, 12, 16, 24, 32, 33, 64] {
            for perGroup in [1, 2, 3, 5] {
                for pixels in [1, 37] {
                    if try !checkAllLayouts(groups: groups, channels: groups * perGroup, pixels: pixels, variant: variant, rng: &rng) {
                        return
                    }
                }
            }
        }
        for (groups, channels) in [(8, 1000), (4, 1024), (2, 1030), (3, 999), (7, 7 * 129)] {
            if try !checkAllLayouts(groups: groups, channels: channels, pixels: 5, variant: variant, rng: &rng) { return }
        }
    }

    @Test("in place at the 8192-channel limit; 8200 channels run out of place")
    func inPlaceLimit() throws {
        var rng = SplitMix64(seed: 83)
        for variant in familyVariants(MK_FAMILY_F32_SHUFFLE) {
            let x = shuffleValues(2 * 8192, &rng)
            let want = shuffleReference(groups: 8, channels: 8192, pixels: 2, x)
            let inPlace = try runShuffle(groups: 8, channels: 8192, pixels: 2, x, variant: variant, inPlace: true)
            let mismatch = shuffleBitMismatch(inPlace, want)
            #expect(mismatch == nil, "\(shuffleName(variant)) in place C 8192: \(mismatch ?? "")")
            let wide = shuffleValues(8200, &rng)
            let got = try runShuffle(groups: 8, channels: 8200, pixels: 1, wide, variant: variant)
            let wideMismatch = shuffleBitMismatch(got, shuffleReference(groups: 8, channels: 8200, pixels: 1, wide))
            #expect(wideMismatch == nil, "\(shuffleName(variant)) out of place C 8200: \(wideMismatch ?? "")")
        }
    }

    @Test("pixel strides 0 mean the channel count")
    func zeroStrides() throws {
        var rng = SplitMix64(seed: 84)
        let x = shuffleValues(10 * 12, &rng)
        let want = shuffleReference(groups: 3, channels: 12, pixels: 10, x)
        var out = [Float](repeating: sentinel, count: 10 * 12)
        let status = out.withUnsafeMutableBufferPointer { o in
            channelShuffleOnce(3, 12, 10, x, 0, o.baseAddress, 0, MK_VARIANT_AUTO, nil)
        }
        #expect(status == MK_STATUS_OK)
        #expect(shuffleBitMismatch(out, want) == nil)
        var buffer = x
        let inPlace = buffer.withUnsafeMutableBufferPointer { b in
            channelShuffleOnce(3, 12, 10, b.baseAddress, 0, b.baseAddress, 0, MK_VARIANT_AUTO, nil)
        }
        #expect(inPlace == MK_STATUS_OK)
        #expect(shuffleBitMismatch(buffer, want) == nil)
    }

    @Test("shuffling with groups, then with C / groups, restores the input")
    func inverse() throws {
        var rng = SplitMix64(seed: 85)
        for variant in familyVariants(MK_FAMILY_F32_SHUFFLE) {
            for (groups, channels) in [(2, 16), (3, 24), (4, 12), (8, 40), (5, 35), (6, 48)] {
                let x = shuffleValues(9 * channels, &rng)
                let once = try runShuffle(groups: groups, channels: channels, pixels: 9, x, variant: variant)
                let twice = try runShuffle(groups: channels / groups, channels: channels, pixels: 9, once, variant: variant)
                let mismatch = shuffleBitMismatch(twice, x)
                #expect(mismatch == nil, "\(shuffleName(variant)) g\(groups) C\(channels): \(mismatch ?? "")")
            }
        }
    }

    @Test("AUTO runs the best variant's result; 1 and 2 threads give the same bits", arguments: familyVariants(MK_FAMILY_F32_SHUFFLE))
    func threads(variant: mk_variant) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        var rng = SplitMix64(seed: 86)
        for (groups, channels, pixels) in [(3, 24, 5000), (2, 116, 700), (8, 64, 1500), (4, 1024, 40), (12, 36, 900)] {
            let x = shuffleValues(pixels * channels, &rng)
            let want = shuffleReference(groups: groups, channels: channels, pixels: pixels, x)
            for (inExtra, outExtra, inPlace) in [(0, 0, false), (2, 1, false), (0, 0, true), (0, 4, true)] {
                let one = try runShuffle(groups: groups, channels: channels, pixels: pixels, x, variant: variant,
                                         inExtra: inExtra, outExtra: outExtra, inPlace: inPlace)
                let two = try runShuffle(groups: groups, channels: channels, pixels: pixels, x, variant: variant,
                                         inExtra: inExtra, outExtra: outExtra, inPlace: inPlace, pool: pool)
                let label = "\(shuffleName(variant)) g\(groups) C\(channels) pixels \(pixels) +\(inExtra)/+\(outExtra) in place: \(inPlace)"
                let m1 = shuffleBitMismatch(one, want)
                let m2 = shuffleBitMismatch(two, want)
                #expect(m1 == nil, "\(label), 1 thread: \(m1 ?? "")")
                #expect(m2 == nil, "\(label), 2 threads: \(m2 ?? "")")
            }
            let auto = try runShuffle(groups: groups, channels: channels, pixels: pixels, x, variant: MK_VARIANT_AUTO, pool: pool)
            #expect(shuffleBitMismatch(auto, want) == nil, "AUTO g\(groups) C\(channels)")
        }
    }

    @Test("bad arguments return their status")
    func errors() {
        let other = [Float](repeating: 2, count: 256)
        var buffer = [Float](repeating: 1, count: 256)
        buffer.withUnsafeMutableBufferPointer { b in
            let p = b.baseAddress!
            let auto = MK_VARIANT_AUTO
            #expect(channelShuffleOnce(2, 8, 4, nil, 0, p, 0, auto, nil) == MK_STATUS_NULL_POINTER)
            #expect(channelShuffleOnce(2, 8, 4, other, 0, nil, 0, auto, nil) == MK_STATUS_NULL_POINTER)
            #expect(channelShuffleOnce(3, 8, 4, other, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)  // 8 % 3
            #expect(channelShuffleOnce(16, 8, 4, other, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)  // 8 % 16
            #expect(channelShuffleOnce(0, 8, 4, other, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 0, 4, other, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 8, 0, other, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 8, 4, other, 7, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)  // stride < C
            #expect(channelShuffleOnce(2, 8, 4, other, 0, p, 7, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            // Partial overlaps: shifted by one float, overlapping tails, same start with other strides.
            #expect(channelShuffleOnce(2, 8, 4, p, 0, p + 1, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 8, 4, p + 1, 0, p, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 8, 4, p, 0, p + 31, 0, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 8, 4, p, 8, p, 16, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            #expect(channelShuffleOnce(2, 8, 4, p, 16, p, 8, auto, nil) == MK_STATUS_INVALID_ARGUMENT)
            // Huge sizes: rejected before touching memory.
            #expect(channelShuffleOnce(2, 8, Int.max / 2, other, 0, p, 0, auto, nil) != MK_STATUS_OK)
            #expect(channelShuffleOnce(2, 8, 4, other, Int.max / 2, p, 0, auto, nil) != MK_STATUS_OK)
            #expect(channelShuffleOnce(2, 8, 4, other, 0, p, Int.max / 2, auto, nil) != MK_STATUS_OK)
            #expect(channelShuffleOnce(2, Int.max / 2, 1, other, 0, p + 128, 0, auto, nil) != MK_STATUS_OK)
            // Variants: BLIS has no shuffle; unavailable ISAs are UNSUPPORTED.
            #expect(channelShuffleOnce(2, 8, 4, other, 0, p, 0, MK_VARIANT_BLIS, nil) == MK_STATUS_UNSUPPORTED)
            for variant in [MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_NEON] where !mk_variant_available(variant) {
                #expect(channelShuffleOnce(2, 8, 4, other, 0, p, 0, variant, nil) == MK_STATUS_UNSUPPORTED, "\(shuffleName(variant))")
            }
            #if arch(x86_64)
            #expect(channelShuffleOnce(2, 8, 4, other, 0, p, 0, MK_VARIANT_NEON, nil) == MK_STATUS_UNSUPPORTED)
            #endif
            #expect(channelShuffleOnce(2, 8, 4, other, 0, p, 0, mk_variant(rawValue: 42), nil) != MK_STATUS_OK)
            var untouched = 0
            for i in 0..<256 where p[i] == 1 { untouched += 1 }
            #expect(untouched == 256, "a rejected call wrote the buffer")
            // Adjacent (touching, not overlapping) input and output are fine: [0, 32) -> [32, 64).
            #expect(channelShuffleOnce(2, 8, 4, p, 0, p + 32, 0, auto, nil) == MK_STATUS_OK)
        }

        // In place is limited to 8192 channels.
        var wide = [Float](repeating: 1, count: 8200)
        let status = wide.withUnsafeMutableBufferPointer { w in
            channelShuffleOnce(8, 8200, 1, w.baseAddress, 0, w.baseAddress, 0, MK_VARIANT_AUTO, nil)
        }
        #expect(status == MK_STATUS_INVALID_ARGUMENT)
    }
}
