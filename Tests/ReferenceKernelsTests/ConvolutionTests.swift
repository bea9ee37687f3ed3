// conv2d / depthwiseConv2d on hand-computed cases.

import ReferenceKernels
import Testing

@Suite("Convolution: hand-computed")
struct ConvolutionTests {
    @Test func outputSizeFormula() {
        #expect(Reference.outputSize(input: 224, kernel: 3, stride: 2, padBefore: 1, padAfter: 1) == 112)
        #expect(Reference.outputSize(input: 5, kernel: 2, stride: 1, padBefore: 0, padAfter: 0, dilation: 2) == 3)
        #expect(Reference.outputSize(input: 4, kernel: 3, stride: 2, padBefore: 1, padAfter: 0) == 2)
        #expect(Reference.outputSize(input: 7, kernel: 7, stride: 1, padBefore: 0, padAfter: 0) == 1)
    }

    @Test func threeByThreeInputTwoByTwoKernel() {
        // Input 3x3 (1 channel):   Kernel 2x2 (cross-correlation, not flipped):
        //   1 2 3                    1 2
        //   4 5 6                    3 4
        //   7 8 9
        // out(0,0) = 1*1 + 2*2 + 3*4 + 4*5 = 37    out(0,1) = 1*2 + 2*3 + 3*5 + 4*6 = 47
        // out(1,0) = 1*4 + 2*5 + 3*7 + 4*8 = 67    out(1,1) = 1*5 + 2*6 + 3*8 + 4*9 = 77
        // plus bias 0.5.
        let x = RefTensor(n: 1, h: 3, w: 3, c: 1, data: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = Reference.conv2d(x, weight: [1, 2, 3, 4], bias: [0.5], outChannels: 1, kernelH: 2, kernelW: 2)
        #expect(y.n == 1 && y.h == 2 && y.w == 2 && y.c == 1)
        #expect(y.data == [37.5, 47.5, 67.5, 77.5])
        let noBias = Reference.conv2d(x, weight: [1, 2, 3, 4], bias: nil, outChannels: 1, kernelH: 2, kernelW: 2,
                                      activation: .clamp(min: 40, max: 70))
        #expect(noBias.data == [40, 47, 67, 70])
    }

    @Test func twoInputChannelsWithPaddingUsesOIHW() {
        // 2x2 image, cin = 2: ch0 = [[1, 2], [3, 4]], ch1 = 10 * ch0. NHWC pixels: [1,10] [2,20] [3,30] [4,40].
        // One 3x3 filter, padding 1: ch0 taps only at the centre (ky=1,kx=1) = 1,
        // ch1 taps only at (ky=0,kx=0) = 1, i.e. out(y,x) = ch0(y,x) + ch1(y-1,x-1) (0 outside).
        // out = [[1 + 0, 2 + 0], [3 + 0, 4 + ch1(0,0) = 4 + 10]] = [1, 2, 3, 14].
        let x = RefTensor(n: 1, h: 2, w: 2, c: 2, data: [1, 10, 2, 20, 3, 30, 4, 40])
        var weight = [Float](repeating: 0, count: 1 * 2 * 3 * 3)
        weight[(0 * 3 + 1) * 3 + 1] = 1        // [o=0, i=0, ky=1, kx=1]
        weight[((0 * 2 + 1) * 3 + 0) * 3 + 0] = 1  // [o=0, i=1, ky=0, kx=0]
        let y = Reference.conv2d(x, weight: weight, bias: nil, outChannels: 1, kernelH: 3, kernelW: 3,
                                 padding: .symmetric(1))
        #expect(y.h == 2 && y.w == 2 && y.c == 1)
        #expect(y.data == [1, 2, 3, 14])
    }

    @Test func groupedConvGroups2() {
        // One pixel, cin = 4 = [1, 2, 3, 4], groups = 2, 1x1 kernel, weight [cout, cin/groups = 2, 1, 1].
        // Case A, cout = 2: o0 (group 0: ch 0,1) weight [1, 10] -> 1*1 + 2*10 = 21;
        //                   o1 (group 1: ch 2,3) weight [100, 1000] -> 3*100 + 4*1000 = 4300.
        let x = RefTensor(n: 1, h: 1, w: 1, c: 4, data: [1, 2, 3, 4])
        let a = Reference.conv2d(x, weight: [1, 10, 100, 1000], bias: nil, outChannels: 2, kernelH: 1, kernelW: 1,
                                 groups: 2)
        #expect(a.data == [21, 4300])
        // Case B, cout = 4 (two outputs per group): o0 [1, 0] -> 1; o1 [0, 1] -> 2 (group 0);
        //   o2 [1, 1] -> 3 + 4 = 7; o3 [1, -1] -> 3 - 4 = -1 (group 1); bias [0, 0, 0.5, 0.5].
        let b = Reference.conv2d(x, weight: [1, 0, 0, 1, 1, 1, 1, -1], bias: [0, 0, 0.5, 0.5], outChannels: 4,
                                 kernelH: 1, kernelW: 1, groups: 2)
        #expect(b.data == [1, 2, 7.5, -0.5])
    }

    @Test func groupedConvSpatial() {
        // 1x2 image, cin = 2, groups = 2, cout = 2, kernel 1x2 (no padding -> 1x1 output).
        // pixels: [a0, b0] = [1, 5], [a1, b1] = [2, 7].
        // o0 (ch 0): 1*3 + 2*4 = 11; o1 (ch 1): 5*(-1) + 7*2 = 9.
        let x = RefTensor(n: 1, h: 1, w: 2, c: 2, data: [1, 5, 2, 7])
        let y = Reference.conv2d(x, weight: [3, 4, -1, 2], bias: nil, outChannels: 2, kernelH: 1, kernelW: 2, groups: 2)
        #expect(y.h == 1 && y.w == 1)
        #expect(y.data == [11, 9])
    }

    @Test func dilation2() {
        // 5x5 input, in(y, x) = 5y + x + 1. 2x2 kernel [1, 2; 3, 4], dilation 2 -> taps at (0,0), (0,2),
        // (2,0), (2,2); output (5 - 2*1 - 1)/1 + 1 = 3.
        // out(oy,ox) = 1*v + 2*(v+2) + 3*(v+10) + 4*(v+12) with v = in(oy,ox) = 10v + 82.
        // v = 1,2,3 / 6,7,8 / 11,12,13 -> 92 102 112 / 142 152 162 / 192 202 212.
        let x = RefTensor(n: 1, h: 5, w: 5, c: 1, data: (1...25).map(Float.init))
        let y = Reference.conv2d(x, weight: [1, 2, 3, 4], bias: nil, outChannels: 1, kernelH: 2, kernelW: 2,
                                 dilationH: 2, dilationW: 2)
        #expect(y.h == 3 && y.w == 3)
        #expect(y.data == [92, 102, 112, 142, 152, 162, 192, 202, 212])
    }

    @Test func dilationOnlyInWidth() {
        // 1x5 input [1, 2, 3, 4, 5], kernel 1x2 weights [1, 1], dilationW 3 -> taps x and x+3:
        // output width (5 - 3 - 1) + 1 = 2: [1 + 4, 2 + 5] = [5, 7].
        let x = RefTensor(n: 1, h: 1, w: 5, c: 1, data: [1, 2, 3, 4, 5])
        let y = Reference.conv2d(x, weight: [1, 1], bias: nil, outChannels: 1, kernelH: 1, kernelW: 2, dilationW: 3)
        #expect(y.data == [5, 7])
    }

    @Test func stride2AsymmetricPadding() {
        // 4x4 input, in(y, x) = 4y + x + 1:       3x3 all-ones kernel, stride 2,
        //    1  2  3  4                           padding top 1, left 0, bottom 0, right 1.
        //    5  6  7  8                           oh = (4 + 1 + 0 - 3)/2 + 1 = 2, ow = (4 + 0 + 1 - 3)/2 + 1 = 2.
        //    9 10 11 12                           rows 2*oy - 1 ... 2*oy + 1, columns 2*ox ... 2*ox + 2.
        //   13 14 15 16
        // (0,0): rows 0-1, cols 0-2: 6 + 18 = 24.      (0,1): rows 0-1, cols 2-3: 7 + 15 = 22.
        // (1,0): rows 1-3, cols 0-2: 18 + 30 + 42 = 90. (1,1): rows 1-3, cols 2-3: 15 + 23 + 31 = 69.
        let x = RefTensor(n: 1, h: 4, w: 4, c: 1, data: (1...16).map(Float.init))
        let pad = RefPadding(top: 1, left: 0, bottom: 0, right: 1)
        let ones = [Float](repeating: 1, count: 9)
        let y = Reference.conv2d(x, weight: ones, bias: nil, outChannels: 1, kernelH: 3, kernelW: 3,
                                 strideH: 2, strideW: 2, padding: pad)
        #expect(y.h == 2 && y.w == 2)
        #expect(y.data == [24, 22, 90, 69])
        // The same with a clamp epilogue and bias 1: [25, 23, 91, 70] clamped to [23, 80].
        let z = Reference.conv2d(x, weight: ones, bias: [1], outChannels: 1, kernelH: 3, kernelW: 3,
                                 strideH: 2, strideW: 2, padding: pad, activation: .clamp(min: 23, max: 80))
        #expect(z.data == [25, 23, 80, 70])
    }

    @Test func depthwise2x2() {
        // 2x2 image, 2 channels: ch0 = [[1, 2], [3, 4]], ch1 = [[10, 20], [30, 40]].
        // ch0 kernel [1, 1; 1, 1] -> 10; ch1 kernel [1, 0; 0, -1] -> 10 - 40 = -30. bias [1, 2] -> [11, -28].
        let x = RefTensor(n: 1, h: 2, w: 2, c: 2, data: [1, 10, 2, 20, 3, 30, 4, 40])
        let weight: [Float] = [1, 1, 1, 1, 1, 0, 0, -1]   // [C=2, 1, 2, 2]
        let conv = Reference.conv2d(x, weight: weight, bias: [1, 2], outChannels: 2, kernelH: 2, kernelW: 2, groups: 2)
        #expect(conv.data == [11, -28])
        let dw = Reference.depthwiseConv2d(x, weight: weight, bias: [1, 2], kernelH: 2, kernelW: 2)
        #expect(dw.data == [11, -28])
        let dw6 = Reference.depthwiseConv2d(x, weight: weight, bias: [1, 2], kernelH: 2, kernelW: 2, activation: .relu6)
        #expect(dw6.data == [6, 0])
    }

    @Test func depthwise3x3Stride2Pad1() {
        // 3x3 image, 1 channel, in = 1...9; 3x3 kernel of ones, stride 2, padding 1 -> 2x2 output,
        // windows centred on (0,0), (0,2), (2,0), (2,2):
        // (0,0): 1+2+4+5 = 12; (0,2): 2+3+5+6 = 16; (2,0): 4+5+7+8 = 24; (2,2): 5+6+8+9 = 28.
        let x = RefTensor(n: 1, h: 3, w: 3, c: 1, data: (1...9).map(Float.init))
        let y = Reference.depthwiseConv2d(x, weight: [Float](repeating: 1, count: 9), bias: nil, kernelH: 3, kernelW: 3,
                                          strideH: 2, strideW: 2, padding: .symmetric(1))
        #expect(y.data == [12, 16, 24, 28])
    }

    @Test func pointwise1x1() {
        // Two pixels with cin = 3: p0 = [1, 2, 3], p1 = [4, 5, 6]; weight [2, 3, 1, 1] = [[1, 0, -1], [1, 1, 1]];
        // bias [0, 10]. p0 -> [1 - 3, 6 + 10] = [-2, 16]; p1 -> [4 - 6, 15 + 10] = [-2, 25].
        let x = RefTensor(n: 1, h: 1, w: 2, c: 3, data: [1, 2, 3, 4, 5, 6])
        let y = Reference.conv2d(x, weight: [1, 0, -1, 1, 1, 1], bias: [0, 10], outChannels: 2, kernelH: 1, kernelW: 1)
        #expect(y.n == 1 && y.h == 1 && y.w == 2 && y.c == 2)
        #expect(y.data == [-2, 16, -2, 25])
        let r = Reference.conv2d(x, weight: [1, 0, -1, 1, 1, 1], bias: [0, 10], outChannels: 2, kernelH: 1, kernelW: 1,
                                 activation: .relu)
        #expect(r.data == [0, 16, 0, 25])
    }

    @Test func pointwiseWithPaddingAndStride() {
        // 1x1 kernel over a 2x2 image [[1, 2], [3, 4]], stride 2, padding 1 on every side:
        // oh = ow = (2 + 2 - 1)/2 + 1 = 2; taps at (-1,-1), (-1,1), (1,-1), (1,1): only (1,1) = 4 is real.
        // weight [2], bias [0.5] -> [0.5, 0.5, 0.5, 2 * 4 + 0.5 = 8.5].
        let x = RefTensor(n: 1, h: 2, w: 2, c: 1, data: [1, 2, 3, 4])
        let y = Reference.conv2d(x, weight: [2], bias: [0.5], outChannels: 1, kernelH: 1, kernelW: 1,
                                 strideH: 2, strideW: 2, padding: .symmetric(1))
        #expect(y.h == 2 && y.w == 2)
        #expect(y.data == [0.5, 0.5, 0.5, 8.5])
    }

    @Test func batchOfTwo() {
        // Batch items are independent: n = 2, 1x1 image, 1x1 kernel weight [3], bias [1]: [2, -1] -> [7, -2].
        let x = RefTensor(n: 2, h: 1, w: 1, c: 1, data: [2, -1])
        let y = Reference.conv2d(x, weight: [3], bias: [1], outChannels: 1, kernelH: 1, kernelW: 1)
        #expect(y.n == 2 && y.data == [7, -2])
    }
}
