// RefTensor: layout, NCHW conversion, subscripts.

import ReferenceKernels
import Testing

@Suite("RefTensor")
struct TensorTests {
    @Test func nhwcIndexingAndSubscript() {
        // Shape [2, 2, 3, 2]: element (b, y, x, ch) at ((b * 2 + y) * 3 + x) * 2 + ch.
        var t = RefTensor(n: 2, h: 2, w: 3, c: 2, data: (0..<24).map(Float.init))
        #expect(t.count == 24)
        #expect(t[n: 0, y: 0, x: 0, ch: 1] == 1)
        #expect(t[n: 0, y: 1, x: 0, ch: 0] == 6)      // (0*2+1)*3*2 = 6
        #expect(t[n: 1, y: 0, x: 2, ch: 1] == 17)     // ((1*2+0)*3+2)*2+1 = 17
        #expect(t[n: 1, y: 1, x: 2, ch: 1] == 23)
        t[n: 1, y: 0, x: 1, ch: 0] = -5               // ((2*3)+1)*2 = 14
        #expect(t.data[14] == -5)
        #expect(t.index(n: 1, y: 0, x: 1, ch: 0) == 14)
    }

    @Test func repeatingInitializer() {
        let t = RefTensor(n: 1, h: 2, w: 2, c: 3, repeating: 1.5)
        #expect(t.data == [Float](repeating: 1.5, count: 12))
        #expect(RefTensor(n: 1, h: 1, w: 1, c: 2).data == [0, 0])
    }

    @Test func fromNCHWHandWorked() {
        // NCHW [1, 2, 2, 2]: channel 0 = [[0, 1], [2, 3]], channel 1 = [[4, 5], [6, 7]].
        // NHWC pixels (0,0): [0, 4], (0,1): [1, 5], (1,0): [2, 6], (1,1): [3, 7].
        let t = RefTensor(nchw: [0, 1, 2, 3, 4, 5, 6, 7], n: 1, c: 2, h: 2, w: 2)
        #expect(t.n == 1 && t.h == 2 && t.w == 2 && t.c == 2)
        #expect(t.data == [0, 4, 1, 5, 2, 6, 3, 7])
        #expect(t.toNCHW() == [0, 1, 2, 3, 4, 5, 6, 7])
    }

    @Test func fromNCHWNonSquareBatch() {
        // NCHW [2, 3, 1, 2]: value = b*100 + ch*10 + x. NHWC order is b, x, ch.
        var nchw: [Float] = []
        for b in 0..<2 { for ch in 0..<3 { for x in 0..<2 { nchw.append(Float(b * 100 + ch * 10 + x)) } } }
        let t = RefTensor(nchw: nchw, n: 2, c: 3, h: 1, w: 2)
        #expect(t.data == [0, 10, 20, 1, 11, 21, 100, 110, 120, 101, 111, 121])
    }

    @Test func nchwRoundTrip() {
        var rng = SeededGenerator(seed: 1)
        let nchw = randomFloats(2 * 3 * 4 * 5, &rng)
        let t = RefTensor(nchw: nchw, n: 2, c: 3, h: 4, w: 5)
        #expect(t.h == 4 && t.w == 5 && t.c == 3)
        #expect(t.toNCHW() == nchw)
        #expect(t.data != nchw)   // the layouts really differ
        #expect(RefTensor(nchw: t.toNCHW(), n: 2, c: 3, h: 4, w: 5) == t)
    }

    @Test func equalityComparesShape() {
        let a = RefTensor(n: 1, h: 1, w: 2, c: 1, data: [1, 2])
        let b = RefTensor(n: 1, h: 2, w: 1, c: 1, data: [1, 2])
        #expect(a != b)
        #expect(!a.hasSameShape(as: b))
        #expect(a == RefTensor(n: 1, h: 1, w: 2, c: 1, data: [1, 2]))
    }
}
