import MobileKernels

// A 1x8x8x16 NHWC tensor, from PyTorch's NCHW order.
let shape = try TensorShape(n: 1, h: 8, w: 8, c: 16)
let x = try Tensor(shape: shape, nchw: (0..<shape.count).map { Float($0 % 11) / 10 - 0.5 })

// MobileNetV2's inverted residual block: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1
// linear projection plus the block input. Weights in PyTorch's layout ([out, in, kh, kw]).
func weights(_ count: Int) -> [Float] { (0..<count).map { Float(($0 * 7) % 13) / 13 - 0.5 } }
let expand = try PointwiseConv2D(inChannels: 16, outChannels: 96, weights: weights(96 * 16), activation: .relu6)
let depthwise = try DepthwiseConv2D(channels: 96, kernelSize: 3, padding: .symmetric(1),
                                    weights: weights(96 * 9), activation: .relu6)
let project = try PointwiseConv2D(inChannels: 96, outChannels: 16, weights: weights(16 * 96))

// On the best kernel variant this CPU has, over two threads; the projection adds the residual
// in its store and writes into a tensor we own.
let pool = try ThreadPool(threads: 2)
let hidden = try depthwise(try expand(x, threadPool: pool), threadPool: pool)
var y = try Tensor(shape: shape)
try project.forward(hidden, residual: x, into: &y, threadPool: pool)

print("variant:", project.variant, "of", Variant.available.map(\.rawValue))
print("y[0, 0, 0, 0...3] =", (0..<4).map { y[n: 0, y: 0, x: 0, c: $0] })

// Bad input is a thrown error with a message, never a crash.
do {
    _ = try expand(try Tensor(shape: TensorShape(h: 2, w: 2, c: 3)))
} catch {
    print("error:", error)
}
