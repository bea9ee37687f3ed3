// BatchNorm in training mode: batch statistics, the running-statistic update, and the backward.

extension RefTrain {
    /// What the training-mode BatchNorm forward keeps for its backward.
    public struct BatchNormSaved<T: BinaryFloatingPoint & Sendable>: Sendable {
        /// The normalized input `(x - mean) * invStd`, before gamma and beta.
        public var normalized: RefTensorOf<T>
        /// `1 / sqrt(var + eps)` per channel (biased batch variance, as PyTorch normalizes).
        public var invStd: [T]
        /// The batch mean per channel.
        public var mean: [T]
        /// The biased batch variance per channel (sum of squared deviations / count).
        public var variance: [T]
    }

    /// PyTorch's `BatchNorm2d` in `train()` mode over batch and pixels of each channel:
    /// `mean = sum x / m`, `var = sum (x - mean)^2 / m` (m = n * h * w), `y = (x - mean) / sqrt(var +
    /// eps) * gamma + beta`. - Precondition: `gamma` and `beta` have `x.c` elements.
    @_specialize(exported: true, where T == Float)
    public static func batchNormTraining<T>(_ x: RefTensorOf<T>, gamma: [T], beta: [T], eps: T)
        -> (y: RefTensorOf<T>, saved: BatchNormSaved<T>) {
        precondition(gamma.count == x.c && beta.count == x.c,
                     "RefTrain.batchNormTraining: gamma/beta counts \(gamma.count)/\(beta.count) != channels \(x.c)")
        let m = T(x.pixels)
        let mean = channelSums(x).map { $0 / m }
        var variance = [T](repeating: 0, count: x.c)
        for p in 0..<x.pixels {
            for ch in 0..<x.c {
                let d = x.data[p * x.c + ch] - mean[ch]
                variance[ch] += d * d
            }
        }
        variance = variance.map { $0 / m }
        let invStd = variance.map { 1 / ($0 + eps).squareRoot() }
        var normalized = x, y = x
        for p in 0..<x.pixels {
            for ch in 0..<x.c {
                let i = p * x.c + ch
                normalized.data[i] = (x.data[i] - mean[ch]) * invStd[ch]
                y.data[i] = normalized.data[i] * gamma[ch] + beta[ch]
            }
        }
        return (y, BatchNormSaved(normalized: normalized, invStd: invStd, mean: mean, variance: variance))
    }

    /// PyTorch's running-statistic update after a training-mode forward over `count` values per
    /// channel: `running = (1 - momentum) * running + momentum * batch`, with the *unbiased* batch
    /// variance (`var * count / (count - 1)`) for `runningVar`.
    /// - Precondition: `count >= 2` (PyTorch refuses training BatchNorm on one value per channel).
    @_specialize(exported: true, where T == Float)
    public static func updateRunningStatistics<T>(runningMean: inout [T], runningVar: inout [T], saved: BatchNormSaved<T>,
                                                  count: Int, momentum: T) {
        precondition(count >= 2, "RefTrain.updateRunningStatistics: need at least 2 values per channel, got \(count)")
        precondition(runningMean.count == saved.mean.count && runningVar.count == saved.mean.count,
                     "RefTrain.updateRunningStatistics: running statistics have \(runningMean.count)/\(runningVar.count) channels, batch \(saved.mean.count)")
        let unbias = T(count) / T(count - 1)
        for ch in 0..<saved.mean.count {
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * saved.mean[ch]
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * saved.variance[ch] * unbias
        }
    }

    /// The training-mode BatchNorm backward for `dy`: `dBeta = sum dy`, `dGamma = sum dy * xhat`,
    /// `dx = gamma * invStd / m * (m * dy - dBeta - xhat * dGamma)` (the batch statistics depend on x).
    @_specialize(exported: true, where T == Float)
    public static func batchNormTrainingBackward<T>(_ saved: BatchNormSaved<T>, gamma: [T], dy: RefTensorOf<T>)
        -> (dx: RefTensorOf<T>, dGamma: [T], dBeta: [T]) {
        let xhat = saved.normalized
        precondition(xhat.hasSameShape(as: dy) && gamma.count == dy.c,
                     "RefTrain.batchNormTrainingBackward: dy \(dy.shapeDescription), saved \(xhat.shapeDescription), gamma \(gamma.count)")
        let dBeta = channelSums(dy)
        var dGamma = [T](repeating: 0, count: dy.c)
        for p in 0..<dy.pixels { for ch in 0..<dy.c { dGamma[ch] += dy.data[p * dy.c + ch] * xhat.data[p * dy.c + ch] } }
        let m = T(dy.pixels)
        var dx = dy
        for p in 0..<dy.pixels {
            for ch in 0..<dy.c {
                let i = p * dy.c + ch
                dx.data[i] = gamma[ch] * saved.invStd[ch] / m * (m * dy.data[i] - dBeta[ch] - xhat.data[i] * dGamma[ch])
            }
        }
        return (dx, dGamma, dBeta)
    }
}
