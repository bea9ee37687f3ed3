import Foundation

/// A network's int8 form, from post-training quantization (XNNPACK's QS8 with per-channel
/// weights, see CKernels/README.md "int8"):
/// - every convolution's (and hidden linear layer's) weights in int8 [-127, 127] with one scale
///   per output channel, `max|w| / 127`, BatchNorm folded in first; its bias in real units (the
///   network quantizes it to int32 as `round(b / (input scale * weight scale))`);
/// - the quantization of every tensor the int8 network materializes, asymmetric per tensor,
///   from the min and max each reaches on calibration images (widened to include 0);
/// - the last linear layer (the logits) kept in float32 here; the network quantizes its weights
///   per output channel and writes float32 logits from the int32 sums (`(sum + bias) * input
///   scale * weight scale`): int8 logits of 256 levels would tie the top classes of many images.
///
/// Tensors that only move bytes share their input's quantization (max pooling, flatten, channel
/// shuffle), and so does adaptive average pooling (its averages stay in its input's range, and a
/// plan whose input size makes it the identity runs no step for it); a residual convolution's
/// output is the add's; both inputs of a channel concat are requantized into the concat's.
///
/// MobileNetV3's layers:
/// - a convolution or hidden linear layer with hard-swish writes its sums without activation at
///   a pre-activation quantization (`preActivation`), and a lookup table then applies hard-swish
///   in place (int8 to int8, into the output's quantization). Calibration measures both: the
///   float network it runs has each such layer without its activation and hard-swish as a
///   separate step after it. The pre-activation range starts at -3 at the lowest (hard-swish is
///   0 below -3, so clamping there loses nothing);
/// - squeeze-and-excitation keeps its two small layers in float32 (read from the float tensors'
///   names), scales the int8 tensor in place and keeps its input's quantization (each channel is
///   multiplied by a gate in [0, 1]).
///
/// Supported: every architecture of `ModelKind`; a hard-sigmoid convolution or linear layer (none
/// of them has one) throws `.unsupported`.
///
/// Saved as safetensors (`save`, `init(contentsOf:)`): the int8 weights as I8 under the float
/// tensors' names, their scales as `<weight name>_scale` (F32), the folded biases as F32 under
/// the float bias names (`<prefix>.bias`), each materialized tensor's quantization as
/// `quantization.<node name>` (F32 [scale, zero point]; a hard-swish layer's pre-activation
/// quantization as `quantization.<node name>.preactivation`), the logits' layer and the
/// squeeze-and-excitation layers as F32 under their float names.
public struct QuantizedModel: @unchecked Sendable {
    public let architecture: Architecture
    /// Per node, the quantization of its output; nil for the float logits.
    public let quantization: [Quantization?]
    /// Metadata carried from the float checkpoint (its variant, mean and std, image size), saved
    /// with the model.
    public var metadata: [String: String]

    struct Weights {
        var values: [Int8]    // PyTorch's layout
        var scales: [Float]   // per output channel
        var bias: [Float]     // real units, folded; zeros where the layer has none
    }
    /// Per int8 convolution or linear node.
    let weights: [Int: Weights]
    /// The logits' linear layer in PyTorch's layout [out, in] (columns in PyTorch's flatten order).
    let classifierWeights: [Float]
    let classifierBias: [Float]

    /// A squeeze-and-excitation's float layers, PyTorch's layouts: fc1 [squeeze, channels], fc2
    /// [channels, squeeze].
    struct SqueezeExcitationWeights {
        var fc1: [Float], fc1Bias: [Float], fc2: [Float], fc2Bias: [Float]

        /// The four tensors of `se.parameters`, each read by `tensor(name, shape)`.
        init(_ se: SqueezeExcitationSpec, _ tensor: (String, [Int]) throws -> [Float]) throws {
            let t = try se.parameters.map { try tensor($0.name, $0.shape) }
            (fc1, fc1Bias, fc2, fc2Bias) = (t[0], t[1], t[2], t[3])
        }

        /// In `SqueezeExcitationSpec.parameters`' order.
        var all: [[Float]] { [fc1, fc1Bias, fc2, fc2Bias] }
    }
    /// Per squeeze-and-excitation node.
    let squeezeExcitation: [Int: SqueezeExcitationWeights]
    /// Per hard-swish layer (`isHardswish`), the quantization of its sums before the activation.
    public let preActivation: [Int: Quantization]

    init(architecture: Architecture, quantization: [Quantization?], preActivation: [Int: Quantization],
         metadata: [String: String], weights: [Int: Weights], classifierWeights: [Float], classifierBias: [Float],
         squeezeExcitation: [Int: SqueezeExcitationWeights]) {
        self.architecture = architecture
        self.quantization = quantization
        self.preActivation = preActivation
        self.metadata = metadata
        self.weights = weights
        self.classifierWeights = classifierWeights
        self.classifierBias = classifierBias
        self.squeezeExcitation = squeezeExcitation
    }

    /// The pre-activation quantization of a hard-swish layer whose sums reach [lo, hi] on the
    /// calibration images: the range from max(lo, -3) (hard-swish is 0 below -3).
    static func hardswishInput(lo: Float, hi: Float) -> Quantization {
        Quantization(min: Swift.max(lo, -3), max: hi)
    }

    /// The float architecture calibration runs: each hard-swish layer (`hardswish`) without its
    /// activation, then a 1x1 average pool with hard-swish into a concat of that one input (an
    /// activation step no fusion puts back into the layer, so the layer's output is its sums).
    /// `output[id]`: the node that holds node id's output; `sums[id]`: a hard-swish layer's node.
    static func calibrationArchitecture(_ architecture: Architecture, hardswish: Set<Int>)
        -> (architecture: Architecture, output: [Int], sums: [Int: Int]) {
        var nodes: [Node] = []
        var output = [Int](repeating: 0, count: architecture.nodes.count)
        var sums: [Int: Int] = [:]
        for node in architecture.nodes {
            let inputs = node.inputs.map { output[$0] }
            var operation = node.operation
            if hardswish.contains(node.id) {
                switch operation {
                case var .conv(spec): spec.activation = .none; operation = .conv(spec)
                case var .linear(spec): spec.activation = .none; operation = .linear(spec)
                default: break
                }
            }
            nodes.append(Node(id: nodes.count, name: node.name, operation: operation, inputs: inputs))
            output[node.id] = nodes.count - 1
            guard hardswish.contains(node.id) else { continue }
            sums[node.id] = nodes.count - 1
            nodes.append(Node(id: nodes.count, name: node.name + ".calibration.pool",
                              operation: .avgPool(kernel: 1, stride: 1, padding: 0, countIncludePad: true),
                              inputs: [nodes.count - 1]))
            nodes.append(Node(id: nodes.count, name: node.name + ".calibration.hardswish",
                              operation: .concat(activation: .hardswish), inputs: [nodes.count - 1]))
            output[node.id] = nodes.count - 1
        }
        let a = architecture
        return (Architecture(kind: a.kind, widthMultiplier: a.widthMultiplier, numClasses: a.numClasses, nodes: nodes,
                             stemStride: a.stemStride, stemPool: a.stemPool), output, sums)
    }

    /// Whether node `id` is a convolution or hidden linear layer with hard-swish (its sums are
    /// requantized at its `preActivation` quantization and a lookup table applies the activation).
    func isHardswish(_ id: Int) -> Bool { QuantizedModel.isHardswish(architecture, id) }

    static func isHardswish(_ architecture: Architecture, _ id: Int) -> Bool {
        switch architecture.nodes[id].operation {
        case let .conv(spec): spec.activation == .hardswish
        case let .linear(spec): spec.activation == .hardswish && id != architecture.nodes.count - 1
        default: false
        }
    }

    /// The file format's name, in the metadata of every saved model.
    public static let format = "mobilekernels-qs8"

    /// Why `architecture` has no int8 form, or nil when it has one.
    public static func unsupportedReason(_ architecture: Architecture) -> String? {
        guard let last = architecture.nodes.last, case .linear = last.operation else {
            return "the last node must be a linear layer (the logits)"
        }
        for node in architecture.nodes {
            switch node.operation {
            case let .conv(spec) where spec.activation == .hardsigmoid:
                return "a hard-sigmoid convolution (\(node.name)) has no int8 form"
            case let .linear(spec) where spec.activation == .hardsigmoid || (spec.activation == .hardswish && node.id == architecture.nodes.count - 1):
                return "a hard-sigmoid linear layer or hard-swish logits (\(node.name)) have no int8 form"
            case let .add(activation) where activation == .hardswish || activation == .hardsigmoid,
                 let .concat(activation) where activation == .hardswish || activation == .hardsigmoid:
                return "an add or concat with hard-swish or hard-sigmoid (\(node.name)) has no int8 form"
            default:
                continue
            }
        }
        return nil
    }

    // MARK: - Calibration

    /// Quantizes `weights` (float, PyTorch names) for `architecture`, with the activation ranges
    /// the float network reaches on `images` (`[n, h, w, 3]` NHWC, normalized as for inference;
    /// every image counts, in batches of at most `batch`).
    /// - Throws: `.unsupported` for an architecture without an int8 form; `.invalidArgument` for
    ///   no images, a non-finite weight or activation; the float network's errors.
    public static func calibrate(architecture: Architecture, weights: WeightSource, images: Tensor, batch: Int = 8,
                                 metadata: [String: String] = [:], threadPool: ThreadPool = .shared) throws -> QuantizedModel {
        if let reason = unsupportedReason(architecture) {
            throw MobileKernelsError(.unsupported, "int8 \(architecture.kind.specName): \(reason)")
        }
        guard images.shape.c == 3, images.shape.n >= 1, batch >= 1 else {
            throw MobileKernelsError(.invalidArgument, "int8 calibration: images \(images.shape) must be [n >= 1, h, w, 3] and the batch at least 1")
        }
        let source = try weights.materialized(for: architecture)
        let hardswish = Set(architecture.nodes.map(\.id).filter { isHardswish(architecture, $0) })
        let (calibration, output, sums) = calibrationArchitecture(architecture, hardswish: hardswish)
        let network = try Network(architecture: calibration, weights: source)
        let nodes = calibration.nodes
        var lo = [Float](repeating: .infinity, count: nodes.count)
        var hi = [Float](repeating: -.infinity, count: nodes.count)
        let n = images.shape.n, (h, w) = (images.shape.h, images.shape.w)
        let perImage = h * w * 3
        var plans: [Int: InferencePlan] = [:]
        try images.withUnsafeBufferPointer { all in
            var start = 0
            while start < n {
                let count = min(batch, n - start)
                if plans[count] == nil { plans[count] = try network.plan(batch: count, height: h, width: w, lifetime: .keepAll) }
                let plan = plans[count]!
                let chunk = try Tensor(shape: TensorShape(n: count, h: h, w: w, c: 3),
                                       nhwc: Array(all[(start * perImage)..<((start + count) * perImage)]))
                _ = try plan.predict(chunk, threadPool: threadPool)
                for id in 0..<nodes.count {
                    guard let view = plan.nodeViews[id] else { continue }
                    let p = view.pointer, c = view.shape.c
                    var a = lo[id], b = hi[id]
                    for pixel in 0..<view.shape.pixels {
                        let row = p + pixel * view.pixelStride
                        for ch in 0..<c {
                            let v = row[ch]
                            a = Swift.min(a, v)
                            b = Swift.max(b, v)
                        }
                    }
                    guard a.isFinite, b.isFinite else {
                        throw MobileKernelsError(.invalidArgument, "int8 calibration: \(nodes[id].name) computed a non-finite value")
                    }
                    (lo[id], hi[id]) = (a, b)
                }
                start += count
            }
        }
        let quantization = try materialized(architecture, Fusion(architecture, shuffles: false)) { id in
            Quantization(min: lo[output[id]], max: hi[output[id]])
        }
        let preActivation = sums.mapValues { hardswishInput(lo: lo[$0], hi: hi[$0]) }
        var quantized: [Int: Weights] = [:]
        var classifier: (weights: [Float], bias: [Float]) = ([], [])
        var squeezeExcitation: [Int: SqueezeExcitationWeights] = [:]
        for node in architecture.nodes {
            switch node.operation {
            case let .squeezeExcitation(se):
                squeezeExcitation[node.id] = try SqueezeExcitationWeights(se) { name, shape in
                    try source.tensor(name, shape: shape, role: shape.count == 1 ? .bias : .weight)
                }
            case let .conv(spec):
                let (w, b) = try Network.foldedConv(spec, source)
                let (values, scales) = try perChannel(w, outputs: spec.outChannels, node.name)
                quantized[node.id] = Weights(values: values, scales: scales,
                                             bias: b.isEmpty ? [Float](repeating: 0, count: spec.outChannels) : b)
            case let .linear(spec):
                let w = try source.tensor(spec.weightKey, shape: [spec.outFeatures, spec.inFeatures], role: .weight)
                let b = try spec.biasKey.map { try source.tensor($0, shape: [spec.outFeatures], role: .bias) }
                    ?? [Float](repeating: 0, count: spec.outFeatures)
                if node.id == architecture.nodes.count - 1 {
                    classifier = (w, b)
                } else {
                    let (values, scales) = try perChannel(w, outputs: spec.outFeatures, node.name)
                    quantized[node.id] = Weights(values: values, scales: scales, bias: b)
                }
            default:
                continue
            }
        }
        return QuantizedModel(architecture: architecture, quantization: quantization, preActivation: preActivation,
                              metadata: metadata,
                              weights: quantized, classifierWeights: classifier.weights, classifierBias: classifier.bias,
                              squeezeExcitation: squeezeExcitation)
    }

    /// Symmetric per-output-channel int8: scale `max|w| / 127` (1 for an all-zero channel),
    /// values `round_half_even(w / scale)` in [-127, 127].
    static func perChannel(_ w: [Float], outputs: Int, _ name: String) throws -> (values: [Int8], scales: [Float]) {
        let per = w.count / outputs
        var values = [Int8](repeating: 0, count: w.count)
        var scales = [Float](repeating: 1, count: outputs)
        for o in 0..<outputs {
            let row = w[(o * per)..<((o + 1) * per)]
            guard row.allSatisfy(\.isFinite) else {
                throw MobileKernelsError(.invalidArgument, "int8 quantization: \(name) has a non-finite weight")
            }
            let m = row.reduce(0) { Swift.max($0, abs($1)) }
            let scale = m > 0 ? m / 127 : 1
            scales[o] = scale
            for i in row.indices {
                values[i] = Int8(Swift.max(-127, Swift.min(127, (w[i] / scale).rounded(.toNearestOrEven))))
            }
        }
        return (values, scales)
    }

    /// Every node's output quantization from the measured one of the nodes that compute a new
    /// tensor (`measured(id)`): tensors that only move bytes take their input's, and so does
    /// squeeze-and-excitation (in place), fused producers their consumer's (the tensor they
    /// write), the logits none.
    static func materialized(_ architecture: Architecture, _ fusion: Fusion,
                             _ measured: (Int) throws -> Quantization) throws -> [Quantization?] {
        let nodes = architecture.nodes
        var q = [Quantization?](repeating: nil, count: nodes.count)
        // Fused producers come before their consumer: resolve consumers first where needed.
        func owner(_ id: Int) -> Int {
            var r = id
            while let target = fusion.fusedInto[r] { r = target }
            return r
        }
        for node in nodes {
            let id = node.id
            switch node.operation {
            case .maxPool, .flatten, .channelShuffle, .adaptiveAvgPool, .squeezeExcitation:
                q[id] = q[node.inputs[0]]
            case .linear where id == nodes.count - 1:
                q[id] = nil
            default:
                q[id] = try measured(owner(id))
            }
        }
        return q
    }

    // MARK: - File

    /// Writes the model as safetensors at `path` (atomically; see the type's notes for the names).
    public func save(to path: String) throws {
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        var bytes: Set<String> = []
        for node in architecture.nodes {
            if let q = quantization[node.id] {
                tensors.append(("quantization.\(node.name)", [2], [q.scale, Float(q.zeroPoint)]))
            }
            if let q = preActivation[node.id] {
                tensors.append(("quantization.\(node.name).preactivation", [2], [q.scale, Float(q.zeroPoint)]))
            }
            switch node.operation {
            case let .squeezeExcitation(se):
                tensors += zip(se.parameters, squeezeExcitation[node.id]!.all).map { ($0.name, $0.shape, $1) }
            case let .conv(spec):
                let w = weights[node.id]!
                tensors.append((spec.weightKey, spec.weightShape, w.values.map { Float($0) }))
                bytes.insert(spec.weightKey)
                tensors.append((spec.weightKey + "_scale", [spec.outChannels], w.scales))
                tensors.append((QuantizedModel.biasName(spec.weightKey), [spec.outChannels], w.bias))
            case let .linear(spec):
                if let w = weights[node.id] {
                    tensors.append((spec.weightKey, [spec.outFeatures, spec.inFeatures], w.values.map { Float($0) }))
                    bytes.insert(spec.weightKey)
                    tensors.append((spec.weightKey + "_scale", [spec.outFeatures], w.scales))
                    tensors.append((QuantizedModel.biasName(spec.weightKey), [spec.outFeatures], w.bias))
                } else {
                    tensors.append((spec.weightKey, [spec.outFeatures, spec.inFeatures], classifierWeights))
                    tensors.append((QuantizedModel.biasName(spec.weightKey), [spec.outFeatures], classifierBias))
                }
            default:
                continue
            }
        }
        var meta = metadata
        meta["format"] = QuantizedModel.format
        meta["model"] = architecture.kind.specName
        try SafeTensorsFile.write(tensors, metadata: meta, int8: bytes, to: path)
    }

    /// Reads a model `save` wrote, for `architecture` (which must be the one it was made for).
    /// - Throws: `.invalidFile` for another format or model, a missing tensor, a wrong shape or
    ///   dtype, a weight outside [-127, 127], a scale that is not finite and positive, a
    ///   quantization that is not valid; `.unsupported` as `calibrate`.
    public init(contentsOf path: String, architecture: Architecture) throws {
        try self.init(file: try SafeTensorsFile(path: path), architecture: architecture)
    }

    /// Whether `file` holds an int8 model (its metadata names the format).
    public static func isQuantized(_ file: SafeTensorsFile) -> Bool { file.metadata["format"] == format }

    /// Reads an int8 model from an open file (see `init(contentsOf:architecture:)`).
    public init(file: SafeTensorsFile, architecture: Architecture) throws {
        if let reason = QuantizedModel.unsupportedReason(architecture) {
            throw MobileKernelsError(.unsupported, "int8 \(architecture.kind.specName): \(reason)")
        }
        let source = file.source
        guard file.metadata["format"] == QuantizedModel.format else {
            throw MobileKernelsError(.invalidFile, "\(source): not an int8 model (metadata format is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(QuantizedModel.format)'; make one with `mobilekernels quantize`)")
        }
        guard file.metadata["model"] == architecture.kind.specName else {
            throw MobileKernelsError(.invalidFile, "\(source): an int8 \(file.metadata["model"] ?? "unknown") model, expected \(architecture.kind.specName)")
        }
        func floats(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let info = file.tensors.first(where: { $0.name == name }) else {
                throw MobileKernelsError(.invalidFile, "\(source): missing tensor '\(name)'")
            }
            guard info.shape == shape else {
                throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' has shape \(info.shape), expected \(shape)")
            }
            return try info.dtype == "I8" ? file.integers(name).map { Float($0) } : file.floats(name)
        }
        func int8(_ name: String, _ shape: [Int]) throws -> [Int8] {
            guard let info = file.tensors.first(where: { $0.name == name }), info.dtype == "I8" else {
                throw MobileKernelsError(.invalidFile, "\(source): missing I8 tensor '\(name)'")
            }
            guard info.shape == shape else {
                throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' has shape \(info.shape), expected \(shape)")
            }
            let values = try file.integers(name)
            guard values.allSatisfy({ $0 >= -127 && $0 <= 127 }) else {
                throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' holds -128 (int8 weights are in [-127, 127])")
            }
            return values.map { Int8($0) }
        }
        func scales(_ name: String, _ count: Int) throws -> [Float] {
            let s = try floats(name, [count])
            guard s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' holds a scale that is not finite and positive")
            }
            return s
        }
        func finite(_ name: String, _ shape: [Int]) throws -> [Float] {
            let v = try floats(name, shape)
            guard v.allSatisfy(\.isFinite) else {
                throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' holds a non-finite value")
            }
            return v
        }
        let nodes = architecture.nodes
        func quantization(_ name: String) throws -> Quantization {
            let v = try finite(name, [2])
            let q = Quantization(scale: v[0], zeroPoint: Int32(exactly: v[1]) ?? Int32.max)
            guard q.isValid else {
                throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' is not a quantization (scale \(v[0]) must be finite and positive, zero point \(v[1]) an int8 value)")
            }
            return q
        }
        let stored = try QuantizedModel.materialized(architecture, Fusion(architecture, shuffles: false)) { id in
            try quantization("quantization.\(nodes[id].name)")
        }
        var preActivation: [Int: Quantization] = [:]
        for node in nodes where QuantizedModel.isHardswish(architecture, node.id) {
            preActivation[node.id] = try quantization("quantization.\(node.name).preactivation")
        }
        var weights: [Int: Weights] = [:]
        var classifier: (weights: [Float], bias: [Float]) = ([], [])
        var squeezeExcitation: [Int: SqueezeExcitationWeights] = [:]
        for node in nodes {
            switch node.operation {
            case let .squeezeExcitation(se):
                squeezeExcitation[node.id] = try SqueezeExcitationWeights(se, finite)
            case let .conv(spec):
                weights[node.id] = Weights(values: try int8(spec.weightKey, spec.weightShape),
                                           scales: try scales(spec.weightKey + "_scale", spec.outChannels),
                                           bias: try finite(QuantizedModel.biasName(spec.weightKey), [spec.outChannels]))
            case let .linear(spec):
                let shape = [spec.outFeatures, spec.inFeatures]
                let bias = try finite(QuantizedModel.biasName(spec.weightKey), [spec.outFeatures])
                if node.id == nodes.count - 1 {
                    classifier = (try finite(spec.weightKey, shape), bias)
                } else {
                    weights[node.id] = Weights(values: try int8(spec.weightKey, shape),
                                               scales: try scales(spec.weightKey + "_scale", spec.outFeatures), bias: bias)
                }
            default:
                continue
            }
        }
        var metadata = file.metadata
        metadata["format"] = nil
        metadata["model"] = nil
        self.init(architecture: architecture, quantization: stored, preActivation: preActivation, metadata: metadata,
                  weights: weights,
                  classifierWeights: classifier.weights, classifierBias: classifier.bias,
                  squeezeExcitation: squeezeExcitation)
    }

    /// The bias name of a layer whose weight is `weightKey` ("<prefix>.weight" -> "<prefix>.bias").
    static func biasName(_ weightKey: String) -> String {
        weightKey.hasSuffix(".weight") ? String(weightKey.dropLast(".weight".count)) + ".bias" : weightKey + "_bias"
    }
}
