import MobileKernels
import ReferenceKernels
import Testing

// The squeeze-and-excitation's training forward and backward (mk_squeeze_excitation_f32_run_train
// / _backward) against the float64 training reference, for every variant this CPU runs: odd
// channel and squeeze counts (tails of every vector width), batch > 1, 1x1 images, channel
// slices of wider tensors, gates on both sides of the hardsigmoid's flat parts; the forward's
// output is the inference forward's, bit for bit; 1 and 2 threads give the same bits; in place.

private let variants = Catalogue.variants(of: .fc).filter { $0.isAvailable && $0 != .blis }

private struct SECase: CustomStringConvertible {
    var n: Int, h: Int, w: Int, c: Int, s: Int
    /// The channel window of x (and of dy / dx) in wider tensors: offset and pixel stride (0: dense).
    var offset = 0, width = 0
    var stride: Int { width == 0 ? c : width }
    var description: String { "n\(n) \(h)x\(w) C\(c) S\(s) at \(offset)/\(stride)" }
}

private let cases: [SECase] = [
    .init(n: 3, h: 5, w: 7, c: 19, s: 5),
    .init(n: 2, h: 4, w: 4, c: 72, s: 24, offset: 3, width: 80),
    .init(n: 4, h: 1, w: 1, c: 96, s: 24),           // 1x1 spatial
    .init(n: 2, h: 3, w: 2, c: 1, s: 1),
    .init(n: 5, h: 2, w: 3, c: 130, s: 33, offset: 1, width: 131),
    .init(n: 2, h: 2, w: 2, c: 600, s: 150),         // fc weights past the streaming threshold
    .init(n: 9, h: 1, w: 2, c: 40, s: 12),           // the training layers' groups of 4 images, and 1 more
]

private struct Rand {
    var state: UInt64
    mutating func next(_ scale: Float = 1) -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(Int(state >> 40)) / Float(1 << 23) - 1) * scale
    }
}

/// max |a - b| / max |b| (b the float64 reference).
private func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    let top = b.map(abs).max() ?? 0
    let worst = zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
    return top == 0 ? worst : worst / top
}

@Suite("Squeeze-and-excitation backward")
struct SqueezeExcitationBackwardTests {
    @Test("training forward and backward match the float64 reference; the inference forward's bits; 1 and 2 threads agree",
          arguments: variants)
    func matchesReference(variant: Variant) throws {
        let two = try ThreadPool(threads: 2), one = try ThreadPool(threads: 1)
        var rng = Rand(state: 7)
        for t in cases {
            let (c, s) = (t.c, t.s)
            let w1 = (0..<(s * c)).map { _ in rng.next(0.5) }, b1 = (0..<s).map { _ in rng.next(0.5) }
            let w2 = (0..<(c * s)).map { _ in rng.next(0.5) }
            // Some gates saturated on either side (hardsigmoid's gradient 0 there).
            let b2 = (0..<c).map { i in i % 7 == 3 ? 5 : i % 7 == 5 ? -5 : rng.next(1) }
            let layer = try SqueezeExcitation(channels: c, squeezeChannels: s, fc1Weight: w1, fc1Bias: b1, fc2Weight: w2,
                                              fc2Bias: b2, variant: variant)
            let shape = try TensorShape(n: t.n, h: t.h, w: t.w, c: t.stride)
            let xValues = (0..<shape.count).map { _ in rng.next(2) }
            let dyValues = (0..<shape.count).map { _ in rng.next(1) }
            let x = try Tensor(shape: shape, nhwc: xValues), dyTensor = try Tensor(shape: shape, nhwc: dyValues)
            let window = t.offset..<(t.offset + c)
            func dense(_ v: [Float]) -> [Float] { stride(from: 0, to: v.count, by: t.stride).flatMap { p in window.map { v[p + $0] } } }

            // The reference in float64.
            let xRef = RefTensorOf<Double>(n: t.n, h: t.h, w: t.w, c: c, data: dense(xValues).map(Double.init))
            let dyRef = RefTensorOf<Double>(n: t.n, h: t.h, w: t.w, c: c, data: dense(dyValues).map(Double.init))
            let p = RefTrain.SqueezeExcitationWeights<Double>(fc1Weight: w1.map(Double.init), fc1Bias: b1.map(Double.init),
                                                              fc2Weight: w2.map(Double.init), fc2Bias: b2.map(Double.init))
            let forward = RefTrain.squeezeExcitation(xRef, p)
            let back = RefTrain.squeezeExcitationBackward(xRef, p, saved: forward.saved, dy: dyRef)

            // The training forward: the inference forward's bits, and what it keeps.
            let saved = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.savedCount(batch: t.n))
            defer { saved.deallocate() }
            var y = try Tensor(shape: shape), yInference = try Tensor(shape: shape)
            let xv = try x.view(channels: window)
            try y.withMutableView(channels: window) { try layer.trainingForward(xv, into: $0, saved: saved, threadPool: two) }
            try yInference.withMutableView(channels: window) { try layer.forward(xv, into: $0, threadPool: one) }
            #expect(dense(y.toArray()) == dense(yInference.toArray()), "\(variant) \(t): training forward != forward")
            #expect(relativeError(dense(y.toArray()), forward.y.data) < 1e-5, "\(variant) \(t): forward")
            let keep = Array(saved)
            for b in 0..<t.n {
                let row = Array(keep[(b * (2 * c + s))..<((b + 1) * (2 * c + s))])
                #expect(relativeError(Array(row[0..<c]), Array(forward.saved.pooled.data[(b * c)..<((b + 1) * c)])) < 1e-5)
                #expect(relativeError(Array(row[c..<(c + s)]), Array(forward.saved.hiddenPre.data[(b * s)..<((b + 1) * s)])) < 1e-5)
                #expect(relativeError(Array(row[(c + s)...]), Array(forward.saved.gatePre.data[(b * c)..<((b + 1) * c)])) < 1e-5)
            }

            // The backward, on 1 and 2 threads, out of place and in place.
            func backward(_ pool: ThreadPool, inPlace: Bool) throws -> (dx: [Float], dw1: [Float], db1: [Float], dw2: [Float], db2: [Float]) {
                var dw1 = [Float](repeating: .nan, count: s * c), dw2 = dw1
                var db1 = [Float](repeating: .nan, count: s), db2 = [Float](repeating: .nan, count: c)
                var dx = inPlace ? dyTensor : try Tensor(shape: shape, repeating: .nan)
                let dyv = try dyTensor.view(channels: window)
                try dw1.withUnsafeMutableBufferPointer { dw1 in
                    try db1.withUnsafeMutableBufferPointer { db1 in
                        try dw2.withUnsafeMutableBufferPointer { dw2 in
                            try db2.withUnsafeMutableBufferPointer { db2 in
                                try dx.withMutableView(channels: window) { dxv in
                                    try layer.backward(input: xv, saved: UnsafeBufferPointer(saved), outputGradient: inPlace ? dxv : dyv,
                                                       inputGradient: dxv, fc1WeightGradient: dw1, fc1BiasGradient: db1,
                                                       fc2WeightGradient: dw2, fc2BiasGradient: db2, threadPool: pool)
                                }
                            }
                        }
                    }
                }
                let all = dx.toArray()
                if !inPlace {  // nothing outside the window is written
                    for i in all.indices where !window.contains(i % t.stride) { #expect(all[i].isNaN) }
                }
                return (dense(all), dw1, db1, dw2, db2)
            }
            let r1 = try backward(one, inPlace: false)
            let bound = 2e-5
            #expect(relativeError(r1.dx, back.dx.data) < bound, "\(variant) \(t): dx \(relativeError(r1.dx, back.dx.data))")
            #expect(relativeError(r1.dw1, back.grads.fc1Weight) < bound, "\(variant) \(t): fc1 weight")
            #expect(relativeError(r1.db1, back.grads.fc1Bias) < bound, "\(variant) \(t): fc1 bias")
            #expect(relativeError(r1.dw2, back.grads.fc2Weight) < bound, "\(variant) \(t): fc2 weight")
            #expect(relativeError(r1.db2, back.grads.fc2Bias) < bound, "\(variant) \(t): fc2 bias")
            let r2 = try backward(two, inPlace: false), r3 = try backward(two, inPlace: true)
            for r in [r2, r3] {
                #expect(r.dx == r1.dx && r.dw1 == r1.dw1 && r.db1 == r1.db1 && r.dw2 == r1.dw2 && r.db2 == r1.db2,
                        "\(variant) \(t): 2 threads or in place changed the bits")
            }
        }
    }

    /// What a Network makes: the forward's weights only (half the memory), the same forward
    /// bits on every variant, and a backward that says it cannot run.
    @Test("an inference-only layer holds half the weights, gives the same output, and refuses the backward")
    func inferenceOnly() throws {
        let (c, s, n) = (40, 12, 2)
        var r = Rand(state: 5)
        let w1 = (0..<(c * s)).map { _ in r.next(0.3) }, w2 = (0..<(c * s)).map { _ in r.next(0.3) }
        let b1 = (0..<s).map { _ in r.next(0.1) }, b2 = (0..<c).map { _ in r.next(0.1) }
        let shape = try TensorShape(n: n, h: 3, w: 5, c: c)
        let x = try Tensor(shape: shape, nhwc: (0..<shape.count).map { _ in r.next() })
        for variant in variants {
            let full = try SqueezeExcitation(channels: c, squeezeChannels: s, fc1Weight: w1, fc1Bias: b1, fc2Weight: w2,
                                             fc2Bias: b2, variant: variant)
            let lean = try SqueezeExcitation(channels: c, squeezeChannels: s, fc1Weight: w1, fc1Bias: b1, fc2Weight: w2,
                                             fc2Bias: b2, variant: variant, backward: false)
            #expect(lean.weightBytes < full.weightBytes && lean.weightBytes >= 2 * c * s * 4)
            var a = try Tensor(shape: shape), b = try Tensor(shape: shape)
            try a.withMutableView { try full.forward(try x.view(), into: $0) }
            try b.withMutableView { try lean.forward(try x.view(), into: $0) }
            #expect(a.toArray().map(\.bitPattern) == b.toArray().map(\.bitPattern), "\(variant)")
            let saved = UnsafeMutableBufferPointer<Float>.allocate(capacity: lean.savedCount(batch: n))
            let dw1 = UnsafeMutableBufferPointer<Float>.allocate(capacity: c * s), dw2 = UnsafeMutableBufferPointer<Float>.allocate(capacity: c * s)
            defer { saved.deallocate(); dw1.deallocate(); dw2.deallocate() }
            var y = try Tensor(shape: shape), dx = try Tensor(shape: shape)
            try y.withMutableView { try lean.trainingForward(try x.view(), into: $0, saved: saved) }
            do {
                try dx.withMutableView { try lean.backward(input: try x.view(), saved: UnsafeBufferPointer(saved), outputGradient: try y.view(),
                                                           inputGradient: $0, fc1WeightGradient: dw1, fc1BiasGradient: nil,
                                                           fc2WeightGradient: dw2, fc2BiasGradient: nil) }
                Issue.record("\(variant): the backward of an inference-only layer ran")
            } catch let error as MobileKernelsError {
                #expect(error.kind == .unsupported, "\(variant): \(error)")
            }
        }
    }

    @Test("bad input gives a clear error")
    func badInput() throws {
        let (c, s, n) = (8, 3, 2)
        let layer = try SqueezeExcitation(channels: c, squeezeChannels: s, fc1Weight: .init(repeating: 0.1, count: c * s), fc1Bias: nil,
                                          fc2Weight: .init(repeating: 0.1, count: c * s), fc2Bias: nil)
        let shape = try TensorShape(n: n, h: 2, w: 2, c: c)
        let x = try Tensor(shape: shape, repeating: 1)
        let short = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.savedCount(batch: n) - 1)
        let saved = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.savedCount(batch: n))
        defer { short.deallocate(); saved.deallocate() }
        var y = try Tensor(shape: shape)
        #expect(throws: MobileKernelsError.self) {
            try y.withMutableView { try layer.trainingForward(try x.view(), into: $0, saved: short) }
        }
        try y.withMutableView { try layer.trainingForward(try x.view(), into: $0, saved: saved) }
        let dw = UnsafeMutableBufferPointer<Float>.allocate(capacity: c * s), dw2 = UnsafeMutableBufferPointer<Float>.allocate(capacity: c * s)
        let small = UnsafeMutableBufferPointer<Float>.allocate(capacity: c * s - 1)
        defer { dw.deallocate(); dw2.deallocate(); small.deallocate() }
        var dx = try Tensor(shape: shape)
        // Too few saved floats, a weight gradient of the wrong size, a gradient of another shape.
        #expect(throws: MobileKernelsError.self) {
            try dx.withMutableView { try layer.backward(input: try x.view(), saved: UnsafeBufferPointer(short), outputGradient: try y.view(),
                                                        inputGradient: $0, fc1WeightGradient: dw, fc1BiasGradient: nil,
                                                        fc2WeightGradient: dw2, fc2BiasGradient: nil) }
        }
        #expect(throws: MobileKernelsError.self) {
            try dx.withMutableView { try layer.backward(input: try x.view(), saved: UnsafeBufferPointer(saved), outputGradient: try y.view(),
                                                        inputGradient: $0, fc1WeightGradient: small, fc1BiasGradient: nil,
                                                        fc2WeightGradient: dw2, fc2BiasGradient: nil) }
        }
        var other = try Tensor(shape: try TensorShape(n: n, h: 2, w: 3, c: c))
        #expect(throws: MobileKernelsError.self) {
            try other.withMutableView { try layer.backward(input: try x.view(), saved: UnsafeBufferPointer(saved), outputGradient: try y.view(),
                                                           inputGradient: $0, fc1WeightGradient: dw, fc1BiasGradient: nil,
                                                           fc2WeightGradient: dw2, fc2BiasGradient: nil) }
        }
        // The same buffer for both weight gradients: an overlap the kernel rejects (the same call
        // with two buffers works).
        try dx.withMutableView { try layer.backward(input: try x.view(), saved: UnsafeBufferPointer(saved), outputGradient: try y.view(),
                                                    inputGradient: $0, fc1WeightGradient: dw, fc1BiasGradient: nil,
                                                    fc2WeightGradient: dw2, fc2BiasGradient: nil) }
        #expect(throws: MobileKernelsError.self) {
            try dx.withMutableView { try layer.backward(input: try x.view(), saved: UnsafeBufferPointer(saved), outputGradient: try y.view(),
                                                        inputGradient: $0, fc1WeightGradient: dw, fc1BiasGradient: nil,
                                                        fc2WeightGradient: dw, fc2BiasGradient: nil) }
        }
    }
}
