import MobileKernels
import Testing

@Suite("Conv2D and Network algorithms (Winograd by default, direct on request)")
struct ConvAlgorithmTests {
    @Test("a layer reports the algorithm AUTO picked; .winograd on a layer it cannot compute throws .unsupported")
    func layerAlgorithms() throws {
        let w = [Float](repeating: 0.01, count: 64 * 64 * 9)
        let wide = try Conv2D(inChannels: 64, outChannels: 64, kernelSize: 3, padding: .symmetric(1), weights: w)
        #expect(wide.algorithm == .winograd)
        let forced = try Conv2D(inChannels: 64, outChannels: 64, kernelSize: 3, padding: .symmetric(1), weights: w,
                                algorithm: .direct)
        #expect(forced.algorithm == .direct)
        let stem = try Conv2D(inChannels: 3, outChannels: 64, kernelSize: 3, padding: .symmetric(1),
                              weights: Array(w.prefix(64 * 3 * 9)))
        #expect(stem.algorithm == .direct)
        #expect(throws: MobileKernelsError.self) {
            _ = try Conv2D(inChannels: 64, outChannels: 64, kernelSize: 3, stride: 2, weights: w, algorithm: .winograd)
        }
        #expect(Conv2D.supports(inChannels: 64, outChannels: 64, kernelH: 3, kernelW: 3, variant: .auto, algorithm: .winograd))
        #expect(!Conv2D.supports(inChannels: 64, outChannels: 64, kernelH: 5, kernelW: 5, variant: .auto, algorithm: .winograd))
    }

    @Test("one-shot forwards and planned runs of a Winograd layer agree bit for bit, on 1 and 2 threads")
    func forwardPaths() throws {
        let w: [Float] = (0..<(32 * 48 * 9)).map { (i: Int) -> Float in Float((i * 7) % 13) / 13 - 0.5 }
        let bias: [Float] = (0..<32).map { (i: Int) -> Float in Float(i) / 64 }
        let conv = try Conv2D(inChannels: 48, outChannels: 32, kernelSize: 3, padding: .symmetric(1), weights: w,
                              bias: bias, activation: .relu6)
        #expect(conv.algorithm == ConvAlgorithm.winograd)
        let shape = try TensorShape(n: 2, h: 19, w: 23, c: 48)
        let values: [Float] = (0..<shape.count).map { (i: Int) -> Float in Float((i * 5) % 17) / 17 - 0.5 }
        let x = try Tensor(shape: shape, nhwc: values)
        let one: [Float] = try conv(x, threadPool: ThreadPool.serial).toArray()
        let pool = try ThreadPool(threads: 2)
        let two: [Float] = try conv(x, threadPool: pool).toArray()
        let again: [Float] = try conv(x, threadPool: pool).toArray()  // the layer's kept workspace
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
        #expect(two.map(\.bitPattern) == again.map(\.bitPattern))
    }
}
