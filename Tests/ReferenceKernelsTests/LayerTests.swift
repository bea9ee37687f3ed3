// fullyConnected, foldBatchNorm, squeezeExcitation on hand-computed cases.

import ReferenceKernels
import Testing

@Suite("FC, BatchNorm folding, SE: hand-computed")
struct LayerTests {
    @Test func fullyConnected() {
        // x = [[1, 2, 3], [4, 5, 6]], W = [[1, 0, -2], [2, 1, 0]], b = [0.5, -1].
        // y0 = [1 - 6 + 0.5, 2 + 2 - 1] = [-4.5, 3];  y1 = [4 - 12 + 0.5, 8 + 5 - 1] = [-7.5, 12].
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        let w: [Float] = [1, 0, -2, 2, 1, 0]
        #expect(Reference.fullyConnected(x, batch: 2, inFeatures: 3, weight: w, bias: [0.5, -1], outFeatures: 2)
                == [-4.5, 3, -7.5, 12])
        #expect(Reference.fullyConnected(x, batch: 2, inFeatures: 3, weight: w, bias: [0.5, -1], outFeatures: 2,
                                         activation: .relu) == [0, 3, 0, 12])
        #expect(Reference.fullyConnected(x, batch: 2, inFeatures: 3, weight: w, bias: nil, outFeatures: 2)
                == [-5, 4, -8, 13])
    }

    @Test func fullyConnectedWideOutput() {
        // One input [2, -1], three outputs: W rows [1, 1], [0, 3], [-1, 0] -> [1, -3, -2].
        #expect(Reference.fullyConnected([2, -1], batch: 1, inFeatures: 2, weight: [1, 1, 0, 3, -1, 0], bias: nil,
                                         outFeatures: 3) == [1, -3, -2])
    }

    @Test func foldBatchNormNumbers() {
        // 2 output channels, 2 weights each: w = [[1, 2], [3, 4]].
        // gamma [4, 1.5], beta [0.5, -1], mean [1, 2], variance [3, 8], eps 1:
        // scale = [4 / sqrt(4), 1.5 / sqrt(9)] = [2, 0.5]; w' = [[2, 4], [1.5, 2]].
        // bias [1, 6]: b' = [(1 - 1) * 2 + 0.5, (6 - 2) * 0.5 - 1] = [0.5, 1].
        // bias nil:    b' = [(0 - 1) * 2 + 0.5, (0 - 2) * 0.5 - 1] = [-1.5, -2].
        let folded = Reference.foldBatchNorm(weight: [1, 2, 3, 4], bias: [1, 6], outChannels: 2, gamma: [4, 1.5],
                                             beta: [0.5, -1], mean: [1, 2], variance: [3, 8], eps: 1)
        #expect(folded.weight == [2, 4, 1.5, 2])
        #expect(folded.bias == [0.5, 1])
        let noBias = Reference.foldBatchNorm(weight: [1, 2, 3, 4], bias: nil, outChannels: 2, gamma: [4, 1.5],
                                             beta: [0.5, -1], mean: [1, 2], variance: [3, 8], eps: 1)
        #expect(noBias.weight == [2, 4, 1.5, 2])
        #expect(noBias.bias == [-1.5, -2])
    }

    @Test func squeezeExcitationTiny() {
        // x: n = 2, 1x2 image, c = 2.
        //   b0 pixels [1, 3], [3, 5] -> GAP [2, 4];  b1 pixels [2, 2], [2, 2] -> GAP [2, 2].
        // fc1 (squeeze 1): W [0.5, 0.25], b [-1]: b0 -> 1 + 1 - 1 = 1 -> relu 1; b1 -> 1 + 0.5 - 1 = 0.5.
        // fc2: W [[1], [0]], b [0, 0]: b0 -> [1, 0] -> hardsigmoid [4/6, 3/6]; b1 -> [0.5, 0] -> [3.5/6, 0.5].
        // y: b0 [1 * 4/6, 3 * 0.5, 3 * 4/6, 5 * 0.5] = [0.6666667, 1.5, 2, 2.5];
        //    b1 [2 * 3.5/6, 2 * 0.5, ...] = [1.1666666, 1, 1.1666666, 1].
        let x = RefTensor(n: 2, h: 1, w: 2, c: 2, data: [1, 3, 3, 5, 2, 2, 2, 2])
        let y = Reference.squeezeExcitation(x, fc1Weight: [0.5, 0.25], fc1Bias: [-1], squeezeChannels: 1,
                                            fc2Weight: [1, 0], fc2Bias: [0, 0])
        #expect(y.hasSameShape(as: x))
        expectClose(y.data, [0.6666667, 1.5, 2, 2.5, 1.1666666, 1, 1.1666666, 1])
    }

    @Test func squeezeExcitationReluCutsOff() {
        // Same x (b0 only); fc1 bias -4 -> 1 + 1 - 4 = -2 -> relu 0; fc2 output = its bias [3, -3]
        // -> hardsigmoid [1, 0] -> y = [1, 0, 3, 0]. Without the relu, fc2 would see -2 and give
        // [hardsigmoid(1), hardsigmoid(-3)] = [4/6, 0].
        let x = RefTensor(n: 1, h: 1, w: 2, c: 2, data: [1, 3, 3, 5])
        let y = Reference.squeezeExcitation(x, fc1Weight: [0.5, 0.25], fc1Bias: [-4], squeezeChannels: 1,
                                            fc2Weight: [1, 0], fc2Bias: [3, -3])
        #expect(y.data == [1, 0, 3, 0])
    }
}
