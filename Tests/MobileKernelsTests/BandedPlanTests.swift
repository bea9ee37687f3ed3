@testable import MobileKernels
import NetworkOracle
import Testing

/// Inference plans run an inverted residual block's expansion and depthwise convolution band by
/// band (ExpandDepthwiseBands); that must give exactly the bits of running them one by one.
@Suite("Expansion + depthwise convolution in bands")
struct BandedPlanTests {
    @Test("banded plans give the unbanded logits bit for bit: bands of one row to whole images, odd sizes, batch 2, 1 and 2 threads",
          arguments: [(ModelKind.mobileNetV2, 45, 37), (.mobileNetV3Large, 40, 33), (.mobileNetV3Small, 35, 48)])
    func bandedEqualsUnbanded(kind: ModelKind, height: Int, width: Int) throws {
        let network = try Network(kind, weights: .random(seed: 21), numClasses: 10)
        let x = try Tensor(shape: TensorShape(n: 2, h: height, w: width, c: 3),
                           nhwc: pseudoRandom(2 * height * width * 3, seed: 4))
        let plain = try network.plan(batch: 2, height: height, width: width, bandedMinimumBytes: Int.max)
        #expect(plain.bandedSteps == 0)
        let want = try plain.predict(x, threadPool: .serial).toArray().map(\.bitPattern)
        let two = try ThreadPool(threads: 2)
        for bandBytes in [1, 30_000, 1 << 30] {
            let banded = try network.plan(batch: 2, height: height, width: width, bandedMinimumBytes: 0,
                                          bandBytes: bandBytes)
            #expect(banded.bandedSteps > 0, "\(kind): no expansion ran in bands")
            for (threads, pool) in [(1, ThreadPool.serial), (2, two)] {
                for _ in 0..<2 {  // twice: the scratch's leftovers from the first run must not matter
                    let got = try banded.predict(x, threadPool: pool).toArray().map(\.bitPattern)
                    #expect(got == want, "\(kind) \(height)x\(width), bands of ~\(bandBytes) bytes, \(threads) threads")
                }
            }
            if bandBytes == 1 {
                #expect(banded.peakActivationBytes < plain.peakActivationBytes)
            }
        }
    }

    @Test("MobileNetV2 at 224x224 bands its three largest expansions by default and needs less activation memory")
    func defaultsAt224() throws {
        let network = try Network(.mobileNetV2, weights: .random(seed: 2), numClasses: 10)
        let plan = try network.plan(batch: 1, height: 224, width: 224)
        // 16->96 at 112x112 (4.6 MiB), 24->144 at 56x56 (x2, 1.7 MiB); 32->192 at 28x28 (588 KiB)
        // is below InferencePlan.bandedMinimumBytes (1 MiB).
        #expect(plan.bandedSteps == 3)
        let plain = try network.plan(batch: 1, height: 224, width: 224, bandedMinimumBytes: Int.max)
        #expect(plan.peakActivationBytes < plain.peakActivationBytes)
    }
}
