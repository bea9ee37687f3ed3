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
    private let op: OpaquePointer

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
        var handle: OpaquePointer?
        try check(mk_add_f32_create(channels, activation.cValue, variant.cValue, &handle), name)
        op = handle!
        self.channels = channels
        self.activation = activation
        self.variant = Variant(mk_add_f32_variant(op))
    }

    deinit { mk_add_f32_destroy(op) }

    private func checkShapes(_ a: TensorShape, _ b: TensorShape) throws {
        guard a.c == channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(a) has \(a.c) channels, expected \(channels)")
        }
        guard a == b else {
            throw MobileKernelsError(.shapeMismatch, "\(name): inputs \(a) and \(b) differ in shape")
        }
    }

    /// `output = activation(a + b)` on views of one shape (any pixel strides); `output` may be
    /// `a` or `b` itself (the same view: a += b) but must not otherwise overlap them.
    /// - Throws: `.shapeMismatch` for inputs without `channels` channels or shapes that differ.
    public func forward(_ a: TensorView, _ b: TensorView, into output: TensorView,
                        threadPool: ThreadPool = .shared) throws {
        try checkShapes(a.shape, b.shape)
        guard output.shape == a.shape else {
            throw MobileKernelsError(.shapeMismatch, "\(name): inputs \(a.shape) give output \(a.shape), but the output is \(output.shape)")
        }
        var plan = mk_add_f32_plan()
        let status = then(mk_add_f32_reshape(op, a.shape.pixels, a.pixelStride, b.pixelStride, output.pixelStride,
                                             threadPool.handle, &plan)) {
            mk_add_f32_run(op, &plan, a.pointer, b.pointer, output.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(a) + \(b) into \(output)")
    }

    /// `output = activation(a + b)`; `output` has the inputs' shape (copied first if its storage
    /// is shared).
    public func forward(_ a: Tensor, _ b: Tensor, into output: inout Tensor, threadPool: ThreadPool = .shared) throws {
        let x = try a.view(), z = try b.view()
        try output.withMutableView { try forward(x, z, into: $0, threadPool: threadPool) }
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
        let z = try b.view()
        try accumulator.withMutableView { try forward($0, z, into: $0, threadPool: threadPool) }
    }
}
