internal import CKernels

/// The residual add of MobileNetV2/V3 and ShuffleNet, with an optional fused activation:
///   y = activation(a + b)   (elementwise; a, b and y have the same NHWC shape).
/// Exact (one addition per element, then the activation).
public final class Add: @unchecked Sendable {
    public let channels: Int
    public let activation: Activation
    /// The variant that runs (`.auto` resolved).
    public let variant: Variant
    public let name: String

    /// - Throws: `.invalidArgument` for channels below 1 or bad clamp bounds; `.unsupported` for a
    ///   variant this CPU lacks (or `.blis`).
    public init(channels: Int, activation: Activation = .none, variant: Variant = .auto) throws {
        name = "Add(channels: \(channels), \(activation), \(variant))"
        guard channels >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(name): channels must be at least 1")
        }
        guard mk_activation_validate(activation.cValue) == MK_STATUS_OK else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(activation) needs min <= max and no NaN bound")
        }
        guard variant != .blis, variant.isAvailable else {
            throw MobileKernelsError(.unsupported, "\(name): variant \(variant) is not available here")
        }
        self.channels = channels
        self.activation = activation
        self.variant = variant == .auto ? Variant.best : variant
    }

    private func checkShapes(_ a: TensorShape, _ b: TensorShape) throws {
        guard a.c == channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(a) has \(a.c) channels, expected \(channels)")
        }
        guard a == b else {
            throw MobileKernelsError(.shapeMismatch, "\(name): inputs \(a) and \(b) differ in shape")
        }
    }

    /// `output = activation(a + b)`; `output` has the inputs' shape.
    public func forward(_ a: Tensor, _ b: Tensor, into output: inout Tensor, threadPool: ThreadPool = .shared) throws {
        try checkShapes(a.shape, b.shape)
        guard output.shape == a.shape else {
            throw MobileKernelsError(.shapeMismatch, "\(name): inputs \(a.shape) give output \(a.shape), but the output tensor is \(output.shape)")
        }
        let s = a.shape
        let status = a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { z in
                output.withUnsafeMutableBufferPointer { y in
                    mk_elementwise_add(s.pixels, channels, x.baseAddress, 0, z.baseAddress, 0, y.baseAddress, 0,
                                       activation.cValue, variant.cValue, threadPool.handle)
                }
            }
        }
        try check(status, "\(name) on \(s)")
    }

    /// `activation(a + b)` into a newly allocated tensor.
    public func callAsFunction(_ a: Tensor, _ b: Tensor, threadPool: ThreadPool = .shared) throws -> Tensor {
        try checkShapes(a.shape, b.shape)
        var output = try Tensor(shape: a.shape)
        try forward(a, b, into: &output, threadPool: threadPool)
        return output
    }

    /// `accumulator = activation(accumulator + b)` in place (no third buffer).
    public func accumulate(_ b: Tensor, into accumulator: inout Tensor, threadPool: ThreadPool = .shared) throws {
        try checkShapes(accumulator.shape, b.shape)
        let s = b.shape
        let status = b.withUnsafeBufferPointer { z in
            accumulator.withUnsafeMutableBufferPointer { y in
                mk_elementwise_add(s.pixels, channels, y.baseAddress, 0, z.baseAddress, 0, y.baseAddress, 0,
                                   activation.cValue, variant.cValue, threadPool.handle)
            }
        }
        try check(status, "\(name) on \(s)")
    }
}
