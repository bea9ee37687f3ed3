import MobileKernels

// A 1x4x4x8 NHWC tensor, from PyTorch's NCHW order.
let shape = try TensorShape(n: 1, h: 4, w: 4, c: 8)
let values = (0..<shape.count).map { Float($0 % 11) - 5 }
let x = try Tensor(shape: shape, nchw: values)

// Bias + hardswish, on the best kernel variant this CPU has, over two threads.
let layer = try BiasActivation(channels: 8, bias: [Float](repeating: 0.5, count: 8), activation: .hardswish)
let pool = try ThreadPool(threads: 2)
let y = try layer(x, threadPool: pool)

print("variant:", layer.variant, "of", Variant.available.map(\.rawValue))
print("y[0, 0, 0, 0...3] =", (0..<4).map { y[n: 0, y: 0, x: 0, c: $0] })

// Bad input is a thrown error with a message, never a crash.
do {
    _ = try layer(try Tensor(shape: TensorShape(h: 2, w: 2, c: 3)))
} catch {
    print("error:", error)
}
