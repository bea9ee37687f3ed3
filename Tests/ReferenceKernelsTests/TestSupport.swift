// Helpers shared by the ReferenceKernels tests: a seeded generator, random tensors, approximate checks.

import ReferenceKernels
import Testing

/// SplitMix64: a tiny deterministic generator so every random case is reproducible from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` values uniform in `-1...1`.
func randomFloats(_ count: Int, _ rng: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
}

/// A tensor of the given shape filled with values uniform in `-1...1`.
func randomTensor(n: Int, h: Int, w: Int, c: Int, _ rng: inout SeededGenerator) -> RefTensor {
    RefTensor(n: n, h: h, w: w, c: c, data: randomFloats(n * h * w * c, &rng))
}

/// Expects `actual` and `expected` to have the same length and to agree elementwise within
/// `abs(a - e) <= tolerance * max(1, abs(e))`.
func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-6,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "length \(actual.count) != \(expected.count)", sourceLocation: sourceLocation)
    for i in 0..<min(actual.count, expected.count) {
        let (a, e) = (actual[i], expected[i])
        #expect(abs(a - e) <= tolerance * max(1, abs(e)), "element \(i): \(a) vs expected \(e)",
                sourceLocation: sourceLocation)
    }
}

/// The channels `range` of `x`, as a new tensor (a test-side slicing helper).
func sliceChannels(_ x: RefTensor, _ range: Range<Int>) -> RefTensor {
    var data: [Float] = []
    for p in 0..<(x.n * x.h * x.w) {
        for ch in range { data.append(x.data[p * x.c + ch]) }
    }
    return RefTensor(n: x.n, h: x.h, w: x.w, c: range.count, data: data)
}

/// `x` surrounded by explicit rows/columns of `value` (a test-side padding helper).
func padded(_ x: RefTensor, _ p: RefPadding, value: Float) -> RefTensor {
    var out = RefTensor(n: x.n, h: x.h + p.top + p.bottom, w: x.w + p.left + p.right, c: x.c, repeating: value)
    for b in 0..<x.n {
        for y in 0..<x.h {
            for xx in 0..<x.w {
                for ch in 0..<x.c {
                    out[n: b, y: y + p.top, x: xx + p.left, ch: ch] = x[n: b, y: y, x: xx, ch: ch]
                }
            }
        }
    }
    return out
}
