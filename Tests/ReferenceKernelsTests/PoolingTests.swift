// maxPool2d / avgPool2d / globalAveragePool on hand-computed cases.

import ReferenceKernels
import Testing

@Suite("Pooling: hand-computed")
struct PoolingTests {
    @Test func maxPool2x2Stride2PerChannel() {
        // 4x4, ch0 = 4y + x + 1, ch1 = -(4y + x + 1). 2x2 windows, stride 2:
        // ch0 maxima: [6, 8, 14, 16]; ch1 maxima (least negative): [-1, -3, -9, -11].
        var data: [Float] = []
        for v in 1...16 { data += [Float(v), -Float(v)] }
        let x = RefTensor(n: 1, h: 4, w: 4, c: 2, data: data)
        let y = Reference.maxPool2d(x, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2)
        #expect(y.h == 2 && y.w == 2 && y.c == 2)
        #expect(y.data == [6, -1, 8, -3, 14, -9, 16, -11])
    }

    @Test func maxPoolPaddingIsIgnoredNotZero() {
        // 3x3 of negatives, in(y,x) = -(3y + x + 1):   3x3 kernel, stride 2, padding 1 -> 2x2 output.
        //   -1 -2 -3                                    (0,0): rows 0-1, cols 0-1: max(-1,-2,-4,-5) = -1
        //   -4 -5 -6                                    (0,1): rows 0-1, cols 1-2: max(-2,-3,-5,-6) = -2
        //   -7 -8 -9                                    (1,0): rows 1-2, cols 0-1: -4;  (1,1): -5
        // Zero padding would have given 0 everywhere.
        let x = RefTensor(n: 1, h: 3, w: 3, c: 1, data: (1...9).map { -Float($0) })
        let y = Reference.maxPool2d(x, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padding: .symmetric(1))
        #expect(y.data == [-1, -2, -4, -5])
    }

    @Test func maxPoolAsymmetricPadding() {
        // 1x4 row [-5, -1, -7, -3], kernel 1x2, stride 2, padding left 1, right 1 -> ow = (4+2-2)/2+1 = 3:
        // windows x = [-1,0] -> -5; [1,2] -> -1; [3,4] -> -3.
        let x = RefTensor(n: 1, h: 1, w: 4, c: 1, data: [-5, -1, -7, -3])
        let y = Reference.maxPool2d(x, kernelH: 1, kernelW: 2, strideH: 1, strideW: 2,
                                    padding: RefPadding(top: 0, left: 1, bottom: 0, right: 1))
        #expect(y.data == [-5, -1, -3])
    }

    @Test func maxPoolPropagatesNaN() {
        // As PyTorch: a NaN anywhere in the window wins.
        let x = RefTensor(n: 1, h: 2, w: 2, c: 1, data: [1, .nan, 3, 2])
        #expect(Reference.maxPool2d(x, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2).data[0].isNaN)
    }

    /// 3x3 image 1...9 with a 3x3 window, stride 1, padding 1. Real elements in each window and their sums:
    /// ```
    /// (0,0) 1+2+4+5 = 12 (4)      (0,1) 1+..+6 = 21 (6)        (0,2) 2+3+5+6 = 16 (4)
    /// (1,0) 1+2+4+5+7+8 = 27 (6)  (1,1) 45 (9)                 (1,2) 2+3+5+6+8+9 = 33 (6)
    /// (2,0) 4+5+7+8 = 24 (4)      (2,1) 4+..+9 = 39 (6)        (2,2) 5+6+8+9 = 28 (4)
    /// ```
    static let avgInput = RefTensor(n: 1, h: 3, w: 3, c: 1, data: (1...9).map(Float.init))

    @Test func avgPoolCountIncludePadDividesBy9() {
        let y = Reference.avgPool2d(Self.avgInput, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1,
                                    padding: .symmetric(1))
        let expected: [Float] = [12 / 9, 21 / 9, 16 / 9, 27 / 9, 45 / 9, 33 / 9, 24 / 9, 39 / 9, 28 / 9]
        #expect(y.data == expected)
        #expect(y.data[0] == 1.3333334 && y.data[4] == 5)
    }

    @Test func avgPoolExcludePadDividesByRealCount() {
        let y = Reference.avgPool2d(Self.avgInput, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1,
                                    padding: .symmetric(1), countIncludePad: false)
        // 12/4, 21/6, 16/4, 27/6, 45/9, 33/6, 24/4, 39/6, 28/4
        #expect(y.data == [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7])
    }

    @Test func avgPoolStride2AsymmetricPadding() {
        // 3x3 image 1...9, 2x2 window, stride 2, padding top 1, left 1 -> oh = ow = (3 + 1 - 2)/2 + 1 = 2.
        // Windows: rows {-1,0} / {1,2}, cols {-1,0} / {1,2}.
        // (0,0): {1} -> 1;  (0,1): {2,3} -> 5;  (1,0): {4,7} -> 11;  (1,1): {5,6,8,9} -> 28.
        // include pad: divisor 4 everywhere -> [0.25, 1.25, 2.75, 7]; exclude: [1/1, 5/2, 11/2, 28/4].
        let pad = RefPadding(top: 1, left: 1, bottom: 0, right: 0)
        let inc = Reference.avgPool2d(Self.avgInput, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padding: pad)
        #expect(inc.data == [0.25, 1.25, 2.75, 7])
        let exc = Reference.avgPool2d(Self.avgInput, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padding: pad,
                                      countIncludePad: false)
        #expect(exc.data == [1, 2.5, 5.5, 7])
    }

    @Test func avgPoolNoPaddingTwoChannels() {
        // 2x2 image, ch0 = [1, 2, 3, 4], ch1 = [10, 20, 30, 41], 2x2 window: [2.5, 25.25].
        let x = RefTensor(n: 1, h: 2, w: 2, c: 2, data: [1, 10, 2, 20, 3, 30, 4, 41])
        let y = Reference.avgPool2d(x, kernelH: 2, kernelW: 2, strideH: 1, strideW: 1)
        #expect(y.h == 1 && y.w == 1 && y.data == [2.5, 25.25])
    }

    @Test func globalAveragePool() {
        // n = 2, 2x2, c = 2. b0: ch0 [1, 2, 3, 4] -> 2.5, ch1 [10, 20, 30, 40] -> 25;
        //                   b1: ch0 [-1, -1, -1, 5] -> 0.5, ch1 [0, 0, 0, 1] -> 0.25.
        let x = RefTensor(n: 2, h: 2, w: 2, c: 2,
                          data: [1, 10, 2, 20, 3, 30, 4, 40, -1, 0, -1, 0, -1, 0, 5, 1])
        let y = Reference.globalAveragePool(x)
        #expect(y.n == 2 && y.h == 1 && y.w == 1 && y.c == 2)
        #expect(y.data == [2.5, 25, 0.5, 0.25])
    }

    @Test func globalAveragePoolNonSquare() {
        // 1x3 image [1, 2, 4]: 7 / 3.
        let y = Reference.globalAveragePool(RefTensor(n: 1, h: 1, w: 3, c: 1, data: [1, 2, 4]))
        #expect(y.data == [7 / 3])
    }
}
