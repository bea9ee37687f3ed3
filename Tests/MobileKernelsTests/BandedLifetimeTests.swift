@testable import MobileKernels
import Testing

@Suite("Banded plans: buffer lifetimes")
struct BandedLifetimeTests {
    /// Regression: a banded expansion's input was freed at the expansion's node, so the
    /// depthwise output could take the input's buffer and overwrite input rows before they were
    /// read: MobileNetV1 at 224, batch 2 gave logits 0.6% off PyTorch's on one thread, and a
    /// different result in about one run of six on two.
    @Test("MobileNetV1 at 224, batch 2: two threads give the one-thread bits, run after run")
    func mobileNetV1TwoThreads() throws {
        let network = try Network(architecture: try Architecture.make(.mobileNetV1), weights: .random(seed: 3),
                                  variant: .scalar)
        let plan = try network.plan(batch: 2, height: 224, width: 224)
        #expect(plan.bandedSteps > 0)
        let x = try Tensor(shape: plan.inputShape,
                           nhwc: (0..<plan.inputShape.count).map { Float(($0 * 7919) % 997) / 500 - 1 })
        let serial = try plan.predict(x, threadPool: .serial).toArray()
        // Unbanded plans never had the problem: the banded one must give their bits.
        let plain = try network.plan(batch: 2, height: 224, width: 224, bandedMinimumBytes: Int.max)
        #expect(try plain.predict(x, threadPool: .serial).toArray() == serial)
        let pool = try ThreadPool(threads: 2)
        for run in 0..<6 {
            #expect(try plan.predict(x, threadPool: pool).toArray() == serial, "run \(run)")
        }
    }
}
