internal import CKernels

/// PyTorch's `CrossEntropyLoss` (mean over the batch) and its gradient with respect to the logits
/// (`mk_softmax_cross_entropy_f32`): per image, log-sum-exp from the row's maximum with exp and log
/// in float64; the gradient is (softmax - onehot(label)) / batch. The same bits on every CPU and
/// thread count.
public enum SoftmaxCrossEntropy {
    /// The mean loss of `logits` (`[batch, classes]` row by row) against `labels` (one class per
    /// row), with the logits' gradient written to `gradient` (the same count; it may be `logits`'
    /// memory).
    /// - Throws: `.shapeMismatch` for counts that do not make `labels.count` rows of `classes`;
    ///   `.invalidArgument` for a label outside `0..<classes` or overlapping buffers.
    public static func loss(logits: UnsafeBufferPointer<Float>, classes: Int, labels: UnsafeBufferPointer<Int>,
                            gradient: UnsafeMutableBufferPointer<Float>) throws -> Float {
        let batch = labels.count
        guard classes >= 1, batch >= 1, logits.count == batch * classes, gradient.count == logits.count,
              let z = logits.baseAddress, let y = labels.baseAddress, let dz = gradient.baseAddress else {
            throw MobileKernelsError(.shapeMismatch, "SoftmaxCrossEntropy: \(logits.count) logits and \(gradient.count) gradient values for \(batch) labels of \(classes) classes")
        }
        var loss: Float = 0
        let status = mk_softmax_cross_entropy_f32(batch, classes, z, y, dz, &loss)
        if status == MK_STATUS_INVALID_ARGUMENT, let (i, bad) = labels.enumerated().first(where: { $0.element < 0 || $0.element >= classes }) {
            throw MobileKernelsError(.invalidArgument, "SoftmaxCrossEntropy: label \(bad) of image \(i) is not a class of 0..<\(classes)")
        }
        try check(status, "SoftmaxCrossEntropy of \(batch) x \(classes) logits")
        return loss
    }
}
