/// A layer: a C operator created once (weights packed, kernel variant chosen) and run many times.
///
/// `forward(_:into:threadPool:)` writes into a tensor the caller owns, so a planned model runs
/// without allocating; `callAsFunction` allocates the output for convenience.
public protocol Layer: AnyObject, Sendable {
    /// A readable name with the layer's parameters, used in error messages.
    var name: String { get }

    /// The output shape for `input`; throws `.shapeMismatch` when the layer cannot take it.
    func outputShape(for input: TensorShape) throws -> TensorShape

    /// Runs the layer on `input`, writing into `output`, whose shape must be `outputShape(for:)`.
    func forward(_ input: Tensor, into output: inout Tensor, threadPool: ThreadPool) throws
}

extension Layer {
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

    /// Throws `.shapeMismatch` unless `output` has the shape this layer produces for `input`.
    func checkOutput(_ output: Tensor, for input: TensorShape) throws {
        let expected = try outputShape(for: input)
        guard output.shape == expected else {
            throw MobileKernelsError(.shapeMismatch, "\(name): input \(input) gives output \(expected), but the output tensor is \(output.shape)")
        }
    }
}
