/// A layer: a C operator created once (weights packed, kernel variant chosen) and run many times.
///
/// `forward(_:into:threadPool:)` on views reads and writes storage the caller owns, channel
/// slices of wider tensors included, so a planned model runs without allocating or copying; the
/// `Tensor` forms wrap it, and `callAsFunction` allocates the output for convenience.
public protocol Layer: AnyObject, Sendable {
    /// A readable name with the layer's parameters, used in error messages.
    var name: String { get }

    /// The output shape for `input`; throws `.shapeMismatch` when the layer cannot take it.
    func outputShape(for input: TensorShape) throws -> TensorShape

    /// Runs the layer on `input`, writing into `output`, whose shape must be
    /// `outputShape(for: input.shape)`; either may be a channel slice of a wider tensor. Input and
    /// output must not overlap, unless the layer documents in-place runs (the same view).
    /// - Throws: `.shapeMismatch` for shapes the layer cannot take; the operator's error otherwise.
    func forward(_ input: TensorView, into output: TensorView, threadPool: ThreadPool) throws
}

extension Layer {
    /// Runs the layer on `input`, writing into `output` (NHWC, shape `outputShape(for: input.shape)`;
    /// storage shared with another tensor is copied first).
    /// - Throws: `.shapeMismatch` when `output` has another shape.
    public func forward(_ input: Tensor, into output: inout Tensor, threadPool: ThreadPool = .shared) throws {
        try checkOutput(output.shape, for: input.shape)
        let x = try input.view()
        try output.withMutableView { try forward(x, into: $0, threadPool: threadPool) }
    }

    /// Runs the layer into a newly allocated output tensor.
    public func callAsFunction(_ input: Tensor, threadPool: ThreadPool = .shared) throws -> Tensor {
        var output = try Tensor(shape: outputShape(for: input.shape))
        try forward(input, into: &output, threadPool: threadPool)
        return output
    }

    /// Throws `.shapeMismatch` unless `input` has `channels` channels.
    func checkChannels(_ input: TensorShape, _ channels: Int) throws {
        guard input.c == channels else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(input) has \(input.c) channels, expected \(channels)")
        }
    }

    /// Throws `.shapeMismatch` unless `output` is the shape this layer produces for `input`.
    func checkOutput(_ output: TensorShape, for input: TensorShape) throws {
        let expected = try outputShape(for: input)
        guard output == expected else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(input) gives output \(expected), but the output is \(output)")
        }
    }
}
