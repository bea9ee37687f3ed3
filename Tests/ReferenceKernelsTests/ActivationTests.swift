// RefActivation formulas at hand-picked points, and the tensor-level activation kernels.

import ReferenceKernels
import Testing

@Suite("Activations")
struct ActivationTests {
    static let points: [Float] = [-4, -3, -1, 0, 1, 3, 6, 7]

    @Test func noneIsIdentity() {
        #expect(Self.points.map(RefActivation.none.apply) == Self.points)
        #expect(RefActivation.none.apply(-0.0).sign == .minus)
    }

    @Test func relu() {
        #expect(Self.points.map(RefActivation.relu.apply) == [0, 0, 0, 0, 1, 3, 6, 7])
    }

    @Test func relu6() {
        #expect(Self.points.map(RefActivation.relu6.apply) == [0, 0, 0, 0, 1, 3, 6, 6])
    }

    @Test func hardswish() {
        // x * min(max(x + 3, 0), 6) / 6:
        // -4 -> -4*0/6 = -0; -3 -> -3*0/6 = -0; -1 -> -1*2/6 = -1/3; 0 -> 0; 1 -> 1*4/6 = 2/3;
        // 3 -> 3*6/6 = 3; 6 -> 6*6/6 = 6; 7 -> 7*6/6 = 7.
        let y = Self.points.map(RefActivation.hardswish.apply)
        #expect(y == [0, 0, -0.33333334, 0, 0.6666667, 3, 6, 7])
        #expect(y[0].sign == .minus)   // -4 * 0 = -0.0, as in PyTorch
    }

    @Test func hardswishEvaluationOrder() {
        // (x * r) / 6, not x * (r / 6) nor x * r * (1 / 6): bit patterns from a float32 evaluation.
        // x = -2.5: r = 0.5, (x*r)/6 = -1.25/6 -> 0xBE555555 (x*(r/6) gives ...56).
        #expect(RefActivation.hardswish.apply(-2.5).bitPattern == 3_193_263_445)
        // x = 0.6: (x*r)/6 -> 1052266988 (x*(r/6) gives ...987).
        #expect(RefActivation.hardswish.apply(0.6).bitPattern == 1_052_266_988)
        // x = 2: 10/6 -> 1070945621 (x*r*(1/6) gives ...622).
        #expect(RefActivation.hardswish.apply(2).bitPattern == 1_070_945_621)
    }

    @Test func hardsigmoid() {
        // min(max(x + 3, 0), 6) / 6: -4, -3 -> 0; -1 -> 2/6; 0 -> 3/6; 1 -> 4/6; 3, 6, 7 -> 1.
        #expect(Self.points.map(RefActivation.hardsigmoid.apply) == [0, 0, 0.33333334, 0.5, 0.6666667, 1, 1, 1])
    }

    @Test func clamp() {
        let act = RefActivation.clamp(min: -1, max: 3)
        #expect(Self.points.map(act.apply) == [-1, -1, -1, 0, 1, 3, 3, 3])
        #expect(RefActivation.clamp(min: 0, max: 6).apply(6.5) == RefActivation.relu6.apply(6.5))
    }

    @Test(arguments: [RefActivation.none, .relu, .relu6, .hardswish, .hardsigmoid, .clamp(min: -1, max: 1)])
    func nanPropagates(_ act: RefActivation) {
        #expect(act.apply(.nan).isNaN)
    }

    @Test func tensorActivation() {
        let x = RefTensor(n: 1, h: 1, w: 2, c: 2, data: [-4, -1, 1, 7])
        let y = Reference.activation(x, .hardsigmoid)
        #expect(y.hasSameShape(as: x))
        #expect(y.data == [0, 0.33333334, 0.6666667, 1])
    }

    @Test func biasNilKeepsNegativeZero() {
        let x = RefTensor(n: 1, h: 1, w: 2, c: 2, data: [-0.0, 1, 2, -3])
        let y = Reference.biasActivation(x, bias: nil, activation: .none)
        #expect(y.data[0].sign == .minus)
        #expect(y.data == [0, 1, 2, -3])
        // Adding an explicit zero bias turns -0.0 into +0.0: nil really means "no add".
        let z = Reference.biasActivation(x, bias: [0, 0], activation: .none)
        #expect(z.data[0].sign == .plus)
    }

    @Test func biasThenActivation() {
        // Channels [c0, c1] with bias [1, -1]: pixel 0: [-0+1, 1-1] = [1, 0]; pixel 1: [2+1, -3-1] = [3, -4].
        let x = RefTensor(n: 1, h: 1, w: 2, c: 2, data: [-0.0, 1, 2, -3])
        #expect(Reference.biasActivation(x, bias: [1, -1], activation: .none).data == [1, 0, 3, -4])
        #expect(Reference.biasActivation(x, bias: [1, -1], activation: .relu).data == [1, 0, 3, 0])
        #expect(Reference.biasActivation(x, bias: [1, -1], activation: .clamp(min: -2, max: 2)).data == [1, 0, 2, -2])
    }
}
