// Squeeze-and-excitation block as in MobileNetV3.

extension Reference {
    /// Squeeze-and-excitation (MobileNetV3 / torchvision `SqueezeExcitation` with ReLU and
    /// Hardsigmoid) on NHWC `[n, h, w, c]`, same shape out:
    /// ```
    /// s = globalAveragePool(x)                       // [n, c]
    /// t = relu(fc1Weight · s + fc1Bias)              // [n, squeezeChannels]
    /// g = hardsigmoid(fc2Weight · t + fc2Bias)       // [n, c]
    /// y[b, y, x, ch] = x[b, y, x, ch] * g[b, ch]
    /// ```
    /// Built from `globalAveragePool`, `fullyConnected` and `channelScale`, so it shares their
    /// summation orders. `fc1Weight` is `[squeezeChannels, c]`, `fc2Weight` is `[c, squeezeChannels]`
    /// (PyTorch Linear / 1x1 conv layout), biases `[squeezeChannels]` and `[c]`.
    /// - Precondition: `squeezeChannels >= 1` and all buffer sizes as above.
    public static func squeezeExcitation(_ x: RefTensor, fc1Weight: [Float], fc1Bias: [Float], squeezeChannels: Int,
                                         fc2Weight: [Float], fc2Bias: [Float]) -> RefTensor {
        let fn = "Reference.squeezeExcitation"
        precondition(squeezeChannels >= 1, "\(fn): squeezeChannels must be >= 1, got \(squeezeChannels)")
        precondition(fc1Weight.count == squeezeChannels * x.c && fc1Bias.count == squeezeChannels,
                     "\(fn): fc1 weight/bias counts \(fc1Weight.count)/\(fc1Bias.count) != \(squeezeChannels * x.c)/\(squeezeChannels) for c \(x.c), squeeze \(squeezeChannels)")
        precondition(fc2Weight.count == x.c * squeezeChannels && fc2Bias.count == x.c,
                     "\(fn): fc2 weight/bias counts \(fc2Weight.count)/\(fc2Bias.count) != \(x.c * squeezeChannels)/\(x.c) for c \(x.c), squeeze \(squeezeChannels)")
        let s = globalAveragePool(x).data
        let t = fullyConnected(s, batch: x.n, inFeatures: x.c, weight: fc1Weight, bias: fc1Bias,
                               outFeatures: squeezeChannels, activation: .relu)
        let g = fullyConnected(t, batch: x.n, inFeatures: squeezeChannels, weight: fc2Weight, bias: fc2Bias,
                               outFeatures: x.c, activation: .hardsigmoid)
        return channelScale(x, scale: g)
    }
}
