// Channel rearrangement: ShuffleNet channel shuffle and concatenation along channels.

extension Reference {
    /// ShuffleNet channel shuffle on NHWC `[n, h, w, c]`, same shape out.
    ///
    /// Views the channels as a `[groups, c / groups]` matrix and transposes it to `[c / groups, groups]`
    /// (PyTorch: `x.view(n, g, c/g, h, w).transpose(1, 2).reshape(n, c, h, w)`):
    /// `out[..., j * groups + g] = in[..., g * (c / groups) + j]` for `g < groups`, `j < c / groups`.
    /// Shuffling with `groups` then with `c / groups` restores the input.
    /// - Precondition: `groups >= 1` and `c % groups == 0`.
    public static func channelShuffle(_ x: RefTensor, groups: Int) -> RefTensor {
        precondition(groups >= 1, "Reference.channelShuffle: groups must be >= 1, got \(groups)")
        precondition(x.c % groups == 0,
                     "Reference.channelShuffle: channels \(x.c) not divisible by groups \(groups)")
        let c = x.c
        let perGroup = c / groups
        var out = x
        for p in 0..<(x.count / c) {
            for g in 0..<groups {
                for j in 0..<perGroup {
                    out.data[p * c + j * groups + g] = x.data[p * c + g * perGroup + j]
                }
            }
        }
        return out
    }

    /// Concatenates NHWC tensors along channels: the result is `[n, h, w, sum of c]`, with
    /// `tensors[0]`'s channels first, then `tensors[1]`'s, and so on (PyTorch `torch.cat(dim=1)`).
    /// - Precondition: `tensors` is non-empty and all share `n, h, w`.
    public static func concatChannels(_ tensors: [RefTensor]) -> RefTensor {
        precondition(!tensors.isEmpty, "Reference.concatChannels: no tensors given")
        let first = tensors[0]
        for (k, t) in tensors.enumerated() {
            precondition(t.n == first.n && t.h == first.h && t.w == first.w,
                         "Reference.concatChannels: tensor \(k) has shape \(t.shapeDescription), expected n, h, w of \(first.shapeDescription)")
        }
        let totalC = tensors.reduce(0) { $0 + $1.c }
        let pixels = first.n * first.h * first.w
        var out = [Float](repeating: 0, count: pixels * totalC)
        var offset = 0
        for t in tensors {
            for p in 0..<pixels {
                for ch in 0..<t.c {
                    out[p * totalC + offset + ch] = t.data[p * t.c + ch]
                }
            }
            offset += t.c
        }
        return RefTensor(n: first.n, h: first.h, w: first.w, c: totalC, data: out)
    }
}
