import MobileKernels
import ReferenceKernels
import Testing

// The pooling backward kernels (f32_poolgrad) against the float32 training references, bit for
// bit (the gathers add in the order the references scatter), for every variant this CPU runs:
// max with ties (the first maximum wins), average both ways of count_include_pad, adaptive down
// and up, global; padding on every side, stride 2, batch > 1, channel tails, slices; 1 vs 2
// threads.

private let variants = Catalogue.variants(of: .poolgrad).filter(\.isAvailable)

private struct PoolCase: CustomStringConvertible {
    var n: Int, h: Int, w: Int, c: Int
    var kind: PoolingBackward.Kind
    var offset = 0, width = 0
    var stride: Int { width == 0 ? c : width }
    var description: String { "\(kind) n\(n) \(h)x\(w) C\(c) at \(offset)/\(stride)" }
}

private let cases: [PoolCase] = [
    .init(n: 2, h: 9, w: 9, c: 19, kind: .max(kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padding: .symmetric(1))),
    .init(n: 1, h: 8, w: 7, c: 37, kind: .max(kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padding: .zero), offset: 2, width: 40),
    .init(n: 2, h: 11, w: 10, c: 5, kind: .max(kernelH: 3, kernelW: 2, strideH: 1, strideW: 2,
                                               padding: Padding(top: 2, left: 0, bottom: 1, right: 1))),
    .init(n: 3, h: 7, w: 7, c: 70, kind: .average(kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padding: .symmetric(1),
                                                  countIncludePad: true)),
    .init(n: 2, h: 6, w: 9, c: 9, kind: .average(kernelH: 3, kernelW: 3, strideH: 2, strideW: 1, padding: .symmetric(1),
                                                 countIncludePad: false), offset: 1, width: 12),
    .init(n: 2, h: 5, w: 7, c: 33, kind: .adaptive(outputH: 3, outputW: 2)),
    .init(n: 2, h: 2, w: 1, c: 17, kind: .adaptive(outputH: 7, outputW: 7)),  // upsampling
    .init(n: 4, h: 4, w: 4, c: 64, kind: .adaptive(outputH: 1, outputW: 1)),  // global
    .init(n: 2, h: 1, w: 1, c: 8, kind: .max(kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padding: .symmetric(1))),
    // Wider than the per-task column cache (1024): window lists computed per pixel.
    .init(n: 1, h: 2, w: 1100, c: 3, kind: .max(kernelH: 1, kernelW: 3, strideH: 1, strideW: 2, padding: .zero)),
    .init(n: 1, h: 2, w: 1100, c: 3, kind: .average(kernelH: 2, kernelW: 3, strideH: 1, strideW: 2,
                                                    padding: Padding(top: 1, left: 1, bottom: 0, right: 1), countIncludePad: false)),
]

private func refGeometry(_ kind: PoolingBackward.Kind) -> RefPoolGeometry? {
    switch kind {
    case let .max(kh, kw, sh, sw, p), let .average(kh, kw, sh, sw, p, _):
        RefPoolGeometry(kernelH: kh, kernelW: kw, strideH: sh, strideW: sw,
                        padding: RefPadding(top: p.top, left: p.left, bottom: p.bottom, right: p.right))
    case .adaptive: nil
    }
}

@Suite("Pooling backward (f32_poolgrad)")
struct PoolingBackwardTests {
    @Test("max forward with indices and every input gradient give the reference's bits; 2 threads give 1's",
          arguments: variants)
    func matchesReference(variant: Variant) throws {
        let two = try ThreadPool(threads: 2)
        var state: UInt64 = 99
        func next(_ levels: Int) -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 33) % levels) / 4 - 1
        }
        for t in cases {
            let layer = try PoolingBackward(t.kind, channels: t.c, variant: variant)
            #expect(layer.variant == variant)
            let xShape = try TensorShape(n: t.n, h: t.h, w: t.w, c: t.stride)
            // Few distinct values: ties in most windows.
            let xValues = (0..<xShape.count).map { _ in next(5) }
            let x = try Tensor(shape: xShape, nhwc: xValues)
            let range = t.offset..<(t.offset + t.c)
            func dense(_ v: [Float]) -> [Float] { stride(from: 0, to: v.count, by: t.stride).flatMap { p in range.map { v[p + $0] } } }
            let xRef = RefTensorOf<Float>(n: t.n, h: t.h, w: t.w, c: t.c, data: dense(xValues))
            let g = refGeometry(t.kind)
            // The output size and the reference's forward.
            var oh = 0, ow = 0
            var argmax: [Int] = []
            var yRef: [Float] = []
            switch t.kind {
            case .max:
                let r = RefTrain.maxPool2d(xRef, g!)
                (oh, ow, argmax, yRef) = (r.y.h, r.y.w, r.argmax, r.y.data)
            case let .average(_, _, _, _, _, include):
                let r = RefTrain.avgPool2d(xRef, g!, countIncludePad: include)
                (oh, ow) = (r.h, r.w)
            case let .adaptive(h, w):
                (oh, ow) = (h, w)
            }
            let yShape = try TensorShape(n: t.n, h: oh, w: ow, c: t.stride)
            let dyValues = (0..<yShape.count).map { _ in next(97) }
            let dy = try Tensor(shape: yShape, nhwc: dyValues)
            let dyRef = RefTensorOf<Float>(n: t.n, h: oh, w: ow, c: t.c, data: dense(dyValues))
            let want: [Float]
            switch t.kind {
            case .max: want = RefTrain.maxPool2dBackward(inputShapeOf: xRef, argmax: argmax, dy: dyRef).data
            case let .average(_, _, _, _, _, include):
                want = RefTrain.avgPool2dBackward(inputShapeOf: xRef, g!, countIncludePad: include, dy: dyRef).data
            case .adaptive: want = RefTrain.adaptiveAvgPoolBackward(inputShapeOf: xRef, dy: dyRef).data
            }
            var runs: [[Float]] = []
            for pool in [ThreadPool.serial, two] {
                var indices: [Int32]? = nil
                if case .max = t.kind {
                    var y = try Tensor(shape: try TensorShape(n: t.n, h: oh, w: ow, c: t.c), repeating: .nan)
                    var found: [Int32] = []
                    try y.withMutableView { try layer.forwardWithIndices(x.view(channels: range), into: $0, indices: &found, threadPool: pool) }
                    #expect(y.toArray() == yRef, "\(t): max forward")
                    // PyTorch's index: the pixel within the image.
                    let wantIndices = argmax.map { Int32(($0 / t.c) % (t.h * t.w)) }
                    #expect(found == wantIndices, "\(t): indices")
                    indices = found
                }
                var dx = try Tensor(shape: xShape, repeating: .nan)
                try dx.withMutableView(channels: range) {
                    try layer.inputGradient(dy.view(channels: range), indices: indices, into: $0, threadPool: pool)
                }
                let all = dx.toArray()
                if t.width > t.c {
                    #expect(all.enumerated().allSatisfy { range.contains($0.offset % t.stride) || $0.element.isNaN }, "\(t): wrote outside")
                }
                runs.append(dense(all))
            }
            #expect(runs[0] == want, "\(t) \(variant): dx differs from the reference")
            #expect(runs[1] == runs[0], "\(t): 2 threads differ from 1")
        }
    }

    @Test("bad input throws a clear error")
    func errors() throws {
        #expect(throws: MobileKernelsError.self) { try PoolingBackward(.adaptive(outputH: 0, outputW: 1), channels: 4) }
        #expect(throws: MobileKernelsError.self) { try PoolingBackward(.adaptive(outputH: 1, outputW: 1), channels: 0) }
        #expect(throws: MobileKernelsError.self) {
            try PoolingBackward(.max(kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padding: .symmetric(3)), channels: 4)
        }
        // Windows 40 deep on an axis.
        #expect(throws: MobileKernelsError.self) {
            try PoolingBackward(.average(kernelH: 40, kernelW: 1, strideH: 1, strideW: 1, padding: .zero, countIncludePad: true), channels: 4)
        }
        let layer = try PoolingBackward(.max(kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padding: .zero), channels: 4)
        let dy = try Tensor(shape: TensorShape(n: 1, h: 2, w: 2, c: 4), repeating: 1)
        var dx = try Tensor(shape: TensorShape(n: 1, h: 4, w: 4, c: 4), repeating: 0)
        do {
            try dx.withMutableView { try layer.inputGradient(dy.view(), indices: nil, into: $0) }
            Issue.record("max pooling's gradient ran without indices")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .invalidArgument && error.message.contains("indices"))
        }
        var small = try Tensor(shape: TensorShape(n: 1, h: 6, w: 4, c: 4), repeating: 0)
        do {
            try small.withMutableView { try layer.inputGradient(dy.view(), indices: [Int32](repeating: 0, count: 16), into: $0) }
            Issue.record("a 6x4 input for a 2x2 output was accepted")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .shapeMismatch && error.message.contains("outputs of 3x2"), "\(error)")
        }
        let average = try PoolingBackward(.adaptive(outputH: 1, outputW: 1), channels: 4)
        var indices: [Int32] = []
        do {
            try dx.withMutableView { try average.forwardWithIndices(dy.view(), into: $0, indices: &indices) }
            Issue.record("indices from an average pooling")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .invalidArgument)
        }
    }
}
