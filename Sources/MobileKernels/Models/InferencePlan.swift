import Foundation

/// A network planned for one batch size and input size: every activation buffer is allocated
/// here, once, and used by every `predict` (with `ActivationLifetime.reuse`, a buffer is handed
/// to a later layer as soon as the last reader of its contents has run). The steps hold views of
/// the buffers (which keep them alive). `predict(_:into:threadPool:)` does not allocate.
///
/// A plan serves one caller at a time (concurrent calls on one plan are serialized); make one
/// plan per thread to run a network on several threads at once.
public final class InferencePlan: @unchecked Sendable {
    public let network: Network
    /// `[batch, height, width, 3]`, NHWC.
    public let inputShape: TensorShape
    /// `[batch, 1, 1, classes]`.
    public let outputShape: TensorShape
    /// The bytes of all activation buffers together (the input's included, and a Linear layer's
    /// permuted copy of a flattened input larger than 1x1).
    public let peakActivationBytes: Int
    /// What the buffers would take without reuse (each node's output on its own).
    public let unplannedActivationBytes: Int

    /// How long the plan keeps each node's output.
    public let lifetime: ActivationLifetime

    /// The bytes of the convolutions' scratch memory (Winograd's transformed tiles), one
    /// buffer that all steps share: planned for one thread, it grows when the plan first runs on
    /// a pool of more threads.
    public var workspaceBytes: Int { lock.withLock { workspace.bytes } }
    private let workspace: Conv2D.Workspace

    private let steps: [(ThreadPool) throws -> Void]
    /// The node each step runs (for `profile`).
    private let stepNodes: [Int]
    private let inputView: TensorView
    private let outputView: TensorView
    /// Every node's output in the buffers (nil for an expansion that runs in bands): after
    /// `predict` under `.keepAll`, what each node computed (int8 calibration reads them).
    let nodeViews: [TensorView?]
    private let lock = NSLock()
    /// Depthwise node -> the expansion node run with it band by band (see ExpandDepthwiseBands).
    private let bandedExpansion: [Int: Int]
    /// How many steps run an expansion and its depthwise convolution in bands.
    var bandedSteps: Int { bandedExpansion.count }

    /// Expansions whose output is at least this large run in bands with their depthwise
    /// convolution; smaller ones stay in the caches anyway. (Measured at 1 thread: 256 KiB,
    /// 512 KiB and 1 MiB thresholds are within noise of each other. At 2 threads the 14x14x672
    /// expansions of MobileNetV3-Large (527 KiB) ran better unbanded, where each layer splits
    /// over many pixels or channels instead of a few bands: 1 MiB made V3-Large 7% and
    /// MobileNetV1 5% faster at 2 threads, 1 thread unchanged, on a Zen 2.)
    static let bandedMinimumBytes = 1 << 20

    /// Plans in three passes: the bands (the one fusion that depends on the input size; the
    /// others were compiled into the network, see `Fusion`), the buffers (`BufferPlan`, per
    /// `lifetime`), then the steps.
    init(network: Network, batch: Int, height: Int, width: Int, lifetime: ActivationLifetime = .reuse,
         bandedMinimumBytes: Int = InferencePlan.bandedMinimumBytes,
         bandBytes: Int = ExpandDepthwiseBands.targetBytes) throws {
        let nodes = network.architecture.nodes
        guard batch >= 1, height >= 1, width >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(network.kind): batch and input size must be at least 1, got \(batch) x \(height) x \(width)")
        }
        let shapes = try network.architecture.featureSizes(height: height, width: width).map {
            try TensorShape(n: batch, h: $0.h, w: $0.w, c: $0.c)
        }
        // Bands keep no expanded tensor, which a plan that keeps every activation needs.
        let bands = try network.fusion.bands(network, shapes: shapes,
                                             minimumBytes: lifetime == .keepAll ? Int.max : bandedMinimumBytes,
                                             bandBytes: bandBytes)
        let layout = BufferPlan(nodes, network.fusion, shapes: shapes, banded: bands.mapValues(\.expansion), lifetime: lifetime)
        let storages = try layout.capacities.map { try TensorStorage(count: $0, shape: TensorShape(h: 1, w: 1, c: $0)) }
        // One scratch per thread of the default pool (at least two, so that a two-thread pool
        // runs chunks of bands on any machine).
        let scratches = max(2, ThreadPool.processorCount)
        let scratchCount = (bands.values.map(\.bands.scratchCount).max() ?? 0) * scratches
        let scratch = scratchCount > 0
            ? try TensorStorage(count: scratchCount, shape: TensorShape(h: 1, w: 1, c: scratchCount)) : nil
        func view(_ id: Int) -> TensorView {
            let l = layout.locations[id]!
            return TensorView(storage: storages[l.buffer], shape: l.shape, channelOffset: l.channelOffset,
                              pixelStride: l.pixelStride)
        }
        var linearBytes = 0
        let workspace = Conv2D.Workspace()
        let steps = try InferencePlan.steps(network, shapes: shapes, layout: layout, view: view, bands: bands.mapValues(\.bands),
                                            scratch: scratch.map { ($0, scratches) }, workspace: workspace,
                                            linearBytes: &linearBytes)
        self.workspace = workspace
        self.steps = steps.map(\.run)
        stepNodes = steps.map(\.node)
        self.network = network
        self.lifetime = lifetime
        inputShape = shapes[0]
        outputShape = shapes[nodes.count - 1]
        inputView = view(0)
        outputView = view(nodes.count - 1)
        nodeViews = nodes.map { layout.locations[$0.id] != nil ? view($0.id) : nil }
        bandedExpansion = bands.mapValues(\.expansion)
        peakActivationBytes = (layout.capacities.reduce(0, +) + scratchCount) * MemoryLayout<Float>.stride + linearBytes
        unplannedActivationBytes = layout.unplannedCount * MemoryLayout<Float>.stride + linearBytes
    }

    /// The steps, in node order, each with the node it runs: nothing for the input, identities
    /// and nodes a producer fused into them did the work of; a banded expansion runs in its
    /// depthwise node's step. `view(id)` is node `id`'s output in the plan's buffers.
    private static func steps(_ network: Network, shapes: [TensorShape], layout: BufferPlan, view: (Int) -> TensorView,
                              bands: [Int: ExpandDepthwiseBands],
                              scratch: (storage: TensorStorage, count: Int)?, workspace: Conv2D.Workspace,
                              linearBytes: inout Int) throws
        -> [(node: Int, run: (ThreadPool) throws -> Void)] {
        let nodes = network.architecture.nodes
        let fusion = network.fusion
        var steps: [(node: Int, run: (ThreadPool) throws -> Void)] = []
        for node in nodes {
            let id = node.id
            if layout.identities.contains(id) || fusion.isDoneByProducer(id, nodes) { continue }
            switch network.compiled[id] {
            case .input, .alias:
                continue
            case let .conv(conv):
                guard layout.locations[id] != nil else { continue }  // banded: runs in its depthwise node's step
                // Planned once per thread count (tap offsets, split), on fixed buffers.
                let step = try Conv2D.Step(conv, input: view(node.inputs[0]), residual: fusion.residualOf[id].map(view),
                                           output: view(id), workspace: workspace)
                steps.append((id, step.run))
            case let .depthwise(depthwise):
                let output = view(id)
                if let band = bands[id], let scratch {
                    let input = view(nodes[node.inputs[0]].inputs[0])
                    steps.append((id, { pool in
                        try band.forward(input, into: output, scratch: scratch.storage.pointer, scratches: scratch.count,
                                         threadPool: pool)
                    }))
                } else {
                    let input = view(node.inputs[0])
                    steps.append((id, { pool in try depthwise.forward(input, into: output, threadPool: pool) }))
                }
            case let .linear(linear):
                let source = nodes[node.inputs[0]]
                var flattened: TensorView? = nil
                if case .flatten = source.operation { flattened = view(source.inputs[0]) }
                let step = try linear.step(input: view(node.inputs[0]), flattened: flattened, output: view(id),
                                           workspace: workspace)
                steps.append((id, step.run))
                linearBytes += step.bytes
            case let .layer(layer):
                let input = view(node.inputs[0]), output = view(id)
                steps.append((id, { pool in try layer.forward(input, into: output, threadPool: pool) }))
            case let .add(add):
                let a = view(node.inputs[0]), b = view(node.inputs[1]), output = view(id)
                steps.append((id, { pool in try add.forward(a, b, into: output, threadPool: pool) }))
            case let .concat(copies):
                // Inputs not fused into their slice are copied into it with the concat's
                // activation (none in the seven models).
                let output = view(id)
                var channel = 0
                for (input, copy) in zip(node.inputs, copies) {
                    defer { channel += shapes[input].c }
                    guard let copy else { continue }
                    let source = view(input)
                    let slice = TensorView(storage: output.storage, shape: shapes[input],
                                           channelOffset: output.channelOffset + channel, pixelStride: output.pixelStride)
                    steps.append((id, { pool in try copy.forward(source, into: slice, threadPool: pool) }))
                }
            }
        }
        return steps
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
            inputView.pointer.update(from: src.baseAddress!, count: src.count)
        }
        for step in steps { try step(threadPool) }
        output.withUnsafeMutableBufferPointer { dst in
            dst.baseAddress!.update(from: outputView.pointer, count: dst.count)
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
}
