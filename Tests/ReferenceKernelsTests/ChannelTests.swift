// channelShuffle, concatChannels, add, channelScale on hand-computed cases.

import ReferenceKernels
import Testing

@Suite("Channels and elementwise: hand-computed")
struct ChannelTests {
    // Two pixels, C = 6: pixel 0 channels [0 ... 5], pixel 1 channels [10 ... 15].
    static let six = RefTensor(n: 1, h: 1, w: 2, c: 6, data: [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15])

    @Test func shuffleGroups2() {
        // C/g = 3: out[j*2 + g] = in[g*3 + j] -> [in0, in3, in1, in4, in2, in5].
        let y = Reference.channelShuffle(Self.six, groups: 2)
        #expect(y.data == [0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15])
    }

    @Test func shuffleGroups3() {
        // C/g = 2: out[j*3 + g] = in[g*2 + j] -> [in0, in2, in4, in1, in3, in5].
        let y = Reference.channelShuffle(Self.six, groups: 3)
        #expect(y.data == [0, 2, 4, 1, 3, 5, 10, 12, 14, 11, 13, 15])
    }

    @Test func shuffleTrivialGroups() {
        #expect(Reference.channelShuffle(Self.six, groups: 1) == Self.six)
        #expect(Reference.channelShuffle(Self.six, groups: 6) == Self.six)
    }

    @Test func concat() {
        // a: 2 pixels x 1 channel [1], [2]; b: 2 pixels x 2 channels [10, 11], [20, 21]; c: 1 channel [-1], [-2].
        let a = RefTensor(n: 1, h: 1, w: 2, c: 1, data: [1, 2])
        let b = RefTensor(n: 1, h: 1, w: 2, c: 2, data: [10, 11, 20, 21])
        let c = RefTensor(n: 1, h: 1, w: 2, c: 1, data: [-1, -2])
        let ab = Reference.concatChannels([a, b])
        #expect(ab.c == 3 && ab.data == [1, 10, 11, 2, 20, 21])
        let bac = Reference.concatChannels([b, a, c])
        #expect(bac.c == 4 && bac.data == [10, 11, 1, -1, 20, 21, 2, -2])
        #expect(Reference.concatChannels([a]) == a)
    }

    @Test func add() {
        // [1, -2, 3, 10] + [1, 1, 1, -1] = [2, -1, 4, 9]; with relu6 -> [2, 0, 4, 6].
        let a = RefTensor(n: 1, h: 2, w: 1, c: 2, data: [1, -2, 3, 10])
        let b = RefTensor(n: 1, h: 2, w: 1, c: 2, data: [1, 1, 1, -1])
        #expect(Reference.add(a, b).data == [2, -1, 4, 9])
        #expect(Reference.add(a, b, activation: .relu6).data == [2, 0, 4, 6])
    }

    @Test func channelScale() {
        // n = 2, two pixels, c = 2: b0 pixels [1, 2], [3, 4] scaled by [2, 3] -> [2, 6], [6, 12];
        //                            b1 pixels [5, 6], [7, 8] scaled by [5, 7] -> [25, 42], [35, 56].
        let x = RefTensor(n: 2, h: 1, w: 2, c: 2, data: [1, 2, 3, 4, 5, 6, 7, 8])
        let y = Reference.channelScale(x, scale: [2, 3, 5, 7])
        #expect(y.data == [2, 6, 6, 12, 25, 42, 35, 56])
    }
}
