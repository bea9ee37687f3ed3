import Foundation
internal import CKernels

/// One training step of a network on our kernels, as PyTorch's `model.train()` computes it (the
/// Dropout modules on our own seeded masks, or off): a forward with BatchNorm on the batch's statistics (not folded)
/// that keeps what the backward needs, the mean softmax cross-entropy against the labels, and a
/// backward that yields the gradient of every learnable parameter under its state_dict name.
///
/// Planned for one batch size and image size: every activation, saved tensor and gradient
/// buffer is allocated once, at init, and the layers hold their packed weights (Linear layers read
/// the parameter buffer itself: `LinearTraining`). What each node
/// keeps and which kernel runs its backward:
///
/// - convolution + BatchNorm + activation: the convolution's output (BatchNorm recomputes its
///   normalized value and the activation's input from it); backward `BatchNormTraining` (the
///   activation fused), then `ConvWeightGradient` or `DepthwiseConv2DBackward` for the weights
///   and `ConvInputGradient` (stride 1) or the depthwise gather (stride 2) for the input;
/// - convolution or Linear with bias and ReLU: the output (ReLU's gradient reads it);
/// - max pooling: the index of each maximum; average, adaptive and global pooling: nothing;
/// - add, concat (activation fused), channel shuffle (backward: a shuffle with C / g groups),
///   flatten (backward: the inverse permutation);
/// - a Linear's Dropout (`LinearSpec.dropout`, on when the step is given a seed): the input
///   after it (the weight gradient reads it); its mask is recomputed from the seed in the
///   backward, not stored;
/// - squeeze-and-excitation: its pooled means and the two layers' outputs before their
///   activations (`SqueezeExcitation.trainingForward` / `backward`).
///
/// The loss is `SoftmaxCrossEntropy`. The gradient of the network's input is not computed (so a
/// dense stride-2 convolution may only read the image, as every one in the seven networks does).
public final class TrainingPlan: @unchecked Sendable {
    public let architecture: Architecture
    public let batch: Int, height: Int, width: Int
    public let variant: Variant

    private let parameters: [String: [Float]]
    private let sizes: [FeatureSize]
    private var steps: [Step] = []
    /// Each node's output, its gradient (summed over its consumers), and, for a node that is
    /// not its input's only consumer, a scratch of the input's shape for the gradient it sends
    /// back before adding it in.
    private var outputs: [Tensor]
    private var outputGradients: [Tensor]
    private var inputScratch: [Tensor?]
    /// Saved forward tensors: a convolution's pre-BatchNorm output or an activation's input.
    private var saved: [Tensor?]
    /// The gradient at a node's pre-activation (its own shape).
    private var preGradients: [Tensor?]
    private var statistics: [BatchNormTraining.Statistics?]
    private var indices: [[Int32]]
    /// What each squeeze-and-excitation keeps for its backward (`SqueezeExcitation.savedCount`).
    private var seSaved: [UnsafeMutableBufferPointer<Float>?] = []
    /// Whether a node writes its input's gradient directly (it is that input's only consumer
    /// and not an add or concat), and whether a node's gradient is summed over its consumers
    /// (the first one's copied in, the others' added; `gradientWritten` tells which this step).
    private var direct: [Bool] = []
    private var summed: [Bool] = []
    private var gradientWritten: [Bool] = []
    /// For a node whose only consumer is an add: that add. The node's output gradient is the
    /// add's (after the add's activation gradient), read from the add's buffer, not copied.
    private var gradientAlias: [Int?] = []
    /// The adds that sum gradients and the copies that start the sums, one per channel count.
    private var adders: [Int: Add] = [:]
    private var copiers: [Int: BiasActivation] = [:]
    /// A Linear's Dropout (torchvision's classifiers) and its input after it, for the steps that
    /// ask for dropout; the seed of the running step (nil: dropout off, as in eval mode).
    private var dropouts: [Dropout?] = []
    private var dropped: [Tensor?] = []
    private var dropoutSeed: UInt64?
    /// Every learnable parameter's gradient (state_dict order), in one planned buffer; the
    /// parameters themselves in another of the same layout.
    public let gradientNames: [String]
    private let gradientRanges: [String: Range<Int>]
    private let gradientBuffer: UnsafeMutableBufferPointer<Float>
    private let parameterBuffer: UnsafeMutableBufferPointer<Float>
    /// Where a parameter update transposes a convolution's weights for its input-gradient layer:
    /// one per thread of the largest pool `repackParameters` has run on, `transposeFloats` each
    /// (the largest weights that are transposed; 1x1 layers pack straight from the forward's).
    private var transposeScratch: [UnsafeMutableBufferPointer<Float>] = []
    private var transposeFloats = 1
    /// `repackParameters`' work: one item per layer copy to pack, the most expensive first (each
    /// thread starts on its share of the list and then takes others' items, so the order only
    /// roughly balances the threads); the error of a parallel repack.
    private var repackJobs: [(node: Int, inputGradient: Bool)] = []
    private var repackError: Error?
    private let repackErrorLock = NSLock()
    /// Each BatchNorm's module prefix, and the activation layers that follow a saved
    /// pre-activation (made once).
    private var batchNormPrefixes: [String?] = []
    /// Each BatchNorm's running statistics (PyTorch's running_mean, running_var and
    /// num_batches_tracked; empty for other nodes), updated by `updateRunningStatistics`.
    private var runningMeans: [[Float]] = [], runningVars: [[Float]] = []
    private var batchesTracked: [Int] = []
    /// Each BatchNorm's gamma and beta keys (built once: `BatchNormSpec` composes them per call).
    private var batchNormKeys: [(gamma: String, beta: String)?] = []
    /// Each squeeze-and-excitation block's weights and gradient keys (fc1 w, b, fc2 w, b).
    private var seKeys: [[String]?] = []
    private var activationLayers: [BiasActivation?] = []

    /// What a node runs.
    private enum Step {
        case input
        case conv(ConvStep)
        case maxPool(PoolingBackward)
        case pool(forward: any Layer, backward: PoolingBackward)
        case flatten
        case linear(ConvStep)
        case squeezeExcitation(SqueezeExcitation)
        case shuffle(forward: ChannelShuffle, backward: ChannelShuffle)
        case add(Add, activation: ActivationBackward?)
        case concat(copy: [BiasActivation], activation: BiasActivation?, backward: ActivationBackward?)
    }

    private struct ConvStep {
        let spec: ConvSpec
        /// nil for a Linear layer that `linear` computes.
        let forward: (any Layer)?
        /// BatchNorm (activation fused) or, without it, the activation's gradient (nil: none).
        let batchNorm: BatchNormTraining?
        let activationBackward: ActivationBackward?
        /// Stride-1 input gradient (a forward convolution), or the depthwise backward.
        let inputGradient: (any Layer)?
        let depthwise: DepthwiseConv2DBackward?
        /// A Linear layer's forward and input gradient on the parameters themselves (no packed
        /// copies: `forward` and `inputGradient` are nil), unless the variant is `.blis`.
        var linear: LinearTraining? = nil
    }

    /// Plans `architecture` for `batch` images of `height` x `width` with the parameters of
    /// `weights` (every state_dict tensor the architecture names).
    /// - Throws: the errors of `WeightSource.parameters(of:)` for missing or misshaped weights;
    ///   `.invalidArgument` for an image too small for the network or a BatchNorm that would see
    ///   one value per channel; `.unsupported` for a strided dense convolution that does not read
    ///   the image, or a variant this CPU lacks.
    public init(_ architecture: Architecture, weights: WeightSource, batch: Int, height: Int, width: Int,
                variant: Variant = .auto) throws {
        guard batch >= 1 else { throw MobileKernelsError(.invalidArgument, "TrainingPlan: batch must be at least 1") }
        self.architecture = architecture
        (self.batch, self.height, self.width, self.variant) = (batch, height, width, variant)
        parameters = try weights.parameters(of: architecture)
        var names: [String] = [], ranges: [String: Range<Int>] = [:], total = 0
        for (name, shape) in architecture.parameters()
        where !name.hasSuffix(".running_mean") && !name.hasSuffix(".running_var") && !name.hasSuffix(".num_batches_tracked") {
            let count = shape.reduce(1, *)
            names.append(name)
            ranges[name] = total..<(total + count)
            total += count
        }
        (gradientNames, gradientRanges) = (names, ranges)
        // Everything that can throw before the object is whole comes first: the buffers below
        // are freed by deinit, which does not run for an object that never was.
        for name in names {
            guard let values = parameters[name], values.count == ranges[name]!.count else {
                throw MobileKernelsError(.invalidArgument, "TrainingPlan: parameter \(name) missing or misshaped")
            }
        }
        let sizes = try architecture.featureSizes(height: height, width: width)
        self.sizes = sizes
        let nodes = architecture.nodes
        func shape(_ id: Int) throws -> TensorShape { try TensorShape(n: batch, h: sizes[id].h, w: sizes[id].w, c: sizes[id].c) }
        outputs = try nodes.map { try Tensor(shape: shape($0.id)) }
        outputGradients = try nodes.map { try Tensor(shape: shape($0.id)) }
        inputScratch = try nodes.map { node in try node.inputs.first.map { try Tensor(shape: shape($0)) } }
        gradientBuffer = .allocate(capacity: max(total, 1))
        gradientBuffer.initialize(repeating: 0)
        parameterBuffer = .allocate(capacity: max(total, 1))
        parameterBuffer.initialize(repeating: 0)
        for name in names {
            _ = UnsafeMutableBufferPointer(rebasing: parameterBuffer[ranges[name]!]).update(fromContentsOf: parameters[name]!)
        }
        saved = Array(repeating: nil, count: nodes.count)
        preGradients = Array(repeating: nil, count: nodes.count)
        statistics = Array(repeating: nil, count: nodes.count)
        indices = Array(repeating: [], count: nodes.count)
        seSaved = Array(repeating: nil, count: nodes.count)
        for node in nodes {
            steps.append(try makeStep(node, shape: shape))
        }
        dropouts = try nodes.map { node in
            guard case let .linear(l) = node.operation, l.dropout > 0 else { return nil }
            return try Dropout(probability: l.dropout)
        }
        dropped = try nodes.map { node in dropouts[node.id] == nil ? nil : try Tensor(shape: shape(node.inputs[0])) }
        batchNormPrefixes = nodes.map { node in
            if case let .conv(c) = node.operation { return c.batchNorm?.prefix }
            return nil
        }
        seKeys = nodes.map { node in
            guard case let .squeezeExcitation(se) = node.operation else { return nil }
            return [se.fc1WeightKey, se.fc1BiasKey, se.fc2WeightKey, se.fc2BiasKey]
        }
        // The adds that sum gradients, for every channel count (made here, not in a step).
        for c in Set(sizes.map(\.c)) {
            adders[c] = try Add(channels: c, variant: variant)
            copiers[c] = try BiasActivation(channels: c, activation: .none, variant: variant)
        }
        batchNormKeys = nodes.map { node in
            if case let .conv(c) = node.operation, let bn = c.batchNorm { return (bn.weightKey, bn.biasKey) }
            return nil
        }
        runningMeans = Array(repeating: [], count: nodes.count)
        runningVars = Array(repeating: [], count: nodes.count)
        batchesTracked = Array(repeating: 0, count: nodes.count)
        for node in nodes {
            if case let .conv(c) = node.operation, let bn = c.batchNorm {
                let zeros = [Float](repeating: 0, count: bn.channels)
                statistics[node.id] = BatchNormTraining.Statistics(mean: zeros, variance: zeros, invStd: zeros, count: 0)
                // From the weights when they hold them (a checkpoint), else PyTorch's initial values.
                let mean = parameters[bn.runningMeanKey], variance = parameters[bn.runningVarKey]
                runningMeans[node.id] = mean?.count == bn.channels ? mean! : zeros
                runningVars[node.id] = variance?.count == bn.channels ? variance! : [Float](repeating: 1, count: bn.channels)
                // I64 as PyTorch (and `Trainer.save`) write it, or F32 as older checkpoints of ours; 0 when absent.
                let tracked = try weights.lookup(bn.prefix + ".num_batches_tracked")?.values.first ?? 0
                guard tracked.isFinite, tracked >= 0, tracked < 1e15 else {
                    throw MobileKernelsError(.invalidArgument, "TrainingPlan: \(bn.prefix).num_batches_tracked is \(tracked), not a count")
                }
                batchesTracked[node.id] = Int(tracked)
            }
        }
        activationLayers = try nodes.map { node in
            guard saved[node.id] != nil, batchNormPrefixes[node.id] == nil else { return nil }
            return try BiasActivation(channels: sizes[node.id].c, activation: activation(of: node), variant: variant)
        }
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for node in nodes { for input in node.inputs { consumers[input].append(node.id) } }
        direct = nodes.map { node in
            guard let first = node.inputs.first, consumers[first] == [node.id] else { return false }
            switch node.operation {
            case .conv, .linear, .maxPool, .avgPool, .adaptiveAvgPool, .globalAveragePool, .channelShuffle, .squeezeExcitation: return true
            default: return false
            }
        }
        gradientAlias = nodes.map { node in
            guard node.id > 0, consumers[node.id].count == 1, case .add = steps[consumers[node.id][0]] else { return nil }
            return consumers[node.id][0]
        }
        summed = nodes.map { node in
            let users = consumers[node.id]
            return gradientAlias[node.id] == nil && !(users.count == 1 && direct[users[0]])
        }
        gradientWritten = Array(repeating: false, count: nodes.count)
        // An aliased node's own gradient buffer is never used: a placeholder instead.
        for id in nodes.indices where gradientAlias[id] != nil { outputGradients[id] = try Tensor(shape: TensorShape(n: 1, h: 1, w: 1, c: 1)) }
        for id in nodes.indices where direct[id] { inputScratch[id] = nil }
        // The repack's items, by the floats each writes (a Winograd layer's 36 points count
        // 4 times its weights), and the transpose scratch's size.
        var jobs: [(cost: Int, job: (node: Int, inputGradient: Bool))] = []
        for node in nodes {
            switch steps[node.id] {
            case let .conv(step), let .linear(step):
                // A Linear layer computed by `LinearTraining` reads the parameters themselves.
                guard step.linear == nil else { break }
                let count = step.spec.outChannels * (step.spec.inChannels / step.spec.groups) * step.spec.kernelH * step.spec.kernelW
                let winograd = (step.forward as? Conv2D)?.algorithm == .winograd
                jobs.append((winograd ? 4 * count : count, (node.id, false)))
                if let layer = step.inputGradient {
                    let transposed = step.spec.kernelH == 1 && step.spec.kernelW == 1 && step.spec.groups == 1
                        && (layer as? Conv2D)?.acceptsTransposedWeights == true
                    if !transposed { transposeFloats = max(transposeFloats, count) }
                    jobs.append(((layer as? Conv2D)?.algorithm == .winograd ? 4 * count : count, (node.id, true)))
                } else if step.depthwise != nil {
                    jobs.append((count, (node.id, true)))
                }
            case .squeezeExcitation:
                let keys = seKeys[node.id]!
                jobs.append((keys.reduce(0) { $0 + (gradientRanges[$1]?.count ?? 0) }, (node.id, false)))
            default:
                break
            }
        }
        // Stable: equal costs keep the network's order.
        repackJobs = jobs.enumerated().sorted { ($0.element.cost, -$0.offset) > ($1.element.cost, -$1.offset) }.map(\.element.job)
        transposeScratch = [.allocate(capacity: transposeFloats)]
        transposeScratch[0].initialize(repeating: 0)
    }

    deinit {
        gradientBuffer.deallocate()
        parameterBuffer.deallocate()
        for scratch in transposeScratch { scratch.deallocate() }
        for keep in seSaved { keep?.deallocate() }
    }

    /// The planned gradient buffer of parameter `name`.
    private func slot(_ name: String) throws -> UnsafeMutableBufferPointer<Float> {
        guard let range = gradientRanges[name] else {
            throw MobileKernelsError(.invalidArgument, "TrainingPlan: no gradient named \(name)")
        }
        return UnsafeMutableBufferPointer(rebasing: gradientBuffer[range])
    }

    /// The planned buffer of parameter `name` (read by the BatchNorms every step).
    private func weights(_ name: String) throws -> UnsafeBufferPointer<Float> {
        guard let range = gradientRanges[name] else {
            throw MobileKernelsError(.invalidArgument, "TrainingPlan: no parameter named \(name)")
        }
        return UnsafeBufferPointer(rebasing: parameterBuffer[range])
    }

    /// The current value of learnable parameter `name` (a state_dict key), in PyTorch's layout;
    /// nil for a name that is not a learnable parameter.
    public func parameter(_ name: String) -> [Float]? {
        gradientRanges[name].map { Array(parameterBuffer[$0]) }
    }

    /// Where parameter `name` (and its gradient) lies in the buffers `withParameters` and
    /// `withGradients` give (state_dict order, `gradientNames`).
    public func parameterRange(_ name: String) -> Range<Int>? { gradientRanges[name] }

    /// Calls `body` with every learnable parameter, in one buffer (state_dict order; ranges by
    /// `parameterRange`), and every gradient from the last `run` in a buffer of the same layout:
    /// what an optimizer updates. After changing the parameters, call `repackParameters()`
    /// before the next step.
    public func withParameters<R>(_ body: (_ parameters: UnsafeMutableBufferPointer<Float>,
                                           _ gradients: UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(parameterBuffer, UnsafeBufferPointer(gradientBuffer))
    }

    /// Packs the parameters `withParameters` changed into every layer that holds a copy (the
    /// convolutions, their input-gradient layers, the squeeze-and-excitations; the BatchNorms
    /// read the buffer itself), without allocating. The next step computes what a plan made with
    /// these parameters would.
    public func repackParameters(threadPool: ThreadPool = .shared) throws {
        // One transpose scratch per thread (allocated the first time a pool this large is used).
        while transposeScratch.count < threadPool.threadCount {
            let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: transposeFloats)
            scratch.initialize(repeating: 0)
            transposeScratch.append(scratch)
        }
        guard threadPool.threadCount > 1 else {
            for job in repackJobs { try repack(job, scratch: transposeScratch[0]) }
            return
        }
        // The layers are independent: each item packs one layer's copy, whichever thread runs it.
        repackError = nil
        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(mk_threadpool_parallelize_1d(threadPool.handle, { context, thread, start, count in
            let plan = Unmanaged<TrainingPlan>.fromOpaque(context!).takeUnretainedValue()
            for i in start..<(start + count) {
                do {
                    try plan.repack(plan.repackJobs[i], scratch: plan.transposeScratch[thread])
                } catch {
                    plan.repackErrorLock.lock()
                    if plan.repackError == nil { plan.repackError = error }
                    plan.repackErrorLock.unlock()
                }
            }
        }, context, repackJobs.count, 1), "TrainingPlan.repackParameters")
        if let error = repackError { throw error }
    }

    /// Packs one item of `repackJobs`: a node's forward layer (or its squeeze-and-excitation),
    /// or its input-gradient layer and depthwise backward.
    private func repack(_ job: (node: Int, inputGradient: Bool), scratch: UnsafeMutableBufferPointer<Float>) throws {
        switch steps[job.node] {
        case let .conv(step), let .linear(step):
            let spec = step.spec
            let w = try weights(spec.weightKey)
            if !job.inputGradient {
                let b = try spec.biasKey.map(weights)
                if let conv = step.forward as? Conv2D {
                    try conv.setWeights(w, bias: b)
                } else if let depthwise = step.forward as? DepthwiseConv2D {
                    try depthwise.setWeights(w, bias: b)
                }
                return
            }
            if let layer = step.inputGradient {
                try ConvInputGradient.setWeights(layer, weights: w, inChannels: spec.inChannels, outChannels: spec.outChannels,
                                                 kernelH: spec.kernelH, kernelW: spec.kernelW, groups: spec.groups, scratch: scratch)
            }
            try step.depthwise?.setWeights(w)
        case let .squeezeExcitation(layer):
            let keys = seKeys[job.node]!
            try layer.setWeights(fc1Weight: try weights(keys[0]), fc1Bias: try weights(keys[1]),
                                 fc2Weight: try weights(keys[2]), fc2Bias: try weights(keys[3]))
        default:
            break
        }
    }

    /// The gradient of parameter `name` (a state_dict key) from the last `run` or `step`, in
    /// PyTorch's layout; nil for a name that is not a learnable parameter.
    public func gradient(_ name: String) -> [Float]? {
        gradientRanges[name].map { Array(gradientBuffer[$0]) }
    }

    /// Calls `body` with the planned gradient of every parameter, by name, without copying
    /// them (valid until the next `run` or `step`).
    public func withGradients<R>(_ body: ([String: UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
        try body(gradientRanges.mapValues { UnsafeBufferPointer(rebasing: gradientBuffer[$0]) })
    }

    private func param(_ key: String) throws -> [Float] {
        guard let p = parameters[key] else { throw MobileKernelsError(.invalidArgument, "TrainingPlan: parameter \(key) missing") }
        return p
    }

    /// Activations whose gradient can be read from the activation's output.
    private static func outputDetermines(_ a: Activation) -> Bool { a == .none || a == .relu || a == .relu6 }

    private func makeStep(_ node: Node, shape: (Int) throws -> TensorShape) throws -> Step {
        let id = node.id
        switch node.operation {
        case .input:
            return .input
        case let .conv(c):
            let padding = Padding(top: c.padTop, left: c.padLeft, bottom: c.padBottom, right: c.padRight)
            let weights = try param(c.weightKey), bias = try c.biasKey.map(param)
            let fuse = c.batchNorm == nil && Self.outputDetermines(c.activation)
            let activation: Activation = fuse ? c.activation : .none
            let forward: any Layer = c.isDepthwise
                ? try DepthwiseConv2D(channels: c.inChannels, kernelH: c.kernelH, kernelW: c.kernelW, strideH: c.strideH,
                                      strideW: c.strideW, padding: padding, dilationH: c.dilationH, dilationW: c.dilationW,
                                      weights: weights, bias: bias, activation: activation, variant: variant)
                : try Conv2D(inChannels: c.inChannels, outChannels: c.outChannels, kernelH: c.kernelH, kernelW: c.kernelW,
                             strideH: c.strideH, strideW: c.strideW, padding: padding, dilationH: c.dilationH,
                             dilationW: c.dilationW, groups: c.groups, weights: weights, bias: bias, activation: activation,
                             variant: variant)
            var batchNorm: BatchNormTraining?
            if let bn = c.batchNorm {
                batchNorm = try BatchNormTraining(channels: c.outChannels, eps: bn.eps, activation: c.activation, variant: variant)
                guard try shape(id).pixels >= 2 else {
                    throw MobileKernelsError(.invalidArgument, "TrainingPlan: \(node.name): its BatchNorm would see one value per channel; training needs a larger batch or image")
                }
            }
            if c.batchNorm != nil || !fuse { saved[id] = try Tensor(shape: shape(id)) }
            let activationBackward = c.batchNorm == nil && c.activation != .none
                ? try ActivationBackward(channels: c.outChannels, activation: c.activation, variant: variant) : nil
            if c.batchNorm != nil || c.activation != .none { preGradients[id] = try Tensor(shape: shape(id)) }
            let readsImage = node.inputs.first.map { if case .input = architecture.nodes[$0].operation { return true } else { return false } } ?? true
            var inputGradient: (any Layer)?
            var depthwise: DepthwiseConv2DBackward?
            if c.isDepthwise {
                depthwise = try DepthwiseConv2DBackward(channels: c.inChannels, kernelH: c.kernelH, kernelW: c.kernelW,
                                                        strideH: c.strideH, strideW: c.strideW, padding: padding,
                                                        dilationH: c.dilationH, dilationW: c.dilationW, weights: weights,
                                                        variant: variant)
            } else if !readsImage {
                guard c.strideH == 1, c.strideW == 1 else {
                    throw MobileKernelsError(.unsupported, "TrainingPlan: \(node.name): the input gradient of a strided dense convolution is not built yet")
                }
                inputGradient = try ConvInputGradient.make(inChannels: c.inChannels, outChannels: c.outChannels, kernelH: c.kernelH,
                                                           kernelW: c.kernelW, padding: padding, dilationH: c.dilationH,
                                                           dilationW: c.dilationW, groups: c.groups, weights: weights, variant: variant)
            }
            if c.isDepthwise, !readsImage, c.strideH == 1, c.strideW == 1 {
                // Stride 1: the forward depthwise kernel on flipped weights is faster on large images.
                inputGradient = try ConvInputGradient.make(inChannels: c.inChannels, outChannels: c.outChannels, kernelH: c.kernelH,
                                                           kernelW: c.kernelW, padding: padding, dilationH: c.dilationH,
                                                           dilationW: c.dilationW, groups: c.groups, weights: weights, variant: variant)
            }
            return .conv(ConvStep(spec: c, forward: forward, batchNorm: batchNorm, activationBackward: activationBackward,
                                  inputGradient: inputGradient, depthwise: depthwise))
        case let .maxPool(k, stride, p):
            return .maxPool(try PoolingBackward(.max(kernelH: k, kernelW: k, strideH: stride, strideW: stride, padding: .symmetric(p)),
                                                channels: sizes[id].c, variant: variant))
        case let .avgPool(k, stride, p, include):
            let c = sizes[id].c
            return .pool(forward: try AvgPool2D(channels: c, kernelH: k, kernelW: k, strideH: stride, strideW: stride,
                                                padding: .symmetric(p), countIncludePad: include, variant: variant),
                         backward: try PoolingBackward(.average(kernelH: k, kernelW: k, strideH: stride, strideW: stride,
                                                                padding: .symmetric(p), countIncludePad: include),
                                                       channels: c, variant: variant))
        case let .adaptiveAvgPool(oh, ow):
            let c = sizes[id].c
            return .pool(forward: try AdaptiveAvgPool2D(channels: c, outputH: oh, outputW: ow, variant: variant),
                         backward: try PoolingBackward(.adaptive(outputH: oh, outputW: ow), channels: c, variant: variant))
        case .globalAveragePool:
            let c = sizes[id].c
            return .pool(forward: try GlobalAveragePool(channels: c, variant: variant),
                         backward: try PoolingBackward(.adaptive(outputH: 1, outputW: 1), channels: c, variant: variant))
        case .flatten:
            return .flatten
        case let .linear(l):
            let fuse = Self.outputDetermines(l.activation)
            if !fuse { saved[id] = try Tensor(shape: shape(id)) }
            if l.activation != .none { preGradients[id] = try Tensor(shape: shape(id)) }
            let spec = ConvSpec(inChannels: l.inFeatures, outChannels: l.outFeatures, kernel: 1, weightKey: l.weightKey,
                                biasKey: l.biasKey, activation: l.activation)
            let activationBackward = l.activation == .none ? nil
                : try ActivationBackward(channels: l.outFeatures, activation: l.activation, variant: variant)
            if LinearTraining.supports(variant) {
                let linear = try LinearTraining(inFeatures: l.inFeatures, outFeatures: l.outFeatures, batch: batch,
                                                activation: fuse ? l.activation : .none, variant: variant)
                return .linear(ConvStep(spec: spec, forward: nil, batchNorm: nil, activationBackward: activationBackward,
                                        inputGradient: nil, depthwise: nil, linear: linear))
            }
            let forward = try Conv2D(inChannels: l.inFeatures, outChannels: l.outFeatures, kernelH: 1, kernelW: 1,
                                     weights: try param(l.weightKey), bias: try l.biasKey.map(param),
                                     activation: fuse ? l.activation : .none, variant: variant)
            let inputGradient = try ConvInputGradient.make(inChannels: l.inFeatures, outChannels: l.outFeatures, kernelH: 1, kernelW: 1,
                                                           weights: try param(l.weightKey), variant: variant)
            return .linear(ConvStep(spec: spec, forward: forward, batchNorm: nil, activationBackward: activationBackward,
                                    inputGradient: inputGradient, depthwise: nil))
        case let .squeezeExcitation(se):
            let layer = try SqueezeExcitation(channels: se.channels, squeezeChannels: se.squeezeChannels,
                                              fc1Weight: try param(se.fc1WeightKey), fc1Bias: try param(se.fc1BiasKey),
                                              fc2Weight: try param(se.fc2WeightKey), fc2Bias: try param(se.fc2BiasKey), variant: variant)
            let keep = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.savedCount(batch: batch))
            keep.initialize(repeating: 0)
            seSaved[id] = keep
            return .squeezeExcitation(layer)
        case let .channelShuffle(groups):
            let c = sizes[id].c
            return .shuffle(forward: try ChannelShuffle(groups: groups, channels: c, variant: variant),
                            backward: try ChannelShuffle(groups: c / groups, channels: c, variant: variant))
        case let .add(activation):
            let fuse = Self.outputDetermines(activation)
            if !fuse { saved[id] = try Tensor(shape: shape(id)) }
            if activation != .none { preGradients[id] = try Tensor(shape: shape(id)) }
            return .add(try Add(channels: sizes[id].c, activation: fuse ? activation : .none, variant: variant),
                        activation: activation == .none ? nil
                            : try ActivationBackward(channels: sizes[id].c, activation: activation, variant: variant))
        case let .concat(activation):
            let copies = try node.inputs.map { try BiasActivation(channels: sizes[$0].c, activation: .none, variant: variant) }
            if activation != .none { preGradients[id] = try Tensor(shape: shape(id)) }
            if !Self.outputDetermines(activation) { saved[id] = try Tensor(shape: shape(id)) }
            return .concat(copy: copies,
                           activation: activation == .none ? nil : try BiasActivation(channels: sizes[id].c, activation: activation, variant: variant),
                           backward: activation == .none ? nil
                               : try ActivationBackward(channels: sizes[id].c, activation: activation, variant: variant))
        }
    }

    /// The result of a step.
    public struct Result: Sendable {
        /// The mean cross-entropy of the batch.
        public var loss: Float
        /// d loss / d parameter for every learnable parameter under its state_dict name, in
        /// PyTorch's layout.
        public var gradients: [String: [Float]]
        /// Each BatchNorm's batch statistics by module prefix (for the running-statistic update).
        public var batchStatistics: [String: BatchNormTraining.Statistics]
    }

    /// Runs the forward, the loss and the backward on `images` (NHWC `[batch, height, width, 3]`)
    /// and `labels` (one class index per image). With a `dropoutSeed`, every Dropout of the
    /// architecture (`LinearSpec.dropout`) is applied as in `model.train()`, its mask drawn from
    /// the seed and the node (`Dropout`); without one, dropout is off (as `mobilekernels grad`
    /// and PyTorch with the Dropout modules in eval mode compute).
    /// - Throws: `.shapeMismatch` for images of another shape or a label count other than the
    ///   batch; `.invalidArgument` for a label outside the classes.
    public func step(images: Tensor, labels: [Int], dropoutSeed: UInt64? = nil, threadPool: ThreadPool = .shared) throws -> Result {
        let loss = try run(images: images, labels: labels, dropoutSeed: dropoutSeed, threadPool: threadPool)
        var result = Result(loss: loss, gradients: [:], batchStatistics: [:])
        for name in gradientNames { result.gradients[name] = gradient(name) }
        for (id, prefix) in batchNormPrefixes.enumerated() {
            if let prefix, let stats = statistics[id] { result.batchStatistics[prefix] = stats }
        }
        return result
    }

    /// `step` without its result: returns the loss and leaves the gradients in the plan's
    /// buffers (`gradient(_:)`, `withGradients`) and each BatchNorm's batch statistics in
    /// `batchStatistics(_:)`. Nothing is allocated once a first step has run.
    public func run(images: Tensor, labels: [Int], dropoutSeed: UInt64? = nil, threadPool: ThreadPool = .shared) throws -> Float {
        let nodes = architecture.nodes
        guard images.shape == outputs[0].shape else {
            throw MobileKernelsError(.shapeMismatch, "TrainingPlan: images \(images.shape), planned for \(outputs[0].shape)")
        }
        guard labels.count == batch else {
            throw MobileKernelsError(.shapeMismatch, "TrainingPlan: \(labels.count) labels for \(batch) images")
        }
        if let (i, bad) = labels.enumerated().first(where: { $0.element < 0 || $0.element >= architecture.numClasses }) {
            throw MobileKernelsError(.invalidArgument, "TrainingPlan: label \(bad) of image \(i) is not a class of 0..<\(architecture.numClasses)")
        }
        // Copied into the planned input, not retained: the caller (a BatchLoader) reuses its tensor.
        images.withUnsafeBufferPointer { source in
            outputs[0].withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: source) }
        }
        self.dropoutSeed = dropoutSeed
        for node in nodes { try forward(node, threadPool) }

        // The loss and the logits' gradient, written into the last node's gradient.
        let last = nodes.count - 1
        for i in gradientWritten.indices { gradientWritten[i] = false }
        gradientWritten[last] = true
        let logits = outputs[last]
        let classes = architecture.numClasses
        let loss = try logits.withUnsafeBufferPointer { z in
            try outputGradients[last].withUnsafeMutableBufferPointer { dz in
                try labels.withUnsafeBufferPointer { try SoftmaxCrossEntropy.loss(logits: z, classes: classes, labels: $0, gradient: dz) }
            }
        }
        for node in nodes.reversed() { try backward(node, threadPool) }
        return loss
    }

    /// Updates every BatchNorm's running statistics from the last `run`'s batch statistics, as
    /// PyTorch's training-mode forward does: running = (1 - momentum) * running + momentum *
    /// batch statistic (the variance unbiased, n / (n - 1)), momentum from `BatchNormSpec`
    /// (0.1; MobileNetV3's 0.01), and one more batch tracked. Allocates nothing.
    public func updateRunningStatistics() throws {
        for node in architecture.nodes {
            guard case let .conv(step) = steps[node.id], let bn = step.batchNorm, let spec = step.spec.batchNorm,
                  let stats = statistics[node.id] else { continue }
            guard stats.count > 0 else {
                throw MobileKernelsError(.invalidArgument, "TrainingPlan: no batch statistics to update the running ones from (run a step first)")
            }
            try bn.updateRunningStatistics(mean: &runningMeans[node.id], variance: &runningVars[node.id], from: stats,
                                           momentum: spec.momentum)
            batchesTracked[node.id] += 1
        }
    }

    /// The running statistics of the BatchNorm with module prefix `prefix`.
    public func runningStatistics(_ prefix: String) -> (mean: [Float], variance: [Float], batchesTracked: Int)? {
        guard let id = batchNormPrefixes.firstIndex(of: prefix) else { return nil }
        return (runningMeans[id], runningVars[id], batchesTracked[id])
    }

    /// Every state_dict tensor of the network as it stands, in `model.state_dict()` order and
    /// PyTorch's shapes: the learnable parameters, and after each BatchNorm's running_var its
    /// num_batches_tracked (shape [], as one float; `Trainer.save` writes it as I64): a checkpoint,
    /// or weights for `Network`.
    public func stateDict() -> [(name: String, shape: [Int], values: [Float])] {
        var running: [String: [Float]] = [:]
        for (id, prefix) in batchNormPrefixes.enumerated() {
            guard let prefix else { continue }
            running[prefix + ".running_mean"] = runningMeans[id]
            running[prefix + ".running_var"] = runningVars[id]
            running[prefix + ".num_batches_tracked"] = [Float(batchesTracked[id])]
        }
        var result: [(name: String, shape: [Int], values: [Float])] = []
        for (name, shape) in architecture.parameters() {
            guard let values = parameter(name) ?? running[name] else { continue }
            result.append((name, shape, values))
            if name.hasSuffix(".running_var") {
                let tracked = String(name.dropLast("running_var".count)) + "num_batches_tracked"
                if let count = running[tracked] { result.append((tracked, [], count)) }
            }
        }
        return result
    }

    /// Calls `body` with the last `run`'s logits, `[batch, classes]` row by row (valid until the
    /// next `run`).
    public func withLogits<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try outputs[outputs.count - 1].withUnsafeBufferPointer(body)
    }

    /// The batch statistics of the BatchNorm with module prefix `prefix` (e.g. "features.0.1")
    /// from the last `run` or `step`.
    public func batchStatistics(_ prefix: String) -> BatchNormTraining.Statistics? {
        batchNormPrefixes.firstIndex(of: prefix).flatMap { statistics[$0] }
    }

    private func fill(_ t: inout Tensor, _ value: Float) throws {
        t.withUnsafeMutableBufferPointer { $0.update(repeating: value) }
    }

    // MARK: - Forward

    private func forward(_ node: Node, _ pool: ThreadPool) throws {
        let id = node.id
        guard let first = node.inputs.first else { return }
        let x = try outputs[first].view()
        switch steps[id] {
        case .input:
            return
        case let .conv(step):
            if let bn = step.batchNorm, step.spec.batchNorm != nil {
                try saved[id]!.withMutableView { try step.forward!.forward(x, into: $0, threadPool: pool) }
                let pre = try saved[id]!.view()
                try outputs[id].withMutableView {
                    let keys = batchNormKeys[id]!
                    // Moved out and back: written in place, not copied.
                    var stats = statistics[id]!
                    statistics[id] = nil
                    defer { statistics[id] = stats }
                    try bn.forward(pre, gamma: try weights(keys.gamma), beta: try weights(keys.beta), into: $0,
                                   statistics: &stats, threadPool: pool)
                }
            } else if saved[id] != nil {
                try saved[id]!.withMutableView { try step.forward!.forward(x, into: $0, threadPool: pool) }
                try applyActivation(step.spec.activation, from: id, pool)
            } else {
                try outputs[id].withMutableView { try step.forward!.forward(x, into: $0, threadPool: pool) }
            }
        case let .linear(step):
            var x = x
            if let drop = activeDropout(id) {
                try dropped[id]!.withMutableView { try drop.dropout.apply(x, into: $0, seed: drop.seed, threadPool: pool) }
                x = try dropped[id]!.view()
            }
            let target = saved[id] != nil
            if let linear = step.linear {
                let w = try weights(step.spec.weightKey), b = try step.spec.biasKey.map(weights)
                if target {
                    try saved[id]!.withMutableView { try linear.forward(x, weights: w, bias: b, into: $0, threadPool: pool) }
                } else {
                    try outputs[id].withMutableView { try linear.forward(x, weights: w, bias: b, into: $0, threadPool: pool) }
                }
            } else if target {
                try saved[id]!.withMutableView { try step.forward!.forward(x, into: $0, threadPool: pool) }
            } else {
                try outputs[id].withMutableView { try step.forward!.forward(x, into: $0, threadPool: pool) }
            }
            if target { try applyActivation(step.spec.activation, from: id, pool) }
        case let .maxPool(op):
            // Moved out and back, so the indices are not copied to be written.
            var found: [Int32] = []
            swap(&found, &indices[id])
            defer { swap(&found, &indices[id]) }
            try outputs[id].withMutableView { try op.forwardWithIndices(x, into: $0, indices: &found, threadPool: pool) }
        case let .pool(layer, _):
            try outputs[id].withMutableView { try layer.forward(x, into: $0, threadPool: pool) }
        case .flatten:
            let s = outputs[first].shape
            let input = outputs[first]
            input.withUnsafeBufferPointer { src in
                outputs[id].withUnsafeMutableBufferPointer { dst in Self.flatten(src, into: dst, n: s.n, hw: s.h * s.w, c: s.c, inverse: false) }
            }
        case let .squeezeExcitation(layer):
            try outputs[id].withMutableView { try layer.trainingForward(x, into: $0, saved: seSaved[id]!, threadPool: pool) }
        case let .shuffle(layer, _):
            try outputs[id].withMutableView { try layer.forward(x, into: $0, threadPool: pool) }
        case let .add(layer, _):
            let b = try outputs[node.inputs[1]].view()
            let target = saved[id] != nil
            if target {
                try saved[id]!.withMutableView { try layer.forward(x, b, into: $0, threadPool: pool) }
                try applyActivation(activation(of: node), from: id, pool)
            } else {
                try outputs[id].withMutableView { try layer.forward(x, b, into: $0, threadPool: pool) }
            }
        case let .concat(copies, activation, _):
            var offset = 0
            let target = saved[id] != nil
            for (input, copy) in zip(node.inputs, copies) {
                let v = try outputs[input].view(), c = v.shape.c
                if target {
                    try saved[id]!.withMutableView(channels: offset..<(offset + c)) { try copy.forward(v, into: $0, threadPool: pool) }
                } else {
                    try outputs[id].withMutableView(channels: offset..<(offset + c)) { try copy.forward(v, into: $0, threadPool: pool) }
                }
                offset += c
            }
            if target {
                try applyActivation(self.activation(of: node), from: id, pool)
            } else if let activation {
                try activation.apply(inPlace: &outputs[id], threadPool: pool)
            }
        }
    }

    /// Node `id`'s Dropout and its seed in the running step, if it has one and dropout is on.
    private func activeDropout(_ id: Int) -> (dropout: Dropout, seed: UInt64)? {
        guard let seed = dropoutSeed, let dropout = dropouts[id] else { return nil }
        return (dropout, Self.siteSeed(seed, id))
    }

    /// The seed of node `id`'s Dropout in a step run with `dropoutSeed` (SplitMix64's finalizer
    /// of the pair): its mask is `Dropout.keeps(_:seed:)` of this.
    public static func siteSeed(_ seed: UInt64, _ id: Int) -> UInt64 {
        var z = seed ^ (UInt64(id) &+ 1) &* 0xD6E8_FEB8_6659_FD93
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private func activation(of node: Node) -> Activation {
        switch node.operation {
        case let .add(a), let .concat(a): a
        case let .conv(c): c.activation
        case let .linear(l): l.activation
        default: .none
        }
    }

    /// outputs[id] = act(saved[id]) (activations whose gradient needs their input).
    private func applyActivation(_ activation: Activation, from id: Int, _ pool: ThreadPool) throws {
        guard let layer = activationLayers[id], layer.activation == activation else {
            throw MobileKernelsError(.invalidArgument, "TrainingPlan: node \(id) has no \(activation) planned")
        }
        let u = try saved[id]!.view()
        try outputs[id].withMutableView { try layer.forward(u, into: $0, threadPool: pool) }
    }

    /// NHWC `[n, hw, c]` to PyTorch's flatten order `[n, c, hw]` (or back).
    private static func flatten(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<Float>, n: Int, hw: Int, c: Int,
                                inverse: Bool) {
        for b in 0..<n {
            for q in 0..<hw {
                for ch in 0..<c {
                    let nhwc = (b * hw + q) * c + ch, chw = (b * c + ch) * hw + q
                    if inverse { dst[nhwc] = src[chw] } else { dst[chw] = src[nhwc] }
                }
            }
        }
    }

    // MARK: - Backward

    /// Runs `body` on the view node `id`'s input gradient goes to: the input's gradient itself
    /// when this node is its only consumer, else the node's scratch, then added in.
    private func sendInputGradient(_ id: Int, _ first: Int, _ pool: ThreadPool, _ body: (TensorView) throws -> Void) throws {
        if direct[id] {
            try outputGradients[first].withMutableView(body)
            gradientWritten[first] = true
        } else {
            try inputScratch[id]!.withMutableView(body)
            try accumulate(into: first, from: try inputScratch[id]!.view(), pool)
        }
    }

    /// outputGradients[target] += source, or = source for the first consumer to send one this
    /// step (no zeroing pass).
    private func accumulate(into target: Int, from source: TensorView, _ pool: ThreadPool) throws {
        let c = source.shape.c
        if gradientWritten[target] {
            try outputGradients[target].withMutableView { try adders[c]!.forward($0, source, into: $0, threadPool: pool) }
        } else {
            try outputGradients[target].withMutableView { try copiers[c]!.forward(source, into: $0, threadPool: pool) }
            gradientWritten[target] = true
        }
    }

    /// The gradient at node `id`'s output: its own buffer, or for a node whose only consumer is
    /// an add, the add's gradient after its activation.
    private func outputGradient(_ id: Int) -> Tensor {
        guard let add = gradientAlias[id] else { return outputGradients[id] }
        if case .add(_, .some) = steps[add] { return preGradients[add]! }
        return outputGradient(add)
    }

    private func backward(_ node: Node, _ pool: ThreadPool) throws {
        let id = node.id
        guard let first = node.inputs.first else { return }
        let needsInput: Bool = { if case .input = architecture.nodes[first].operation { return false } else { return true } }()
        // A gradient no consumer sent (none of them passes one back) is zero.
        if summed[id] && !gradientWritten[id] {
            try fill(&outputGradients[id], 0)
            gradientWritten[id] = true
        }
        let gradient = outputGradient(id)
        let dy = try gradient.view()
        switch steps[id] {
        case .input:
            return
        case let .conv(step), let .linear(step):
            let spec = step.spec
            // The gradient at the convolution's output.
            let dPre: Tensor
            if let bn = step.batchNorm, spec.batchNorm != nil {
                let pre = try saved[id]!.view()
                let stats = statistics[id]!
                try preGradients[id]!.withMutableView {
                    let keys = batchNormKeys[id]!
                    try bn.backward(input: pre, outputGradient: dy, gamma: try weights(keys.gamma), beta: try weights(keys.beta),
                                    statistics: stats, inputGradient: $0, gammaGradient: try slot(keys.gamma),
                                    betaGradient: try slot(keys.beta), threadPool: pool)
                }
                dPre = preGradients[id]!
            } else if let act = step.activationBackward {
                let u = try (saved[id] ?? outputs[id]).view()
                _ = try preGradients[id]!.withMutableView {
                    try act.backward(preActivation: u, outputGradient: dy, into: $0, biasGradient: false, threadPool: pool)
                }
                dPre = preGradients[id]!
            } else {
                dPre = gradient
            }
            // Weights (and bias), from the input the layer saw (after its Dropout).
            let drop = activeDropout(id)
            let x = drop != nil ? dropped[id]! : outputs[first]
            if let dw = step.depthwise {
                try dw.weightGradient(input: try x.view(), outputGradient: try dPre.view(), weightGradient: try slot(spec.weightKey),
                                      biasGradient: try spec.biasKey.map(slot), threadPool: pool)
            } else {
                let padding = Padding(top: spec.padTop, left: spec.padLeft, bottom: spec.padBottom, right: spec.padRight)
                try ConvWeightGradient.general(input: x, outputGradient: dPre, kernelH: spec.kernelH, kernelW: spec.kernelW,
                                               strideH: spec.strideH, strideW: spec.strideW, padding: padding,
                                               dilationH: spec.dilationH, dilationW: spec.dilationW, groups: spec.groups,
                                               weightGradient: try slot(spec.weightKey), biasGradient: try spec.biasKey.map(slot),
                                               variant: variant, threadPool: pool)
            }
            // The input.
            guard needsInput else { return }
            let d = try dPre.view()
            if let linear = step.linear {
                let w = try weights(spec.weightKey)
                try sendInputGradient(id, first, pool) {
                    try linear.inputGradient(d, weights: w, into: $0, threadPool: pool)
                    if let drop { try drop.dropout.apply($0, into: $0, seed: drop.seed, threadPool: pool) }
                }
            } else if let layer = step.inputGradient {
                try sendInputGradient(id, first, pool) {
                    try layer.forward(d, into: $0, threadPool: pool)
                    if let drop { try drop.dropout.apply($0, into: $0, seed: drop.seed, threadPool: pool) }
                }
            } else if let dw = step.depthwise {
                try sendInputGradient(id, first, pool) { try dw.inputGradient(d, into: $0, threadPool: pool) }
            } else {
                throw MobileKernelsError(.unsupported, "TrainingPlan: \(node.name): no input gradient")
            }
        case let .maxPool(op):
            let found = indices[id]
            try sendInputGradient(id, first, pool) { try op.inputGradient(dy, indices: found, into: $0, threadPool: pool) }
        case let .pool(_, op):
            try sendInputGradient(id, first, pool) { try op.inputGradient(dy, into: $0, threadPool: pool) }
        case .flatten:
            let s = outputs[first].shape
            gradient.withUnsafeBufferPointer { src in
                inputScratch[id]!.withUnsafeMutableBufferPointer { dst in Self.flatten(src, into: dst, n: s.n, hw: s.h * s.w, c: s.c, inverse: true) }
            }
            try accumulate(into: first, from: try inputScratch[id]!.view(), pool)
        case let .squeezeExcitation(layer):
            let x = try outputs[first].view()
            let keys = seKeys[id]!
            try sendInputGradient(id, first, pool) {
                try layer.backward(input: x, saved: UnsafeBufferPointer(seSaved[id]!), outputGradient: dy, inputGradient: $0,
                                   fc1WeightGradient: try slot(keys[0]), fc1BiasGradient: try slot(keys[1]),
                                   fc2WeightGradient: try slot(keys[2]), fc2BiasGradient: try slot(keys[3]), threadPool: pool)
            }
        case let .shuffle(_, layer):
            try sendInputGradient(id, first, pool) { try layer.forward(dy, into: $0, threadPool: pool) }
        case let .add(_, act), let .concat(_, _, act):
            var d = dy
            if let act {
                let u = try (saved[id] ?? outputs[id]).view()
                _ = try preGradients[id]!.withMutableView {
                    try act.backward(preActivation: u, outputGradient: dy, into: $0, biasGradient: false, threadPool: pool)
                }
                d = try preGradients[id]!.view()
            }
            if case .add = steps[id] {
                // An input whose only consumer this is reads `d` where it is (`outputGradient`).
                for input in node.inputs where gradientAlias[input] != id { try accumulate(into: input, from: d, pool) }
            } else {
                var offset = 0
                let whole = act == nil ? gradient : preGradients[id]!
                for input in node.inputs {
                    let c = sizes[input].c
                    try accumulate(into: input, from: try whole.view(channels: offset..<(offset + c)), pool)
                    offset += c
                }
            }
        }
    }
}
