// Folding eval-mode BatchNorm into the preceding convolution.

extension Reference {
    /// Folds an eval-mode BatchNorm (running statistics) into the convolution before it, so that
    /// `conv(x, w', b') == BN(conv(x, w, b))` up to rounding.
    ///
    /// Per output channel `o`:
    /// ```
    /// scale[o] = gamma[o] / (variance[o] + eps).squareRoot()
    /// w'[o, ...] = w[o, ...] * scale[o]
    /// b'[o] = (b[o] - mean[o]) * scale[o] + beta[o]      (b = 0 when bias is nil)
    /// ```
    /// `weight` is `[outChannels, ...]` with any trailing size (conv OIHW, depthwise `[C, 1, KH, KW]`,
    /// linear `[out, in]`): `weight.count / outChannels` consecutive values per output channel.
    /// All arithmetic in `Float`.
    /// - Precondition: `outChannels >= 1`, `weight.count` a non-zero multiple of `outChannels`; `bias`
    ///   (if any), `gamma`, `beta`, `mean`, `variance` each `outChannels` long; `eps >= 0`.
    public static func foldBatchNorm(weight: [Float], bias: [Float]?, outChannels: Int, gamma: [Float], beta: [Float],
                                     mean: [Float], variance: [Float], eps: Float) -> (weight: [Float], bias: [Float]) {
        let fn = "Reference.foldBatchNorm"
        precondition(outChannels >= 1, "\(fn): outChannels must be >= 1, got \(outChannels)")
        precondition(weight.count >= outChannels && weight.count % outChannels == 0,
                     "\(fn): weight.count \(weight.count) is not a non-zero multiple of outChannels \(outChannels)")
        if let bias {
            precondition(bias.count == outChannels, "\(fn): bias.count \(bias.count) != outChannels \(outChannels)")
        }
        precondition(gamma.count == outChannels && beta.count == outChannels && mean.count == outChannels
                     && variance.count == outChannels,
                     "\(fn): gamma/beta/mean/variance counts \(gamma.count)/\(beta.count)/\(mean.count)/\(variance.count) must all equal outChannels \(outChannels)")
        precondition(eps >= 0, "\(fn): eps must be >= 0, got \(eps)")
        let perChannel = weight.count / outChannels
        var newWeight = weight
        var newBias = [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let scale = gamma[o] / (variance[o] + eps).squareRoot()
            for k in 0..<perChannel {
                newWeight[o * perChannel + k] = weight[o * perChannel + k] * scale
            }
            let b: Float = bias?[o] ?? 0
            newBias[o] = (b - mean[o]) * scale + beta[o]
        }
        return (newWeight, newBias)
    }
}
