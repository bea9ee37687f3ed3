// Fully connected (PyTorch Linear) layer.

extension Reference {
    /// Fully connected layer (PyTorch `Linear`) with a fused activation:
    /// `y[b, o] = act(sum_i input[b, i] * weight[o, i] + bias[o])`.
    ///
    /// - `input`: `[batch, inFeatures]` row-major; `weight`: `[outFeatures, inFeatures]` row-major
    ///   (PyTorch layout); `bias`: `[outFeatures]` or nil (no add).
    /// - Returns `[batch, outFeatures]` row-major. Each sum is accumulated in `Float` from `0` over
    ///   increasing `i`, then the bias is added, then the activation applied.
    /// - Precondition: `batch, inFeatures, outFeatures >= 1`, buffer sizes match, a `clamp` has
    ///   `min <= max`.
    public static func fullyConnected(_ input: [Float], batch: Int, inFeatures: Int, weight: [Float], bias: [Float]?,
                                      outFeatures: Int, activation: RefActivation = .none) -> [Float] {
        let fn = "Reference.fullyConnected"
        activation.validate(fn)
        precondition(batch >= 1 && inFeatures >= 1 && outFeatures >= 1,
                     "\(fn): batch, inFeatures, outFeatures must be >= 1, got \(batch), \(inFeatures), \(outFeatures)")
        precondition(input.count == batch * inFeatures,
                     "\(fn): input.count \(input.count) != batch*inFeatures = \(batch)*\(inFeatures)")
        precondition(weight.count == outFeatures * inFeatures,
                     "\(fn): weight.count \(weight.count) != outFeatures*inFeatures = \(outFeatures)*\(inFeatures)")
        if let bias {
            precondition(bias.count == outFeatures, "\(fn): bias.count \(bias.count) != outFeatures \(outFeatures)")
        }
        var out = [Float](repeating: 0, count: batch * outFeatures)
        for b in 0..<batch {
            for o in 0..<outFeatures {
                var acc: Float = 0
                for i in 0..<inFeatures {
                    acc += input[b * inFeatures + i] * weight[o * inFeatures + i]
                }
                if let bias { acc += bias[o] }
                out[b * outFeatures + o] = activation.apply(acc)
            }
        }
        return out
    }
}
