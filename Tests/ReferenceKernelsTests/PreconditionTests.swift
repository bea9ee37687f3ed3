// Invalid arguments are programmer errors: they stop the process (checked with exit tests).

import ReferenceKernels
import Testing

@Suite("Preconditions")
struct PreconditionTests {
    @Test func tensorDataCountMismatch() async {
        await #expect(processExitsWith: .failure) {
            _ = RefTensor(n: 1, h: 2, w: 2, c: 1, data: [1, 2, 3])
        }
    }

    @Test func tensorZeroDimension() async {
        await #expect(processExitsWith: .failure) {
            _ = RefTensor(n: 1, h: 0, w: 2, c: 1, repeating: 0)
        }
    }

    @Test func subscriptOutOfBounds() async {
        await #expect(processExitsWith: .failure) {
            let t = RefTensor(n: 1, h: 2, w: 2, c: 2)
            _ = t[n: 0, y: 0, x: 2, ch: 0]   // flat index 4 is in range, but x = 2 is not
        }
    }

    @Test func convChannelsNotDivisibleByGroups() async {
        await #expect(processExitsWith: .failure) {
            let x = RefTensor(n: 1, h: 3, w: 3, c: 3)
            _ = Reference.conv2d(x, weight: [Float](repeating: 0, count: 2 * 1 * 1), bias: nil, outChannels: 2,
                                 kernelH: 1, kernelW: 1, groups: 2)
        }
    }

    @Test func convKernelLargerThanPaddedInput() async {
        await #expect(processExitsWith: .failure) {
            let x = RefTensor(n: 1, h: 2, w: 2, c: 1)
            _ = Reference.conv2d(x, weight: [Float](repeating: 0, count: 9), bias: nil, outChannels: 1,
                                 kernelH: 3, kernelW: 3)
        }
    }

    @Test func shuffleIndivisible() async {
        await #expect(processExitsWith: .failure) {
            _ = Reference.channelShuffle(RefTensor(n: 1, h: 1, w: 1, c: 6), groups: 4)
        }
    }

    @Test func addShapeMismatch() async {
        await #expect(processExitsWith: .failure) {
            _ = Reference.add(RefTensor(n: 1, h: 1, w: 2, c: 1), RefTensor(n: 1, h: 2, w: 1, c: 1))
        }
    }
}
