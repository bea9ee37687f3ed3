import Foundation

/// An inverted residual block's expansion (1x1 convolution, stride 1) and the depthwise
/// convolution after it, run band by band: the expansion writes a few rows into a scratch buffer
/// that stays in L2, the depthwise convolution turns them into its output rows, and the next band
/// keeps the rows it shares with this one (moved to the scratch's top, not recomputed). The
/// expanded tensor (MobileNetV2's 112x112x96 is 4.8 MB) never goes to memory and back.
///
/// Every output gets the same bits as running the two layers one after the other: each
/// convolution computes an output from the same inputs in the same order whatever the band.
final class ExpandDepthwiseBands: @unchecked Sendable {
    let expand: Conv2D
    let depthwise: DepthwiseConv2D
    /// Output rows of the depthwise convolution per band.
    let bandRows: Int
    /// The expanded rows one band needs at most, and the floats of scratch they take.
    let scratchRows: Int
    let scratchCount: Int
    private let height: Int
    private let width: Int

    /// The scratch of a band is kept near `targetBytes` (a part of a 1 MiB L2, next to the
    /// depthwise output rows and the weights).
    static let targetBytes = 320 * 1024

    /// Whether `expand` -> `depthwise` can run in bands: a plain 1x1 convolution, stride 1, into a
    /// depthwise convolution over all its channels.
    static func fits(_ expand: Conv2D, _ depthwise: DepthwiseConv2D) -> Bool {
        expand.kernelH == 1 && expand.kernelW == 1 && expand.strideH == 1 && expand.strideW == 1 &&
            expand.groups == 1 && !expand.shuffleOutput && expand.padding == .zero &&
            expand.outChannels == depthwise.channels
    }

    init(expand: Conv2D, depthwise: DepthwiseConv2D, height: Int, width: Int,
         targetBytes: Int = ExpandDepthwiseBands.targetBytes) {
        self.expand = expand
        self.depthwise = depthwise
        self.height = height
        self.width = width
        let rowBytes = max(1, width * depthwise.channels * MemoryLayout<Float>.stride)
        let extent = (depthwise.kernelH - 1) * depthwise.dilationH + 1
        let fitting = max(extent, targetBytes / rowBytes)
        bandRows = max(1, (fitting - extent) / depthwise.strideH + 1)
        scratchRows = min(height, (bandRows - 1) * depthwise.strideH + extent)
        scratchCount = scratchRows * width * depthwise.channels
    }

    /// Image rows (inclusive) the depthwise output rows `o0 ..< o1` read, padding aside.
    private func rowsNeeded(_ o0: Int, _ o1: Int) -> (first: Int, last: Int) {
        let d = depthwise
        let first = max(0, o0 * d.strideH - d.padding.top)
        let last = min(height - 1, (o1 - 1) * d.strideH - d.padding.top + (d.kernelH - 1) * d.dilationH)
        return (first, last)
    }

    /// `input` [n, height, width, expand.inChannels] -> `output` [n, oh, ow, channels] through
    /// `scratch` (at least `scratchCount` floats).
    func forward(_ input: Tensor, into output: inout Tensor, scratch: UnsafeMutablePointer<Float>,
                 threadPool: ThreadPool) throws {
        let s = input.shape, o = output.shape
        let c = depthwise.channels
        guard s.h == height, s.w == width, s.c == expand.inChannels, o.c == c, o.n == s.n else {
            throw MobileKernelsError(.shapeMismatch, "banded \(expand.name) -> \(depthwise.name): input \(s), output \(o)")
        }
        let rowFloats = width * c
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                for n in 0..<s.n {
                    var have: (first: Int, last: Int)? = nil  // expanded rows in scratch, from its row 0
                    var o0 = 0
                    while o0 < o.h {
                        let o1 = min(o0 + bandRows, o.h)
                        let need = rowsNeeded(o0, o1)
                        var next = need.first
                        if let h = have, h.last >= need.first {
                            // Rows need.first ... h.last are computed: move them to the top.
                            if need.first > h.first {
                                memmove(scratch, scratch + (need.first - h.first) * rowFloats,
                                        (h.last - need.first + 1) * rowFloats * MemoryLayout<Float>.stride)
                            }
                            next = h.last + 1
                        }
                        if next <= need.last {
                            try expand.forward(batch: 1, h: need.last - next + 1, w: width,
                                               input: x.baseAddress! + ((n * height + next) * width) * s.c,
                                               inputStride: s.c,
                                               output: scratch + (next - need.first) * rowFloats,
                                               outputStride: c, threadPool: threadPool)
                        }
                        have = need
                        try depthwise.forward(inputH: height, inputW: width, firstRow: need.first,
                                              rows: need.last - need.first + 1, input: scratch,
                                              inputStride: c, outputRows: o0..<o1,
                                              output: y.baseAddress! + ((n * o.h + o0) * o.w) * o.c,
                                              outputStride: o.c, threadPool: threadPool)
                        o0 = o1
                    }
                }
            }
        }
    }
}
