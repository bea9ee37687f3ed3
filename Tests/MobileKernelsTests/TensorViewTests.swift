import MobileKernels
import NetworkOracle
import Testing

@Suite("Tensor views: layers on channel slices")
struct TensorViewTests {
    /// Channels `range` of every pixel, as a dense tensor.
    private func slice(_ t: Tensor, _ range: Range<Int>) throws -> Tensor {
        let s = t.shape, v = t.toArray()
        let values = (0..<s.pixels).flatMap { p in range.map { v[p * s.c + $0] } }
        return try Tensor(shape: TensorShape(n: s.n, h: s.h, w: s.w, c: range.count), nhwc: values)
    }

    @Test("depthwise, pooling, SE and bias-activation read and write slices as they compute dense tensors")
    func layersOnSlices() throws {
        let shape = try TensorShape(n: 2, h: 6, w: 5, c: 9)
        let wide = try Tensor(shape: shape, nhwc: pseudoRandom(shape.count, seed: 3))
        let c = 4
        let layers: [any Layer] = [
            try DepthwiseConv2D(channels: c, kernelSize: 3, padding: .symmetric(1), weights: pseudoRandom(c * 9, seed: 1),
                                activation: .relu6),
            try MaxPool2D(channels: c, kernel: 2, stride: 1),
            try SqueezeExcitation(channels: c, squeezeChannels: 2, fc1Weight: pseudoRandom(8, seed: 4), fc1Bias: nil,
                                  fc2Weight: pseudoRandom(8, seed: 5), fc2Bias: nil),
            try BiasActivation(channels: c, bias: pseudoRandom(c, seed: 6), activation: .hardswish),
        ]
        for layer in layers {
            let dense = try layer(slice(wide, 3..<7), threadPool: .serial)
            let o = dense.shape
            var out = try Tensor(shape: TensorShape(n: o.n, h: o.h, w: o.w, c: 7), repeating: 42)
            let input = try wide.view(channels: 3..<7)
            try out.withMutableView(channels: 2..<6) { try layer.forward(input, into: $0, threadPool: .serial) }
            #expect(try slice(out, 2..<6).toArray() == dense.toArray(), "\(layer.name)")
            #expect(try (slice(out, 0..<2).toArray() + slice(out, 6..<7).toArray()).allSatisfy { $0 == 42 }, "\(layer.name)")
        }
    }

    @Test("views outside the tensor and wrong shapes are refused")
    func errors() throws {
        let t = try Tensor(shape: TensorShape(h: 2, w: 2, c: 4))
        #expect(throws: MobileKernelsError.self) { _ = try t.view(channels: 2..<5) }
        #expect(throws: MobileKernelsError.self) { _ = try t.view(channels: 1..<1) }
        let layer = try BiasActivation(channels: 3, activation: .relu)
        var out = try Tensor(shape: TensorShape(h: 2, w: 2, c: 4))
        let input = try t.view(channels: 0..<3)
        #expect(throws: MobileKernelsError.self) {
            try out.withMutableView(channels: 0..<2) { try layer.forward(input, into: $0, threadPool: .serial) }
        }
    }

    @Test("a forward into a tensor of its own writes its storage in place: no copy (and no allocation) per call")
    func noCopyWhenUnique() throws {
        let layer = try Conv2D(inChannels: 3, outChannels: 8, kernelSize: 3, padding: .symmetric(1),
                               weights: pseudoRandom(8 * 3 * 9, seed: 7))
        let input = try Tensor(shape: TensorShape(h: 5, w: 5, c: 3), nhwc: pseudoRandom(75, seed: 8))
        var out = try Tensor(shape: TensorShape(h: 5, w: 5, c: 8))
        let before = out.withUnsafeBufferPointer { $0.baseAddress }
        try layer.forward(input, into: &out, threadPool: .serial)
        try out.withMutableView(channels: 2..<4) { _ in }
        #expect(out.withUnsafeBufferPointer { $0.baseAddress } == before)
        #expect(out.toArray() == (try layer(input, threadPool: .serial)).toArray())
        // Shared storage is still copied before the write.
        let shared = out
        try layer.forward(input, into: &out, threadPool: .serial)
        #expect(!out.sharesStorage(with: shared))
    }

    @Test("writing through a mutable view leaves a copy of the tensor unchanged")
    func copyOnWrite() throws {
        var a = try Tensor(shape: TensorShape(h: 1, w: 2, c: 2), nhwc: [-1, 2, -3, 4])
        let b = a
        let layer = try BiasActivation(channels: 1, activation: .relu)
        try a.withMutableView(channels: 0..<1) { try layer.forward($0, into: $0, threadPool: .serial) }
        #expect(a.toArray() == [0, 2, 0, 4])
        #expect(b.toArray() == [-1, 2, -3, 4])
    }
}
