internal import CKernels
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
    /// The floats of scratch one band's expanded rows take at most.
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
        scratchCount = min(height, (bandRows - 1) * depthwise.strideH + extent) * width * depthwise.channels
    }

    /// `input` [n, height, width, expand.inChannels] -> `output` [n, oh, ow, channels] (views:
    /// any pixel strides) through `scratches` scratch buffers of `scratchCount` floats each, one
    /// after the other at `scratch`. With one thread, or more threads than scratches, the bands
    /// run one after the other and each layer splits a band over the threads; otherwise the
    /// threads take chunks of output rows, each running its own bands (one dispatch per block
    /// instead of two per band).
    func forward(_ input: TensorView, into output: TensorView, scratch: UnsafeMutablePointer<Float>,
                 scratches: Int, threadPool: ThreadPool) throws {
        let s = input.shape, o = output.shape
        let want = try depthwise.outputShape(for: TensorShape(n: s.n, h: height, w: width, c: depthwise.channels))
        guard s.h == height, s.w == width, s.c == expand.inChannels, o == want else {
            throw MobileKernelsError(.shapeMismatch, "banded \(expand.name) -> \(depthwise.name): input \(input), output \(output)")
        }
        let threads = threadPool.threadCount
        guard threads > 1, scratches >= threads else {
            for n in 0..<s.n {
                try run(image: n, rows: 0..<o.h, input: input, output: output, scratch: scratch, threadPool: threadPool)
            }
            return
        }
        // Chunks of at least a band; a chunk recomputes the expanded rows it shares with the
        // chunk before (never more than kernel - stride rows).
        let chunks = min(2 * threads, max(1, o.h / bandRows))
        call = Call(input: input, output: output, scratch: scratch, chunks: chunks, error: nil)
        defer { call = nil }
        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(mk_threadpool_parallelize_1d(threadPool.handle, { context, thread, start, count in
            let bands = Unmanaged<ExpandDepthwiseBands>.fromOpaque(context!).takeUnretainedValue()
            bands.runChunks(thread: thread, items: start..<(start + count))
        }, context, s.n * chunks, 1), "banded \(expand.name)")
        if let error = call?.error { throw error }
    }

    /// One parallel call's operands (the plan runs one call at a time).
    private struct Call {
        var input: TensorView
        var output: TensorView
        var scratch: UnsafeMutablePointer<Float>
        var chunks: Int
        var error: Error?
    }
    private var call: Call?
    private let errorLock = NSLock()

    private func runChunks(thread: Int, items: Range<Int>) {
        guard let c = call else { return }
        for item in items {
            let n = item / c.chunks, chunk = item % c.chunks
            let rows = (c.output.shape.h * chunk / c.chunks)..<(c.output.shape.h * (chunk + 1) / c.chunks)
            do {
                try run(image: n, rows: rows, input: c.input, output: c.output,
                        scratch: c.scratch + thread * scratchCount, threadPool: .serial)
            } catch {
                errorLock.lock()
                if call?.error == nil { call?.error = error }
                errorLock.unlock()
            }
        }
    }

    /// Output rows `rows` of image `n`, band by band, through `scratch`.
    private func run(image n: Int, rows: Range<Int>, input: TensorView, output: TensorView,
                     scratch: UnsafeMutablePointer<Float>, threadPool: ThreadPool) throws {
        let o = output.shape
        let c = depthwise.channels
        let rowFloats = width * c
        var have: Range<Int>? = nil  // image rows of the expanded rows in scratch, from its row 0
        var o0 = rows.lowerBound
        while o0 < rows.upperBound {
            let o1 = min(o0 + bandRows, rows.upperBound)
            let need = try depthwise.inputRows(inputH: height, outputRows: o0..<o1)
            var next = need.lowerBound
            if let h = have, h.upperBound > need.lowerBound {
                // Rows need.lowerBound ..< h.upperBound are computed already: move them to the top.
                if need.lowerBound > h.lowerBound {
                    memmove(scratch, scratch + (need.lowerBound - h.lowerBound) * rowFloats,
                            (h.upperBound - need.lowerBound) * rowFloats * MemoryLayout<Float>.stride)
                }
                next = h.upperBound
            }
            if next < need.upperBound {
                try expand.forward(batch: 1, h: need.upperBound - next, w: width,
                                   input: input.pointer + ((n * height + next) * width) * input.pixelStride,
                                   inputStride: input.pixelStride,
                                   output: scratch + (next - need.lowerBound) * rowFloats, outputStride: c,
                                   threadPool: threadPool)
            }
            have = need
            try depthwise.forward(inputH: height, inputW: width, firstRow: need.lowerBound,
                                  rows: need.count, input: scratch, inputStride: c,
                                  outputRows: o0..<o1, output: output.pointer + ((n * o.h + o0) * o.w) * output.pixelStride,
                                  outputStride: output.pixelStride, threadPool: threadPool)
            o0 = o1
        }
    }
}
