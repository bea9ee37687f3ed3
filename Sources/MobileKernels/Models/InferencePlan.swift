import Foundation

/// A network planned for one batch size and input size: every activation buffer is allocated
/// here, once, and reused by every `predict` (a buffer is handed to a later layer as soon as the
/// last reader of its contents has run). `predict(_:into:threadPool:)` does not allocate.
///
/// A plan serves one caller at a time (concurrent calls on one plan are serialized); make one
/// plan per thread to run a network on several threads at once.
public final class InferencePlan: @unchecked Sendable {
    public let network: Network
    /// `[batch, height, width, 3]`, NHWC.
    public let inputShape: TensorShape
    /// `[batch, 1, 1, classes]`.
    public let outputShape: TensorShape
    /// The bytes of all activation buffers together (the input's included).
    public let peakActivationBytes: Int
    /// What the buffers would take without reuse (each node's output on its own).
    public let unplannedActivationBytes: Int

    private let buffers: [TensorStorage]
    private let steps: [(ThreadPool) throws -> Void]
    /// The node each step runs (for `profile`).
    private let stepNodes: [Int]
    private let inputView: Tensor
    private let outputView: Tensor
    private let lock = NSLock()
    /// Depthwise node -> the expansion node run with it band by band (see ExpandDepthwiseBands).
    private let bandedExpansion: [Int: Int]
    /// The bands' scratch (nil when no step runs in bands).
    private let bandScratch: TensorStorage?
    /// How many steps run an expansion and its depthwise convolution in bands.
    var bandedSteps: Int { bandedExpansion.count }

    /// Expansions whose output is at least this large (half an L2) run in bands with their
    /// depthwise convolution; smaller ones stay in L2 anyway. (Measured at 1 thread: 256 KiB,
    /// 512 KiB and 1 MiB thresholds are within noise of each other; at 2 threads a banded block
    /// is one dispatch instead of two.)
    static let bandedMinimumBytes = 1 << 19

    /// Where a node's output lives: a buffer, the (full) shape stored there, and the node's first
    /// channel in it (nonzero for the second input of a fused concat).
    private struct Location {
        var buffer: Int
        var shape: TensorShape
        var channelOffset: Int
    }

    init(network: Network, batch: Int, height: Int, width: Int,
         bandedMinimumBytes: Int = InferencePlan.bandedMinimumBytes,
         bandBytes: Int = ExpandDepthwiseBands.targetBytes) throws {
        let nodes = network.architecture.nodes
        guard batch >= 1, height >= 1, width >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(network.kind): batch and input size must be at least 1, got \(batch) x \(height) x \(width)")
        }
        let sizes = try network.architecture.featureSizes(height: height, width: width)
        func shape(_ id: Int) throws -> TensorShape {
            try TensorShape(n: batch, h: sizes[id].h, w: sizes[id].w, c: sizes[id].c)
        }
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for node in nodes { for i in node.inputs { consumers[i].append(node.id) } }

        // 0. Expansions that run in bands with the depthwise convolution reading them: their
        //    output never exists whole, so they get no buffer.
        var banded: [Int: Int] = [:]  // depthwise node -> expansion node
        var bands: [Int: ExpandDepthwiseBands] = [:]
        for node in nodes {
            guard case let .conv(layer, _) = network.compiled[node.id], let depthwise = layer as? DepthwiseConv2D,
                  let a = node.inputs.first, case let .conv(producer, _) = network.compiled[a],
                  let expand = producer as? Conv2D, ExpandDepthwiseBands.fits(expand, depthwise),
                  consumers[a] == [node.id], network.fusedInto[a] == nil, network.residualOf[a] == nil,
                  network.fusedInto[node.id] == nil, let source = nodes[a].inputs.first,
                  network.fusedInto[source] == nil else { continue }
            let expanded = try shape(a)
            guard expanded.count * MemoryLayout<Float>.stride >= bandedMinimumBytes else { continue }
            banded[node.id] = a
            bands[node.id] = ExpandDepthwiseBands(expand: expand, depthwise: depthwise, height: expanded.h, width: expanded.w,
                                                 targetBytes: bandBytes)
        }
        let bandedNodes = Set(banded.values)
        // A banded expansion runs in its depthwise node's step: its input is read there, so it
        // must live until then (else the depthwise output may be given the input's buffer, and
        // two threads' chunks then overwrite input rows the other has yet to read).
        for (depthwise, expansion) in banded { consumers[nodes[expansion].inputs[0]].append(depthwise) }

        // 1. Which node's buffer each node writes into (its root), and at which channel.
        var root = Array(0..<nodes.count)
        var offset = [Int](repeating: 0, count: nodes.count)
        var inPlace = [Bool](repeating: false, count: nodes.count)
        for node in nodes {
            let id = node.id
            if let target = network.fusedInto[id] {
                if case .concat = nodes[target].operation {
                    let before = node.inputs.isEmpty ? [] : nodes[target].inputs.prefix { $0 != id }
                    offset[id] = try before.reduce(0) { $0 + (try shape($1)).c }
                }
                root[id] = target  // resolved below: targets come later in node order
                continue
            }
            switch network.compiled[id] {
            case .alias:
                root[id] = root[node.inputs[0]]
            case let .adaptivePool(oh, ow, _, _) where sizes[node.inputs[0]].h == oh && sizes[node.inputs[0]].w == ow:
                root[id] = root[node.inputs[0]]
            case .layer(let layer) where layer is SqueezeExcitation && consumers[node.inputs[0]] == [id]:
                root[id] = root[node.inputs[0]]
                inPlace[id] = true
            default:
                break
            }
        }
        // Fused producers point at a later node: follow the chain to a node that owns a buffer.
        func resolve(_ id: Int) -> Int {
            var r = id
            while root[r] != r { r = root[r] }
            return r
        }
        // A node's root owns a buffer sized for the root's output.
        let roots = (0..<nodes.count).map(resolve)
        var first = [Int](repeating: Int.max, count: nodes.count)  // per root: first writer step
        var last = [Int](repeating: -1, count: nodes.count)        // per root: last reader step
        for id in 0..<nodes.count {
            let r = roots[id]
            first[r] = min(first[r], id)
            last[r] = max(last[r], consumers[id].max() ?? id, id)
        }
        last[roots[nodes.count - 1]] = nodes.count  // the output lives to the end

        // 2. Buffers: best fit from the free list at each root's first step, freed after its last.
        var capacity: [Int] = []
        var bufferOf = [Int](repeating: -1, count: nodes.count)
        var free: [Int] = []
        var unplanned = 0
        for step in 0..<nodes.count {
            for r in 0..<nodes.count where roots[r] == r && first[r] == step {
                let need = try shape(r).count
                unplanned += need
                if bandedNodes.contains(r) { continue }  // exists only band by band, in the scratch
                if let best = free.filter({ capacity[$0] >= need }).min(by: { capacity[$0] < capacity[$1] }) {
                    free.removeAll { $0 == best }
                    bufferOf[r] = best
                } else {
                    bufferOf[r] = capacity.count
                    capacity.append(need)
                }
            }
            for r in 0..<nodes.count where roots[r] == r && last[r] == step && !bandedNodes.contains(r) {
                free.append(bufferOf[r])
            }
        }
        let storages = try capacity.map { try TensorStorage(count: $0, shape: TensorShape(h: 1, w: 1, c: $0)) }
        buffers = storages
        // One scratch per thread of the default pool (at least two, so that a two-thread pool
        // runs chunks of bands on any machine).
        let scratches = max(2, ThreadPool.processorCount)
        let scratchFloats = bands.values.map(\.scratchCount).max() ?? 0
        let scratchCount = scratchFloats * scratches
        let scratch = scratchCount > 0
            ? try TensorStorage(count: scratchCount, shape: TensorShape(h: 1, w: 1, c: scratchCount)) : nil
        func location(_ id: Int) throws -> Location {
            let r = roots[id]
            // An alias (flatten, identity pool, in-place SE) keeps its own shape on its root's memory.
            let own = try shape(id)
            let full = try shape(r)
            let sliced = network.fusedInto[id].map { if case .concat = nodes[$0].operation { return true } else { return false } } ?? false
            return Location(buffer: bufferOf[r], shape: sliced ? full : own, channelOffset: offset[id])
        }
        func view(_ id: Int) throws -> Tensor {
            let l = try location(id)
            return Tensor(shape: l.shape, plannedStorage: storages[l.buffer])
        }

        // 3. Steps.
        var steps: [(ThreadPool) throws -> Void] = []
        var stepNodes: [Int] = []
        for node in nodes {
            let id = node.id
            defer { while stepNodes.count < steps.count { stepNodes.append(id) } }
            switch network.compiled[id] {
            case .input, .alias:
                continue
            case let .conv(layer, _):
                if bandedNodes.contains(id) { continue }  // runs in its depthwise node's bands
                let out = try location(id)
                var output = Tensor(shape: out.shape, plannedStorage: storages[out.buffer])
                if let band = bands[id], let scratch {
                    let input = try view(nodes[banded[id]!].inputs[0])
                    steps.append { pool in
                        try band.forward(input, into: &output, scratch: scratch.pointer, scratches: scratches,
                                         threadPool: pool)
                    }
                    continue
                }
                let input = try view(node.inputs[0])
                if let conv = layer as? Conv2D {
                    // Planned once per thread count (tap offsets, split), on fixed buffers.
                    let residual = try network.residualOf[id].map { try view($0) }
                    let shape = input.shape, outputStride = out.shape.c
                    _ = try conv.outputShape(for: shape)
                    let x = UnsafePointer(input.storage.pointer)
                    let y = output.storage.pointer + out.channelOffset
                    let r = residual.map { UnsafePointer($0.storage.pointer) }
                    var planned: Conv2D.Plan?
                    steps.append { pool in
                        if planned?.threads != pool.threadCount {
                            planned = try conv.plan(batch: shape.n, h: shape.h, w: shape.w, inputStride: shape.c,
                                                    outputStride: outputStride, residualStride: conv.outChannels,
                                                    threadPool: pool)
                        }
                        try conv.run(planned!, input: x, output: y, residual: r, threadPool: pool)
                    }
                } else {
                    steps.append { pool in try layer.forward(input, into: &output, threadPool: pool) }
                }
            case let .layer(layer):
                if case .channelShuffle = node.operation, let source = node.inputs.first,
                   network.fusedInto[source] == id {
                    continue  // the convolution wrote shuffled output
                }
                let input = try view(node.inputs[0])
                let out = try location(id)
                var output = Tensor(shape: out.shape, plannedStorage: storages[out.buffer])
                if inPlace[id], let se = layer as? SqueezeExcitation {
                    steps.append { pool in try se.scale(&output, threadPool: pool) }
                } else if let pool2d = layer as? AvgPool2D, out.channelOffset != 0 || out.shape.c != pool2d.channels {
                    let offset = out.channelOffset
                    steps.append { pool in
                        try pool2d.forward(input, into: &output, outputChannelOffset: offset, threadPool: pool)
                    }
                } else {
                    steps.append { pool in try layer.forward(input, into: &output, threadPool: pool) }
                }
            case let .adaptivePool(oh, ow, channels, variant):
                if roots[id] == roots[node.inputs[0]] { continue }  // identity
                let layer = try AdaptiveAvgPool2D(channels: channels, outputH: oh, outputW: ow, variant: variant)
                let input = try view(node.inputs[0])
                var output = try view(id)
                steps.append { pool in try layer.forward(input, into: &output, threadPool: pool) }
            case let .add(add):
                if node.inputs.contains(where: { network.fusedInto[$0] == id }) { continue }
                let a = try view(node.inputs[0]), b = try view(node.inputs[1])
                var output = try view(id)
                steps.append { pool in try add.forward(a, b, into: &output, threadPool: pool) }
            case let .concat(activation):
                // Inputs that were not fused are copied into their slice (none in the seven models).
                var channel = 0
                for input in node.inputs {
                    let c = try shape(input).c
                    defer { channel += c }
                    if network.fusedInto[input] == id { continue }
                    let source = try view(input)
                    var output = try view(id)
                    let at = channel
                    steps.append { _ in InferencePlan.copySlice(source, into: &output, at: at, activation: activation) }
                }
            }
        }
        self.steps = steps
        self.stepNodes = stepNodes
        self.network = network
        inputShape = try shape(0)
        outputShape = try shape(nodes.count - 1)
        inputView = try view(0)
        outputView = try view(nodes.count - 1)
        bandedExpansion = banded
        bandScratch = scratch
        peakActivationBytes = (capacity.reduce(0, +) + scratchCount) * MemoryLayout<Float>.stride
        unplannedActivationBytes = unplanned * MemoryLayout<Float>.stride
    }

    /// Runs the network on `input` (`inputShape`, NHWC) and writes the logits into `output`
    /// (`outputShape`). Allocates nothing.
    public func predict(_ input: Tensor, into output: inout Tensor, threadPool: ThreadPool = .shared) throws {
        guard input.shape == inputShape else {
            throw MobileKernelsError(.shapeMismatch, "\(network.kind) plan: input \(input.shape), expected \(inputShape) (NHWC; use Tensor(shape:nchw:) for PyTorch's order)")
        }
        guard output.shape == outputShape else {
            throw MobileKernelsError(.shapeMismatch, "\(network.kind) plan: output \(output.shape), expected \(outputShape)")
        }
        lock.lock()
        defer { lock.unlock() }
        input.withUnsafeBufferPointer { src in
            inputView.storage.pointer.update(from: src.baseAddress!, count: src.count)
        }
        for step in steps { try step(threadPool) }
        output.withUnsafeMutableBufferPointer { dst in
            dst.baseAddress!.update(from: outputView.storage.pointer, count: dst.count)
        }
    }

    /// Per node, the median time of its step over `repetitions` runs on `input` (nodes fused into
    /// another node's step, or free, do not appear): where a network's time goes.
    public func profile(_ input: Tensor, threadPool: ThreadPool = .shared, repetitions: Int = 10) throws
        -> [(node: String, milliseconds: Double)] {
        var output = try Tensor(shape: outputShape)
        try predict(input, into: &output, threadPool: threadPool)
        lock.lock()
        defer { lock.unlock() }
        var times = [[Double]](repeating: [], count: steps.count)
        for _ in 0..<max(1, repetitions) {
            for (i, step) in steps.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try step(threadPool)
                times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        var result: [(node: String, milliseconds: Double)] = []
        for (i, t) in times.enumerated() {
            let nodes = network.architecture.nodes
            let node = nodes[stepNodes[i]]
            var label = "\(node.name) \(InferencePlan.describe(node.operation))"
            if let a = bandedExpansion[node.id] {
                label = "\(nodes[a].name) \(InferencePlan.describe(nodes[a].operation)) + \(label) (in bands)"
            }
            result.append((label, t.sorted()[t.count / 2]))
        }
        return result
    }

    static func describe(_ operation: MobileKernels.Operation) -> String {
        switch operation {
        case let .conv(c):
            let kind = c.isDepthwise ? "dw" : (c.groups > 1 ? "gconv g=\(c.groups) " : "conv")
            return "\(kind)\(c.kernelH)x\(c.kernelW)/s\(c.strideH) \(c.inChannels)->\(c.outChannels)"
        case let .linear(l): return "linear \(l.inFeatures)->\(l.outFeatures)"
        default: return "\(operation)".components(separatedBy: "(").first ?? ""
        }
    }

    /// Runs the network on `input` and returns the logits `[batch, 1, 1, classes]`.
    public func predict(_ input: Tensor, threadPool: ThreadPool = .shared) throws -> Tensor {
        var output = try Tensor(shape: outputShape)
        try predict(input, into: &output, threadPool: threadPool)
        return output
    }

    static func copySlice(_ source: Tensor, into output: inout Tensor, at channel: Int, activation: Activation) {
        let c = source.shape.c, stride = output.shape.c
        source.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                for p in 0..<source.shape.pixels {
                    for ch in 0..<c { dst[p * stride + channel + ch] = activation.apply(src[p * c + ch]) }
                }
            }
        }
    }
}

extension Activation {
    /// The activation on one value (the kernels' epilogue order: max, then min; x * relu6(x + 3)
    /// times the float nearest 1/6).
    func apply(_ x: Float) -> Float {
        func clamp(_ v: Float, _ lo: Float, _ hi: Float) -> Float {
            let a = v < lo ? lo : v
            return a > hi ? hi : a
        }
        let sixth: Float = 0x1.555556p-3
        switch self {
        case .none: return x
        case .relu: return x < 0 ? 0 : x
        case .relu6: return clamp(x, 0, 6)
        case .hardswish: return (x * clamp(x + 3, 0, 6)) * sixth
        case .hardsigmoid: return clamp(x + 3, 0, 6) * sixth
        case let .clamp(lo, hi): return clamp(x, lo, hi)
        }
    }
}
