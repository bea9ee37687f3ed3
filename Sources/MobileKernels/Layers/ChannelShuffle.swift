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


    public func outputShape(for input: TensorShape) throws -> TensorShape {
        try checkChannels(input, channels)
        return input
    }

    /// In place when `output` is `input` (the same view; at most 8192 channels).
    public func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        var plan = mk_channel_shuffle_f32_plan()
        let status = then(mk_channel_shuffle_f32_reshape(op, input.shape.pixels, input.pixelStride, output.pixelStride,
                                                         threadPool.handle, &plan)) {
            mk_channel_shuffle_f32_run(op, &plan, input.pointer, output.pointer, threadPool.handle)
        }
        try check(status, "\(name) on \(input) into \(output)")
    }

    /// Shuffles `tensor` in place (no second buffer; a shared tensor is copied first, as any
    /// mutation of a copy-on-write value).
    public func shuffle(_ tensor: inout Tensor, threadPool: ThreadPool = .shared) throws {
        _ = try outputShape(for: tensor.shape)
        guard channels <= 8192 else {
            throw MobileKernelsError(.invalidArgument, "\(name): in-place shuffle takes at most 8192 channels")
        }
        try tensor.withMutableView { try forward($0, into: $0, threadPool: threadPool) }
    }
}
