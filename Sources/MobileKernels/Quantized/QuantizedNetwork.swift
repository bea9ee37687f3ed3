internal import CKernels
import Foundation

/// A `QuantizedModel` on MobileKernels' int8 kernels, the int8 twin of `Network`: each node an
/// int8 operator (weights packed once), the same fusions as float except the shuffled output
/// (the int8 convolution writes plain order; the shuffle is a byte permutation step):
/// a residual convolution adds the skip tensor in its store, ShuffleNet's concat inputs write
/// their channel slice, flatten and an identity adaptive pool are free. The logits' layer runs on
/// the int8 features with int8 weights and writes float32 logits (see `QuantizedModel`).
/// MobileNetV3's hard-swish layers write their sums at the pre-activation quantization and a
/// lookup-table step applies hard-swish in place; squeeze-and-excitation scales in place.
///
///     let model = try QuantizedModel(contentsOf: "mobilenet_v2.qs8.safetensors", architecture: arch)
///     let plan = try QuantizedNetwork(model).plan(batch: 1, height: 224, width: 224)
///     let logits = try plan.predict(image)          // float32 [1, 1, 1, classes]
public final class QuantizedNetwork: @unchecked Sendable {
    public let model: QuantizedModel
    public var architecture: Architecture { model.architecture }
    public var kind: ModelKind { architecture.kind }

    enum Compiled {
        case input
        case conv(QConv2D)
        case depthwise(QDepthwiseConv2D)
        case pool(QPool)
        case shuffle(groups: Int)
        case add(Activation)
        case alias
        case concat
        case classifier(QConv2D)  // float output
        case squeezeExcitation(QSqueezeExcitation)
    }

    let compiled: [Compiled]
    /// Hard-swish nodes -> the lookup table from their pre-activation int8 to their output's.
    let tables: [Int: [Int8]]
    let fusion: Fusion
    /// The int8 input's channels: 4 when its only reader is a plain convolution of 3 input
    /// channels, which then takes a fourth of zero weight (whole groups of 4 bytes per tap: the
    /// GEMM's K runs no tail, and the VNNI kernels' broadcasts stay plain loads), else 3.
    let inputChannels: Int

    /// The bytes of the packed weights, biases and scales.
    public var weightBytes: Int {
        compiled.reduce(0) { total, layer in
            switch layer {
            case let .conv(conv): total + conv.weightBytes
            case let .depthwise(depthwise): total + depthwise.weightBytes
            case let .classifier(linear): total + linear.weightBytes
            case let .squeezeExcitation(se): total + se.weightBytes
            default: total
            }
        }
    }

    /// - Parameter variant: the int8 kernels' variant (`.auto`: the best this CPU has).
    /// - Throws: `.unsupported` for a variant without int8 kernels here; `.invalidArgument` for a
    ///   bias that does not fit int32 at its scale.
    public init(_ model: QuantizedModel, variant: Variant = .auto) throws {
        self.model = model
        let architecture = model.architecture
        let nodes = architecture.nodes
        let fusion = Fusion(architecture, shuffles: false)
        self.fusion = fusion
        let q = model.quantization
        let sizes = try architecture.featureSizes(height: 224, width: 224)
        func quantization(_ id: Int) throws -> Quantization {
            guard let value = q[id] else {
                throw MobileKernelsError(.invalidArgument, "int8 \(architecture.kind.specName): \(nodes[id].name) has no quantization")
            }
            return value
        }
        /// int32 biases at the input's and each channel's weight scale.
        func bias(_ w: QuantizedModel.Weights, input: Quantization, _ name: String) throws -> [Int32] {
            try zip(w.bias, w.scales).map { b, s in
                let v = (Double(b) / (Double(input.scale) * Double(s))).rounded(.toNearestOrEven)
                guard let i = Int32(exactly: v) else {
                    throw MobileKernelsError(.invalidArgument, "int8 \(name): bias \(b) is out of int32 range at scale \(input.scale) x \(s)")
                }
                return i
            }
        }
        var padStem = false
        if fusion.consumers[0].count == 1, case let .conv(stem) = nodes[fusion.consumers[0][0]].operation,
           stem.inChannels == 3, stem.groups == 1 {
            padStem = true
        }
        inputChannels = padStem ? 4 : 3
        var compiled: [Compiled] = []
        var tables: [Int: [Int8]] = [:]
        /// The quantization a layer's store writes, and its activation there: for hard-swish, the
        /// pre-activation quantization without activation (the table applies it after).
        func store(_ id: Int, _ activation: Activation) throws -> (Quantization, Activation) {
            let post = try quantization(id)
            guard model.isHardswish(id) else { return (post, activation) }
            guard let pre = model.preActivation[id] else {
                throw MobileKernelsError(.invalidArgument, "int8 \(architecture.kind.specName): \(nodes[id].name) has no pre-activation quantization")
            }
            var table = [Int8](repeating: 0, count: 256)
            try table.withUnsafeMutableBufferPointer { t in
                try check(mk_lut_qs8_table(Activation.hardswish.cValue, pre.cValue, post.cValue, t.baseAddress!),
                          "int8 \(nodes[id].name): hard-swish table")
            }
            tables[id] = table
            return (pre, .none)
        }
        for node in nodes {
            let id = node.id
            switch node.operation {
            case .input:
                compiled.append(.input)
            case let .conv(spec):
                var w = model.weights[id]!
                var inChannels = spec.inChannels
                if padStem, node.inputs[0] == 0 {
                    // A fourth input channel of zero weight (PyTorch layout [out, in, kh, kw]).
                    let taps = spec.kernelH * spec.kernelW
                    var padded = [Int8](repeating: 0, count: spec.outChannels * 4 * taps)
                    for o in 0..<spec.outChannels {
                        for i in 0..<(3 * taps) { padded[(o * 4) * taps + i] = w.values[(o * 3) * taps + i] }
                    }
                    w.values = padded
                    inChannels = 4
                }
                let (output, activation) = try store(id, fusion.finalActivation[id] ?? spec.activation)
                let input = try quantization(node.inputs[0])
                let padding = Padding(top: spec.padTop, left: spec.padLeft, bottom: spec.padBottom, right: spec.padRight)
                let b = try bias(w, input: input, node.name)
                if spec.isDepthwise {
                    compiled.append(.depthwise(try QDepthwiseConv2D(
                        channels: spec.inChannels, kernelH: spec.kernelH, kernelW: spec.kernelW, strideH: spec.strideH,
                        strideW: spec.strideW, padding: padding, dilationH: spec.dilationH, dilationW: spec.dilationW,
                        weights: w.values, weightScales: w.scales, bias: b, activation: activation, input: input,
                        output: output, variant: variant)))
                } else {
                    compiled.append(.conv(try QConv2D(
                        inChannels: inChannels, outChannels: spec.outChannels, kernelH: spec.kernelH,
                        kernelW: spec.kernelW, strideH: spec.strideH, strideW: spec.strideW, padding: padding,
                        dilationH: spec.dilationH, dilationW: spec.dilationW, groups: spec.groups, weights: w.values,
                        weightScales: w.scales, bias: b, activation: activation, input: input,
                        output: output, residual: try fusion.residualOf[id].map(quantization),
                        variant: variant)))
                }
            case let .linear(spec):
                // PyTorch flattens (c, h, w); our NHWC memory is (h, w, c): permute the columns.
                var flatten: FeatureSize? = nil
                if case .flatten = nodes[node.inputs[0]].operation {
                    let f = sizes[nodes[node.inputs[0]].inputs[0]]
                    if f.h * f.w > 1 { flatten = f }
                }
                if id == nodes.count - 1 {
                    // int8 weights (per output channel), int32 sums, float32 logits.
                    var w = model.classifierWeights
                    if let f = flatten { w = Network.permuteFlattenColumns(w, out: spec.outFeatures, h: f.h, w: f.w, c: f.c) }
                    let (values, scales) = try QuantizedModel.perChannel(w, outputs: spec.outFeatures, node.name)
                    let q = QuantizedModel.Weights(values: values, scales: scales, bias: model.classifierBias)
                    let input = try quantization(node.inputs[0])
                    compiled.append(.classifier(try QConv2D(
                        inChannels: spec.inFeatures, outChannels: spec.outFeatures, kernelH: 1, kernelW: 1, weights: values,
                        weightScales: scales, bias: try bias(q, input: input, node.name), activation: spec.activation,
                        input: input, output: input, variant: variant, floatOutput: true)))
                    continue
                }
                let w = model.weights[id]!
                var values = w.values
                if let f = flatten {
                    values = Network.permuteFlattenColumns(values.map { Float($0) }, out: spec.outFeatures, h: f.h, w: f.w,
                                                           c: f.c).map { Int8($0) }
                }
                let input = try quantization(node.inputs[0])
                let (output, activation) = try store(id, spec.activation)
                compiled.append(.conv(try QConv2D(
                    inChannels: spec.inFeatures, outChannels: spec.outFeatures, kernelH: 1, kernelW: 1, weights: values,
                    weightScales: w.scales, bias: try bias(w, input: input, node.name), activation: activation,
                    input: input, output: output, variant: variant)))
            case let .maxPool(kernel, stride, padding):
                let input = try quantization(node.inputs[0])
                compiled.append(.pool(try QPool(kind: MK_POOL_QS8_MAX, channels: sizes[id].c, kernel: kernel, stride: stride,
                                                padding: padding, countIncludePad: false, activation: .none, input: input,
                                                output: input, name: node.name)))
            case let .avgPool(kernel, stride, padding, countIncludePad):
                compiled.append(.pool(try QPool(kind: MK_POOL_QS8_AVERAGE, channels: sizes[id].c, kernel: kernel,
                                                stride: stride, padding: padding, countIncludePad: countIncludePad,
                                                activation: fusion.finalActivation[id] ?? .none,
                                                input: try quantization(node.inputs[0]), output: try quantization(id),
                                                name: node.name)))
            case let .adaptiveAvgPool(oh, ow):
                compiled.append(.pool(try QPool(kind: MK_POOL_QS8_ADAPTIVE_AVERAGE, channels: sizes[id].c, kernel: 1,
                                                stride: 1, padding: 0, countIncludePad: true, activation: .none,
                                                input: try quantization(node.inputs[0]), output: try quantization(id),
                                                adaptive: (oh, ow), name: node.name)))
            case .globalAveragePool:
                compiled.append(.pool(try QPool(kind: MK_POOL_QS8_GLOBAL_AVERAGE, channels: sizes[id].c, kernel: 1,
                                                stride: 1, padding: 0, countIncludePad: true, activation: .none,
                                                input: try quantization(node.inputs[0]), output: try quantization(id),
                                                name: node.name)))
            case .flatten:
                compiled.append(.alias)
            case let .channelShuffle(groups):
                compiled.append(.shuffle(groups: groups))
            case let .add(activation):
                compiled.append(.add(activation))
            case .concat:
                guard node.inputs.allSatisfy({ fusion.fusedInto[$0] == id }) else {
                    throw MobileKernelsError(.unsupported, "int8 \(architecture.kind.specName): concat \(node.name) has an input that does not write its slice")
                }
                compiled.append(.concat)
            case let .squeezeExcitation(spec):
                let w = model.squeezeExcitation[id]!
                compiled.append(.squeezeExcitation(try QSqueezeExcitation(
                    spec, w, input: try quantization(node.inputs[0]), output: try quantization(id), variant: variant,
                    name: node.name)))
            }
        }
        self.compiled = compiled
        self.tables = tables
    }

    /// An int8 inference plan for `batch` images of `height` x `width` (every int8 buffer
    /// allocated now; a buffer goes to a later node once its contents are read).
    public func plan(batch: Int = 1, height: Int = 224, width: Int = 224) throws -> QuantizedInferencePlan {
        try QuantizedInferencePlan(network: self, batch: batch, height: height, width: width)
    }
}

/// An int8 squeeze-and-excitation (`mk_squeeze_excitation_qs8`): float layers on the channel
/// means, the tensor scaled in int8.
final class QSqueezeExcitation: @unchecked Sendable {
    let op: OpaquePointer
    let channels: Int
    /// The float layers' weights and biases.
    let weightBytes: Int

    /// The layers run on `variant`'s float kernels (an int8 variant's base ISA; their bits are
    /// the same on every variant).
    init(_ spec: SqueezeExcitationSpec, _ w: QuantizedModel.SqueezeExcitationWeights, input: Quantization,
         output: Quantization, variant: Variant, name: String) throws {
        var handle: OpaquePointer?
        try check(mk_squeeze_excitation_qs8_create(spec.channels, spec.squeezeChannels, w.fc1, w.fc1Bias, w.fc2, w.fc2Bias,
                                                   input.cValue, output.cValue, variant.cValue, &handle),
                  "int8 squeeze-and-excitation \(name)")
        op = handle!
        channels = spec.channels
        weightBytes = spec.parameterCount * MemoryLayout<Float>.stride
    }

    deinit { mk_squeeze_excitation_qs8_destroy(op) }
}

/// An int8 pooling operator (`mk_pool2d_qs8`).
final class QPool: @unchecked Sendable {
    let op: OpaquePointer
    let name: String

    init(kind: mk_pool_qs8_kind, channels: Int, kernel: Int, stride: Int, padding: Int, countIncludePad: Bool,
         activation: Activation, input: Quantization, output: Quantization, adaptive: (Int, Int) = (1, 1),
         name: String) throws {
        var params = mk_pool2d_qs8_params(
            kind: kind, channels: channels,
            pool: mk_pool2d_params(kernel_h: kernel, kernel_w: kernel, stride_h: stride, stride_w: stride,
                                   pad_top: padding, pad_left: padding, pad_bottom: padding, pad_right: padding,
                                   count_include_pad: countIncludePad, activation: activation.cValue),
            input: input.cValue, output: output.cValue, adaptive_h: adaptive.0, adaptive_w: adaptive.1)
        var handle: OpaquePointer?
        try check(mk_pool2d_qs8_create(&params, &handle), "int8 pool \(name)")
        op = handle!
        self.name = name
    }

    deinit { mk_pool2d_qs8_destroy(op) }
}

/// A window on int8 NHWC storage (the int8 twin of `TensorView`).
struct QView {
    let storage: QTensorStorage
    let shape: TensorShape
    let channelOffset: Int
    let pixelStride: Int
    var pointer: UnsafeMutablePointer<Int8> { storage.pointer + channelOffset }
}

/// A `QuantizedNetwork` planned for one batch size and input size: the int8 buffers
/// (`BufferPlan`, reused as soon as their contents are read), the steps, and the float32 ends:
/// the input is quantized into the first buffer, the logits' layer writes float32.
/// `predict(_:into:threadPool:)` allocates nothing (a step plans again, without
/// allocating, when a pool with another thread count runs it). One caller at a time.
public final class QuantizedInferencePlan: @unchecked Sendable {
    public let network: QuantizedNetwork
    /// `[batch, height, width, 3]` float32, NHWC.
    public let inputShape: TensorShape
    /// `[batch, 1, 1, classes]` float32.
    public let outputShape: TensorShape
    /// The bytes of all activation buffers: the int8 ones and the float input and logits.
    public let peakActivationBytes: Int

    private let steps: [(ThreadPool) throws -> Void]
    private let stepNodes: [Int]
    private let lock = NSLock()
    private let input: QView
    private let inputQuantization: Quantization
    private let logits: TensorView

    init(network: QuantizedNetwork, batch: Int, height: Int, width: Int) throws {
        let architecture = network.architecture
        let nodes = architecture.nodes
        guard batch >= 1, height >= 1, width >= 1 else {
            throw MobileKernelsError(.invalidArgument, "int8 \(network.kind): batch and input size must be at least 1, got \(batch) x \(height) x \(width)")
        }
        var shapes = try architecture.featureSizes(height: height, width: width).map {
            try TensorShape(n: batch, h: $0.h, w: $0.w, c: $0.c)
        }
        let imageShape = shapes[0]
        shapes[0] = try TensorShape(n: batch, h: height, w: width, c: network.inputChannels)
        let fusion = network.fusion
        let layout = BufferPlan(nodes, fusion, shapes: shapes, banded: [:], lifetime: .reuse)
        let storages = try layout.capacities.map { try QTensorStorage(count: $0, shape: TensorShape(h: 1, w: 1, c: $0)) }
        func view(_ id: Int) -> QView {
            let l = layout.locations[id]!
            return QView(storage: storages[l.buffer], shape: l.shape, channelOffset: l.channelOffset, pixelStride: l.pixelStride)
        }
        let q = network.model.quantization
        let last = nodes.count - 1
        let featureNode = nodes[last].inputs[0]
        guard shapes[featureNode].pixels == batch || (layout.locations[featureNode].map { $0.pixelStride == shapes[featureNode].c } ?? false) else {
            throw MobileKernelsError(.unsupported, "int8 \(network.kind): the logits' input must be one pixel per image or dense")
        }
        let logitStorage = try TensorStorage(count: shapes[last].count, shape: shapes[last])
        let logits = TensorView(storage: logitStorage, shape: shapes[last])
        var steps: [(node: Int, run: (ThreadPool) throws -> Void)] = []
        for node in nodes {
            let id = node.id
            if layout.identities.contains(id) || fusion.isDoneByProducer(id, nodes) { continue }
            let name = "int8 \(network.kind) \(node.name)"
            switch network.compiled[id] {
            case .input, .alias, .concat:
                continue
            case let .conv(conv):
                let step = try qConvStep(conv, input: view(node.inputs[0]), residual: fusion.residualOf[id].map(view),
                                         output: view(id), name: name)
                steps.append((id, step.run))
            case let .depthwise(dw):
                let step = try qDepthwiseStep(dw, input: view(node.inputs[0]), output: view(id), name: name)
                steps.append((id, step.run))
            case let .pool(pool):
                let step = try qPoolStep(pool, input: view(node.inputs[0]), output: view(id), name: name)
                steps.append((id, step.run))
            case let .shuffle(groups):
                let x = view(node.inputs[0]), y = view(id)
                steps.append((id, { pool in
                    try check(mk_channel_shuffle_qs8(groups, x.shape.c, x.shape.pixels, x.pointer, x.pixelStride, y.pointer,
                                                     y.pixelStride, pool.handle), name)
                }))
            case let .add(activation):
                let a = view(node.inputs[0]), b = view(node.inputs[1]), y = view(id)
                let (qa, qb, qy) = (q[node.inputs[0]]!.cValue, q[node.inputs[1]]!.cValue, q[id]!.cValue)
                steps.append((id, { pool in
                    try check(mk_add_qs8(y.shape.pixels, y.shape.c, a.pointer, a.pixelStride, qa, b.pointer, b.pixelStride, qb,
                                         y.pointer, y.pixelStride, qy, activation.cValue, pool.handle), name)
                }))
            case let .squeezeExcitation(se):
                let step = try qSqueezeExcitationStep(se, input: view(node.inputs[0]), output: view(id), name: name)
                steps.append((id, step.run))
            case let .classifier(linear):
                // The features (flattened: one pixel per image) into float logits.
                let x = view(featureNode)
                let flat = QView(storage: x.storage, shape: try TensorShape(n: batch, h: 1, w: 1, c: x.shape.count / batch),
                                 channelOffset: x.channelOffset, pixelStride: x.pixelStride * x.shape.pixels / batch)
                let step = try qConvStep(linear, input: flat, residual: nil, output: nil, floatOutput: logits, name: name)
                steps.append((id, step.run))
            }
            if let table = network.tables[id] {
                // Hard-swish in place: the step above wrote the pre-activation sums.
                let y = view(id)
                steps.append((id, { pool in
                    try table.withUnsafeBufferPointer { t in
                        try check(mk_lut_qs8(y.shape.pixels, y.shape.c, t.baseAddress!, y.pointer, y.pixelStride, y.pointer,
                                             y.pixelStride, pool.handle), name)
                    }
                }))
            }
        }
        self.network = network
        self.steps = steps.map(\.run)
        stepNodes = steps.map(\.node)
        inputShape = imageShape
        outputShape = shapes[last]
        input = view(0)
        inputQuantization = q[0]!
        self.logits = logits
        peakActivationBytes = layout.capacities.reduce(0, +) + (imageShape.count + shapes[last].count) * MemoryLayout<Float>.stride
    }

    /// Runs the network on `input` (`inputShape`, NHWC float32) and writes the logits into
    /// `output` (`outputShape`). Allocates nothing.
    public func predict(_ image: Tensor, into output: inout Tensor, threadPool: ThreadPool = .shared) throws {
        guard image.shape == inputShape else {
            throw MobileKernelsError(.shapeMismatch, "int8 \(network.kind) plan: input \(image.shape), expected \(inputShape) (NHWC; use Tensor(shape:nchw:) for PyTorch's order)")
        }
        guard output.shape == outputShape else {
            throw MobileKernelsError(.shapeMismatch, "int8 \(network.kind) plan: output \(output.shape), expected \(outputShape)")
        }
        lock.lock()
        defer { lock.unlock() }
        try quantizeInput(image, threadPool)
        for step in steps { try step(threadPool) }
        output.withUnsafeMutableBufferPointer { dst in
            dst.baseAddress!.update(from: logits.pointer, count: dst.count)
        }
    }

    /// The image into the int8 input buffer (its quantization; 4 bytes per pixel when the stem is padded).
    private func quantizeInput(_ image: Tensor, _ threadPool: ThreadPool) throws {
        let x = input, qx = inputQuantization.cValue
        // The padded stem's fourth byte: zero weight, but never left uninitialized.
        if x.pixelStride > 3 { x.pointer.update(repeating: 0, count: x.shape.pixels * x.pixelStride) }
        try image.withUnsafeBufferPointer { src in
            try check(mk_quantize_f32_qs8(x.shape.pixels, 3, src.baseAddress!, 3, x.pointer, x.pixelStride, qx, threadPool.handle),
                      "int8 \(network.kind) input")
        }
    }

    /// Runs the network on `image` and returns the logits `[batch, 1, 1, classes]`.
    public func predict(_ image: Tensor, threadPool: ThreadPool = .shared) throws -> Tensor {
        var output = try Tensor(shape: outputShape)
        try predict(image, into: &output, threadPool: threadPool)
        return output
    }

    /// Per node, the median time of its steps over `repetitions` runs on `image` (the input's quantization first).
    public func profile(_ image: Tensor, threadPool: ThreadPool = .shared, repetitions: Int = 10) throws
        -> [(node: String, milliseconds: Double)] {
        var output = try Tensor(shape: outputShape)
        try predict(image, into: &output, threadPool: threadPool)
        lock.lock()
        defer { lock.unlock() }
        var times = [[Double]](repeating: [], count: steps.count)
        var quantize: [Double] = []
        for _ in 0..<max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            try quantizeInput(image, threadPool)
            quantize.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            for (i, step) in steps.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try step(threadPool)
                times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        let nodes = network.architecture.nodes
        var result: [(node: String, milliseconds: Double)] = [("\(nodes[0].name) (quantize)", quantize.sorted()[quantize.count / 2])]
        var i = 0
        while i < steps.count {
            // A node's steps (the logits' dequantize and layer) add up under one label.
            var total = times[i].sorted()[times[i].count / 2]
            while i + 1 < steps.count, stepNodes[i + 1] == stepNodes[i] {
                i += 1
                total += times[i].sorted()[times[i].count / 2]
            }
            let node = nodes[stepNodes[i]]
            result.append(("\(node.name) \(InferencePlan.describe(node.operation))", total))
            i += 1
        }
        return result
    }
}

/// An int8 operator on fixed views (a plan's step): planned by its C reshape for the thread
/// count of the pool it last ran on, and planned again (without allocating) when a run's pool
/// has another. `Plan` is the operator's C plan type.
final class QStep<Plan> {
    private var plan: Plan
    private var threads = 0
    private let reshape: (ThreadPool, inout Plan) throws -> Void
    private let execute: (inout Plan, ThreadPool) throws -> Void

    /// Planned for one thread at once (so bad shapes fail when the network plans).
    init(_ empty: Plan, reshape: @escaping (ThreadPool, inout Plan) throws -> Void,
         run: @escaping (inout Plan, ThreadPool) throws -> Void) throws {
        (plan, self.reshape, execute) = (empty, reshape, run)
        try replan(.serial)
    }

    /// The plan for the thread count it last ran on (one thread before any run).
    var current: Plan { plan }

    private func replan(_ pool: ThreadPool) throws {
        var planned = plan
        try reshape(pool, &planned)
        plan = planned
        threads = pool.threadCount
    }

    func run(_ pool: ThreadPool) throws {
        if threads != pool.threadCount { try replan(pool) }
        try execute(&plan, pool)
    }
}

/// An int8 convolution step: int8 output (`output`) or, for a layer made with `floatOutput`,
/// float32 (`floatOutput`).
func qConvStep(_ conv: QConv2D, input: QView, residual: QView?, output: QView?, floatOutput: TensorView? = nil,
               name: String) throws -> QStep<mk_conv2d_qs8_plan> {
    let shape = try conv.outputShape(for: input.shape)
    guard (output == nil) == conv.floatOutput, (floatOutput == nil) != conv.floatOutput,
          (output?.shape ?? floatOutput?.shape) == shape, residual.map({ $0.shape == shape }) ?? true else {
        throw MobileKernelsError(.shapeMismatch, "\(name): output \(String(describing: output?.shape ?? floatOutput?.shape)), expected \(shape)")
    }
    return try QStep(mk_conv2d_qs8_plan(), reshape: { pool, plan in
        try check(mk_conv2d_qs8_reshape(conv.op, input.shape.n, input.shape.h, input.shape.w, input.pixelStride,
                                        output?.pixelStride ?? floatOutput!.pixelStride, residual?.pixelStride ?? 0,
                                        pool.handle, &plan), name)
    }, run: { plan, pool in
        if let output {
            try check(mk_conv2d_qs8_run(conv.op, &plan, input.pointer, output.pointer, residual.map { UnsafePointer($0.pointer) },
                                        pool.handle), name)
        } else {
            try check(mk_conv2d_qs8_run_f32(conv.op, &plan, input.pointer, floatOutput!.pointer, pool.handle), name)
        }
    })
}

/// An int8 depthwise convolution step.
func qDepthwiseStep(_ dw: QDepthwiseConv2D, input: QView, output: QView, name: String) throws -> QStep<mk_dwconv2d_qs8_plan> {
    let shape = try dw.outputShape(for: input.shape)
    guard shape == output.shape else {
        throw MobileKernelsError(.shapeMismatch, "\(name): output \(output.shape), expected \(shape)")
    }
    return try QStep(mk_dwconv2d_qs8_plan(), reshape: { pool, plan in
        try check(mk_dwconv2d_qs8_reshape(dw.op, input.shape.n, input.shape.h, input.shape.w, input.pixelStride,
                                          output.pixelStride, pool.handle, &plan), name)
    }, run: { plan, pool in
        try check(mk_dwconv2d_qs8_run(dw.op, &plan, input.pointer, output.pointer, pool.handle), name)
    })
}

/// An int8 pooling step.
func qPoolStep(_ op: QPool, input: QView, output: QView, name: String) throws -> QStep<mk_pool2d_qs8_plan> {
    let step = try QStep(mk_pool2d_qs8_plan(), reshape: { pool, plan in
        try check(mk_pool2d_qs8_reshape(op.op, input.shape.n, input.shape.h, input.shape.w, input.pixelStride,
                                        output.pixelStride, pool.handle, &plan), name)
    }, run: { plan, pool in
        try check(mk_pool2d_qs8_run(op.op, &plan, input.pointer, output.pointer, pool.handle), name)
    })
    guard step.current.out_h == output.shape.h, step.current.out_w == output.shape.w else {
        throw MobileKernelsError(.shapeMismatch, "\(name): output \(output.shape), the pool gives \(step.current.out_h) x \(step.current.out_w)")
    }
    return step
}

/// An int8 squeeze-and-excitation step (in place when the views are the same).
func qSqueezeExcitationStep(_ se: QSqueezeExcitation, input: QView, output: QView,
                            name: String) throws -> QStep<mk_squeeze_excitation_qs8_plan> {
    guard input.shape == output.shape, input.shape.c == se.channels else {
        throw MobileKernelsError(.shapeMismatch, "\(name): input \(input.shape), output \(output.shape), \(se.channels) channels")
    }
    return try QStep(mk_squeeze_excitation_qs8_plan(), reshape: { pool, plan in
        try check(mk_squeeze_excitation_qs8_reshape(se.op, input.shape.n, input.shape.h, input.shape.w, input.pixelStride,
                                                    output.pixelStride, pool.handle, &plan), name)
    }, run: { plan, pool in
        try check(mk_squeeze_excitation_qs8_run(se.op, &plan, input.pointer, output.pointer, pool.handle), name)
    })
}

extension Trainer {
    /// Top-1 accuracy of the int8 `network` on `data`, and with `float` (the network it was
    /// quantized from) that network's accuracy and the share of images on which both give the
    /// same top-1 class: both through plans of `batch` images.
    public static func evaluate(_ network: QuantizedNetwork, float: Network? = nil, data: ImageDataset,
                                transform: ImageTransform, batch: Int = 100, threadPool: ThreadPool = .shared) throws
        -> (accuracy: Double, floatAccuracy: Double?, agreement: Double?) {
        let b = min(batch, data.count)
        let loader = try BatchLoader(dataset: data, batch: b, transform: transform, shuffle: false, dropLast: false)
        let plan = try network.plan(batch: b, height: transform.size, width: transform.size)
        let floatPlan = try float?.plan(batch: b, height: transform.size, width: transform.size)
        var output = try Tensor(shape: plan.outputShape), floatOutput = try Tensor(shape: plan.outputShape)
        let classes = plan.outputShape.c
        var correct = 0, floatCorrect = 0, agree = 0
        func top(_ z: UnsafeBufferPointer<Float>, _ i: Int) -> Int {
            var best = 0
            for j in 1..<classes where z[i * classes + j] > z[i * classes + best] { best = j }
            return best
        }
        try loader.forEachBatch(epoch: 0) { _, images, labels in
            try plan.predict(images, into: &output, threadPool: threadPool)
            try floatPlan?.predict(images, into: &floatOutput, threadPool: threadPool)
            output.withUnsafeBufferPointer { z in
                floatOutput.withUnsafeBufferPointer { f in
                    for (i, label) in labels.enumerated() {
                        let mine = top(z, i)
                        if mine == label { correct += 1 }
                        guard floatPlan != nil else { continue }
                        let theirs = top(f, i)
                        if theirs == label { floatCorrect += 1 }
                        if theirs == mine { agree += 1 }
                    }
                }
            }
        }
        let n = Double(data.count)
        return (Double(correct) / n, floatPlan.map { _ in Double(floatCorrect) / n }, floatPlan.map { _ in Double(agree) / n })
    }
}
