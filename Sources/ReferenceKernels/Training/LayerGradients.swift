// Fully connected, squeeze-and-excitation, channel shuffle, concatenation, flatten and the softmax
// cross-entropy loss, forward and backward, in any precision.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func expDouble(_ v: Double) -> Double { exp(v) }
private func logDouble(_ v: Double) -> Double { log(v) }

extension RefTrain {
    /// `y[b, o] = sum_i x[b, i] * weight[o, i] + bias[o]` on `[n, 1, 1, in]` (weight `[out, in]`,
    /// PyTorch's Linear), summed in `T` from 0 over `i`, then the bias.
    @_specialize(exported: true, where T == Float)
    public static func linear<T>(_ x: RefTensorOf<T>, weight: [T], bias: [T]?, outFeatures: Int) -> RefTensorOf<T> {
        let inFeatures = x.h * x.w * x.c
        precondition(outFeatures >= 1 && weight.count == outFeatures * inFeatures && (bias?.count ?? outFeatures) == outFeatures,
                     "RefTrain.linear: weight \(weight.count) / bias \(bias?.count ?? 0) for \(inFeatures) -> \(outFeatures)")
        var y = RefTensorOf<T>(n: x.n, h: 1, w: 1, c: outFeatures)
        for b in 0..<x.n {
            for o in 0..<outFeatures {
                var acc: T = 0
                for i in 0..<inFeatures { acc += x.data[b * inFeatures + i] * weight[o * inFeatures + i] }
                y.data[b * outFeatures + o] = acc + (bias?[o] ?? 0)
            }
        }
        return y
    }

    /// Linear's gradients: `dx = dy · weight`, `dWeight = dy^T · x` (summed over the batch),
    /// `dBias = sum over the batch of dy`.
    @_specialize(exported: true, where T == Float)
    public static func linearBackward<T>(_ x: RefTensorOf<T>, weight: [T], dy: RefTensorOf<T>)
        -> (dx: RefTensorOf<T>, dWeight: [T], dBias: [T]) {
        let inFeatures = x.h * x.w * x.c, outFeatures = dy.c
        precondition(dy.n == x.n && dy.h == 1 && dy.w == 1 && weight.count == outFeatures * inFeatures,
                     "RefTrain.linearBackward: dy \(dy.shapeDescription), x \(x.shapeDescription), weight \(weight.count)")
        var dx = RefTensorOf<T>(zerosLike: x)
        var dWeight = [T](repeating: 0, count: weight.count)
        for b in 0..<x.n {
            for o in 0..<outFeatures {
                let g = dy.data[b * outFeatures + o]
                for i in 0..<inFeatures {
                    dx.data[b * inFeatures + i] += g * weight[o * inFeatures + i]
                    dWeight[o * inFeatures + i] += g * x.data[b * inFeatures + i]
                }
            }
        }
        return (dx, dWeight, channelSums(dy))
    }

    /// What the squeeze-and-excitation forward keeps: the pooled input `[n, c]`, the first layer's
    /// output before its ReLU and after it `[n, squeeze]`, and the gate's pre-activation and the
    /// gate `[n, c]`.
    public struct SqueezeExcitationSaved<T: BinaryFloatingPoint & Sendable>: Sendable {
        public var pooled: RefTensorOf<T>
        public var hiddenPre: RefTensorOf<T>
        public var hidden: RefTensorOf<T>
        public var gatePre: RefTensorOf<T>
        public var gate: RefTensorOf<T>
    }

    /// The parameters of a squeeze-and-excitation block: fc1 `[squeeze, c]`, fc2 `[c, squeeze]`.
    public struct SqueezeExcitationWeights<T: BinaryFloatingPoint & Sendable>: Sendable {
        public var fc1Weight: [T], fc1Bias: [T], fc2Weight: [T], fc2Bias: [T]
        public init(fc1Weight: [T], fc1Bias: [T], fc2Weight: [T], fc2Bias: [T]) {
            (self.fc1Weight, self.fc1Bias, self.fc2Weight, self.fc2Bias) = (fc1Weight, fc1Bias, fc2Weight, fc2Bias)
        }
    }

    /// torchvision's SqueezeExcitation (as `Reference.squeezeExcitation`): gate =
    /// hardsigmoid(fc2(relu(fc1(mean over pixels of x)))), `y = x * gate` per image and channel.
    @_specialize(exported: true, where T == Float)
    public static func squeezeExcitation<T>(_ x: RefTensorOf<T>, _ p: SqueezeExcitationWeights<T>)
        -> (y: RefTensorOf<T>, saved: SqueezeExcitationSaved<T>) {
        let pooled = adaptiveAvgPool(x, outputH: 1, outputW: 1)
        let hiddenPre = linear(pooled, weight: p.fc1Weight, bias: p.fc1Bias, outFeatures: p.fc1Bias.count)
        let hidden = activation(hiddenPre, .relu)
        let gatePre = linear(hidden, weight: p.fc2Weight, bias: p.fc2Bias, outFeatures: x.c)
        let gate = activation(gatePre, .hardsigmoid)
        var y = x
        for b in 0..<x.n {
            for q in 0..<(x.h * x.w) { for ch in 0..<x.c { y.data[(b * x.h * x.w + q) * x.c + ch] *= gate.data[b * x.c + ch] } }
        }
        return (y, SqueezeExcitationSaved(pooled: pooled, hiddenPre: hiddenPre, hidden: hidden, gatePre: gatePre, gate: gate))
    }

    /// Squeeze-and-excitation's gradients: x reaches the output directly (times the gate) and
    /// through the pooled vector that computes the gate.
    @_specialize(exported: true, where T == Float)
    public static func squeezeExcitationBackward<T>(_ x: RefTensorOf<T>, _ p: SqueezeExcitationWeights<T>,
                                                    saved: SqueezeExcitationSaved<T>, dy: RefTensorOf<T>)
        -> (dx: RefTensorOf<T>, grads: SqueezeExcitationWeights<T>) {
        precondition(dy.hasSameShape(as: x), "RefTrain.squeezeExcitationBackward: dy \(dy.shapeDescription) != x \(x.shapeDescription)")
        let hw = x.h * x.w
        var dx = dy
        var dGate = RefTensorOf<T>(zerosLike: saved.gate)
        for b in 0..<x.n {
            for q in 0..<hw {
                for ch in 0..<x.c {
                    let i = (b * hw + q) * x.c + ch
                    dx.data[i] = dy.data[i] * saved.gate.data[b * x.c + ch]
                    dGate.data[b * x.c + ch] += dy.data[i] * x.data[i]
                }
            }
        }
        let dGatePre = activationBackward(saved.gatePre, .hardsigmoid, dy: dGate)
        let fc2 = linearBackward(saved.hidden, weight: p.fc2Weight, dy: dGatePre)
        let dHiddenPre = activationBackward(saved.hiddenPre, .relu, dy: fc2.dx)
        let fc1 = linearBackward(saved.pooled, weight: p.fc1Weight, dy: dHiddenPre)
        let dPooled = adaptiveAvgPoolBackward(inputShapeOf: x, dy: fc1.dx)
        for i in 0..<dx.data.count { dx.data[i] += dPooled.data[i] }
        return (dx, SqueezeExcitationWeights(fc1Weight: fc1.dWeight, fc1Bias: fc1.dBias, fc2Weight: fc2.dWeight, fc2Bias: fc2.dBias))
    }

    /// The source channel of output channel `j` of a channel shuffle with `groups` (ShuffleNet's
    /// `view(n, g, c/g, h, w).transpose(1, 2)`): output `j * groups + i` is input `i * (c/groups) + j`.
    static func shuffleSource(_ out: Int, channels: Int, groups: Int) -> Int {
        (out % groups) * (channels / groups) + out / groups
    }

    /// Channel shuffle; `inverse: true` is its backward (the inverse permutation).
    @_specialize(exported: true, where T == Float)
    public static func channelShuffle<T>(_ x: RefTensorOf<T>, groups: Int, inverse: Bool = false) -> RefTensorOf<T> {
        precondition(groups >= 1 && x.c % groups == 0, "RefTrain.channelShuffle: \(x.c) channels, groups \(groups)")
        var y = x
        for p in 0..<x.pixels {
            for j in 0..<x.c {
                let s = shuffleSource(j, channels: x.c, groups: groups)
                if inverse { y.data[p * x.c + s] = x.data[p * x.c + j] } else { y.data[p * x.c + j] = x.data[p * x.c + s] }
            }
        }
        return y
    }

    /// Channel concatenation of tensors with equal n, h, w.
    @_specialize(exported: true, where T == Float)
    public static func concatChannels<T>(_ parts: [RefTensorOf<T>]) -> RefTensorOf<T> {
        let first = parts[0], total = parts.reduce(0) { $0 + $1.c }
        var y = RefTensorOf<T>(n: first.n, h: first.h, w: first.w, c: total)
        var offset = 0
        for t in parts {
            precondition(t.n == first.n && t.h == first.h && t.w == first.w, "RefTrain.concatChannels: \(t.shapeDescription)")
            for p in 0..<t.pixels { for ch in 0..<t.c { y.data[p * total + offset + ch] = t.data[p * t.c + ch] } }
            offset += t.c
        }
        return y
    }

    /// Concatenation's backward: `dy` split back into parts of `channels[k]` channels.
    @_specialize(exported: true, where T == Float)
    public static func splitChannels<T>(_ dy: RefTensorOf<T>, channels: [Int]) -> [RefTensorOf<T>] {
        precondition(channels.reduce(0, +) == dy.c, "RefTrain.splitChannels: \(channels) for \(dy.c) channels")
        var offset = 0
        return channels.map { c in
            var part = RefTensorOf<T>(n: dy.n, h: dy.h, w: dy.w, c: c)
            for p in 0..<dy.pixels { for ch in 0..<c { part.data[p * c + ch] = dy.data[p * dy.c + offset + ch] } }
            offset += c
            return part
        }
    }

    /// `[n, h, w, c] -> [n, 1, 1, c * h * w]` in PyTorch's (c, h, w) order; `inverse: true` maps a
    /// gradient of the flat tensor back to `[n, h, w, c]` (pass the unflattened shape's `h, w, c`).
    @_specialize(exported: true, where T == Float)
    public static func flatten<T>(_ x: RefTensorOf<T>, inverse: Bool = false, h: Int = 0, w: Int = 0, c: Int = 0) -> RefTensorOf<T> {
        let (hh, ww, cc) = inverse ? (h, w, c) : (x.h, x.w, x.c)
        precondition(!inverse || (x.h == 1 && x.w == 1 && x.c == h * w * c), "RefTrain.flatten: \(x.shapeDescription) for \(h)x\(w)x\(c)")
        var y = inverse ? RefTensorOf<T>(n: x.n, h: hh, w: ww, c: cc) : RefTensorOf<T>(n: x.n, h: 1, w: 1, c: hh * ww * cc)
        for b in 0..<x.n {
            for q in 0..<(hh * ww) {
                for ch in 0..<cc {
                    let nhwc = (b * hh * ww + q) * cc + ch, chw = b * hh * ww * cc + ch * hh * ww + q
                    if inverse { y.data[nhwc] = x.data[chw] } else { y.data[chw] = x.data[nhwc] }
                }
            }
        }
        return y
    }

    /// PyTorch's `CrossEntropyLoss()` on logits `[n, 1, 1, classes]` and class indices: the mean
    /// over the batch of `logsumexp(z) - z[label]`, with `log_softmax` computed as
    /// `z - max - log(sum exp(z - max))`; the gradient `(softmax(z) - onehot(label)) / n`.
    /// - Precondition: one label per image, each in `0 ..< classes`.
    /// `exp` and `log` are evaluated in Double (more exact than PyTorch's float32, never less).
    @_specialize(exported: true, where T == Float)
    public static func softmaxCrossEntropy<T>(_ z: RefTensorOf<T>, labels: [Int]) -> (loss: T, dLogits: RefTensorOf<T>) {
        func exp(_ v: T) -> T { T(expDouble(Double(v))) }
        func log(_ v: T) -> T { T(logDouble(Double(v))) }
        let k = z.h * z.w * z.c
        precondition(labels.count == z.n, "RefTrain.softmaxCrossEntropy: \(labels.count) labels for \(z.n) images")
        var loss: T = 0
        var dz = z
        for b in 0..<z.n {
            precondition(labels[b] >= 0 && labels[b] < k, "RefTrain.softmaxCrossEntropy: label \(labels[b]) of image \(b) not in 0..<\(k)")
            let row = Array(z.data[(b * k)..<((b + 1) * k)])
            let top = row.max()!
            let sum = row.reduce(T(0)) { $0 + exp($1 - top) }
            let logSum = log(sum)
            loss += -(row[labels[b]] - top - logSum)
            for j in 0..<k {
                dz.data[b * k + j] = (exp(row[j] - top) / sum - (j == labels[b] ? 1 : 0)) / T(z.n)
            }
        }
        return (loss / T(z.n), dz)
    }
}
