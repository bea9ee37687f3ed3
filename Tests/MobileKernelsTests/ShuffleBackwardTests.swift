import MobileKernels
import ReferenceKernels
import Testing

/// Channel shuffle's backward is the inverse permutation, which is itself a channel shuffle:
/// [g, C/g] transposed back is a shuffle with C/g groups. The training plan runs it on the
/// forward's kernel; checked here against the reference's inverse, bit for bit, every variant.
@Suite("Channel shuffle backward")
struct ShuffleBackwardTests {
    @Test(arguments: [(3, 12), (2, 10), (3, 240), (8, 64), (4, 36), (1, 7), (5, 5)])
    func inverseIsAShuffle(_ shape: (Int, Int)) throws {
        let (groups, channels) = shape
        let dyShape = try TensorShape(n: 2, h: 3, w: 5, c: channels)
        let dy = (0..<dyShape.count).map { Float($0 % 977) - 400 }
        let want = RefTrain.channelShuffle(RefTensorOf(n: 2, h: 3, w: 5, c: channels, data: dy), groups: groups, inverse: true).data
        for variant in Catalogue.variants(of: .shuffle).filter(\.isAvailable) {
            let backward = try ChannelShuffle(groups: channels / groups, channels: channels, variant: variant)
            let got = try backward(Tensor(shape: dyShape, nhwc: dy), threadPool: try ThreadPool(threads: 2)).toArray()
            #expect(got == want, "groups \(groups), C \(channels), \(variant)")
            // Forward then backward is the identity.
            let forward = try ChannelShuffle(groups: groups, channels: channels, variant: variant)
            let there = try forward(Tensor(shape: dyShape, nhwc: dy))
            #expect(try backward(there).toArray() == dy)
        }
    }
}
