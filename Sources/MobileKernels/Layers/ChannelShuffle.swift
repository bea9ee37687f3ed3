internal import CKernels

/// ShuffleNet's channel shuffle over NHWC tensors: per pixel, the channels viewed as
/// [groups, C / groups] are transposed to [C / groups, groups],
///   y[n, y, x, j * groups + g] = x[n, y, x, g * (C / groups) + j].
/// Exact (a permutation). `shuffle(_:threadPool:)` works in place on a uniquely held tensor.
public final class ChannelShuffle: Layer, @unchecked Sendable {
    public let groups: Int
    public let channels: Int
    public let variant: Variant
    public let name: String
    private let op: OpaquePointer

    /// - Throws: `.invalidArgument` unless `groups >= 1` divides `channels >= 1`;
    ///   `.unsupported` for a variant this CPU lacks (or `.blis`).
    public init(groups: Int, channels: Int, variant: Variant = .auto) throws {
        name = "ChannelShuffle(groups: \(groups), channels: \(channels), \(variant))"
        guard groups >= 1, channels >= 1, channels % groups == 0 else {
            throw MobileKernelsError(.invalidArgument, "\(name): groups must be at least 1 and divide the channels")
        }
        var handle: OpaquePointer?
        try check(mk_channel_shuffle_f32_create(groups, channels, variant.cValue, &handle), name)
        op = handle!
        self.groups = groups
        self.channels = channels
        self.variant = Variant(mk_channel_shuffle_f32_variant(op))
    }

    deinit { mk_channel_shuffle_f32_destroy(op) }

    /// Plans `pixels` rows (dense) and runs; the plan lives on the stack.
    private func run(pixels: Int, _ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?,
                     _ threadPool: ThreadPool) -> mk_status {
        var plan = mk_channel_shuffle_f32_plan()
        return then(mk_channel_shuffle_f32_reshape(op, pixels, 0, 0, threadPool.handle, &plan)) {
            mk_channel_shuffle_f32_run(op, &plan, x, y, threadPool.handle)
        }
    }

    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return input
    }

    public func forward(_ input: Tensor, into output: inout Tensor, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output, for: input.shape)
        let s = input.shape
        let status = input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                run(pixels: s.pixels, x.baseAddress, y.baseAddress, threadPool)
            }
        }
        try check(status, "\(name) on \(s)")
    }

    /// Shuffles `tensor` in place (no second buffer; a shared tensor is copied first, as any
    /// mutation of a copy-on-write value).
    public func shuffle(_ tensor: inout Tensor, threadPool: ThreadPool = .shared) throws {
        _ = try outputShape(for: tensor.shape)
        let s = tensor.shape
        guard channels <= 8192 else {
            throw MobileKernelsError(.invalidArgument, "\(name): in-place shuffle takes at most 8192 channels")
        }
        let status = tensor.withUnsafeMutableBufferPointer { y in
            run(pixels: s.pixels, y.baseAddress, y.baseAddress, threadPool)
        }
        try check(status, "\(name) on \(s)")
    }
}
