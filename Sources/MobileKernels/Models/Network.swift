/// A whole network on MobileKernels' layers: an `Architecture` (MobileNetV1/V2/V3, ShuffleNetV1,
/// VGG16, AlexNet) with its weights loaded, BatchNorm folded into the convolutions, and each node
/// turned into a layer (weights packed once). Run it through an `InferencePlan`, made once per
/// batch size and input size, which owns every activation buffer:
///
///     let net = try Network(.mobileNetV2, weights: .safetensors(path: "mobilenet_v2.safetensors"))
///     let plan = try net.plan(batch: 1, height: 224, width: 224)
///     let logits = try plan.predict(image)          // [1, 1, 1, 1000]
///
/// Fusions (same results as the unfused graph, fewer passes over memory): a convolution whose
/// only consumer is a residual add adds the other input in its store and takes the add's
/// activation; the convolution before a channel shuffle with its own group count writes its
/// output in shuffled order; the inputs of a channel concat (ShuffleNet's stride-2 units) write
/// straight into their channel slice of the concat's buffer; squeeze-and-excitation scales in
/// place; flatten and an identity adaptive pool are free.
///
/// A network is immutable after `init` and may be shared: several threads can predict at once,
/// each with its own plan.
public final class Network: @unchecked Sendable {
    public let architecture: Architecture
    public var kind: ModelKind { architecture.kind }
    /// The kernel variant every layer was created with (`.auto` resolved per layer).
    public let variant: Variant

    /// How each node runs: its layer, typed where a plan needs more than `Layer.forward`.
    enum Compiled {
        case input
        case conv(Conv2D)                  // convolutions (grouped and fallback depthwise too), linear layers under .blis
        case linear(LinearWeights)         // linear layers: PyTorch's input order, packed in slices
        case depthwise(DepthwiseConv2D)    // may run in bands with the expansion before it
        case layer(Layer)                  // other one-input layers: pools, channel shuffle, SE
        case add(Add)
        case alias                         // flatten: same memory, new shape
        /// Per input, the copy (the concat's activation) into its channel slice; nil for an
        /// input fused into its slice.
        case concat([BiasActivation?])
    }

    let compiled: [Compiled]
    /// The fusions compiled in (see `Fusion`).
    let fusion: Fusion

    /// The bytes the network holds for its weights: every layer's packed weights (Winograd
    /// layers' transformed ones, 4x) and biases. The network keeps nothing of its source: a
    /// weights file may be rewritten or deleted once the network is made.
    public var weightBytes: Int {
        compiled.reduce(0) { total, layer in
            switch layer {
            case let .conv(conv): total + conv.weightBytes
            case let .depthwise(depthwise): total + depthwise.weightBytes
            case let .layer(se as SqueezeExcitation): total + se.weightBytes
            case let .linear(linear): total + linear.weightBytes
            default: total
            }
        }
    }

    /// - Parameters:
    ///   - weights: the parameters by their PyTorch names; `.random()` for benchmarks.
    ///   - variant: the kernel variant of every layer (`.auto`: the best this CPU has); `.blis`
    ///     runs the 1x1 convolutions and the fully connected layers on BLIS and everything else on
    ///     `.auto`.
    ///   - convAlgorithm: how the dense convolutions compute (`.auto`: Winograd for the 3x3
    ///     stride-1 layers of at least 32 channels, see `ConvAlgorithm`); `.direct` runs every
    ///     one directly (for comparison); `.winograd` is `.auto` (layers Winograd cannot compute
    ///     stay direct).
    /// - Throws: for a missing, extra or wrongly shaped tensor (by name), or an unsupported
    ///   variant.
    public convenience init(_ kind: ModelKind, weights: WeightSource, widthMultiplier: Float = 1.0,
                            numClasses: Int = 1000, variant: Variant = .auto,
                            convAlgorithm: ConvAlgorithm = .auto) throws {
        try self.init(architecture: Architecture.make(kind, widthMultiplier: widthMultiplier, numClasses: numClasses),
                      weights: weights, variant: variant, convAlgorithm: convAlgorithm)
    }

    public convenience init(architecture: Architecture, weights: WeightSource, variant: Variant = .auto,
                            convAlgorithm: ConvAlgorithm = .auto) throws {
        try self.init(architecture: architecture, weights: weights, variant: variant, convAlgorithm: convAlgorithm,
                      linearSliceBytes: LinearWeights.sliceBytes)
    }

    /// `linearSliceBytes`: the Linear layers' slices (tests slice small layers).
    init(architecture: Architecture, weights: WeightSource, variant: Variant, convAlgorithm: ConvAlgorithm,
         linearSliceBytes: Int) throws {
        self.architecture = architecture
        self.variant = variant
        let weights = try weights.materialized(for: architecture)
        let layerAlgorithm: ConvAlgorithm = convAlgorithm == .direct ? .direct : .auto
        let nodes = architecture.nodes
        try Network.checkNames(architecture, weights)

        let fusion = Fusion(architecture)
        self.fusion = fusion
        let finalActivation = fusion.finalActivation

        // Flatten before a linear: PyTorch flattens (c, h, w); our NHWC memory is (h, w, c).
        let sizes224 = try? architecture.featureSizes(height: 224, width: 224)
        var compiled: [Compiled] = []
        let layerVariant = variant == .blis ? Variant.auto : variant
        for node in nodes {
            switch node.operation {
            case .input:
                compiled.append(.input)
            case let .conv(spec):
                let activation = finalActivation[node.id] ?? spec.activation
                let layer: Compiled
                let padding = Padding(top: spec.padTop, left: spec.padLeft, bottom: spec.padBottom, right: spec.padRight)
                let shuffled = fusion.shuffled.contains(node.id)
                let blis = variant == .blis && Conv2D.supports(
                    inChannels: spec.inChannels, outChannels: spec.outChannels, kernelH: spec.kernelH,
                    kernelW: spec.kernelW, strideH: spec.strideH, strideW: spec.strideW, padding: padding,
                    dilationH: spec.dilationH, dilationW: spec.dilationW, groups: spec.groups,
                    activation: activation, shuffleOutput: shuffled, variant: .blis)
                let depthwise = spec.isDepthwise && DepthwiseConv2D.supports(
                    channels: spec.inChannels, kernelH: spec.kernelH, kernelW: spec.kernelW, strideH: spec.strideH,
                    strideW: spec.strideW, padding: padding, dilationH: spec.dilationH, dilationW: spec.dilationW,
                    activation: activation, variant: layerVariant)
                // Without a BatchNorm to fold, a convolution packs its weights straight from a
                // mapped file, whose pages then go back (VGG16's and AlexNet's layers).
                if !depthwise, spec.batchNorm == nil,
                   let borrowed = try weights.borrowed(spec.weightKey, shape: spec.weightShape) {
                    let b = try spec.biasKey.map { try weights.tensor($0, shape: [spec.outChannels], role: .bias) }
                        ?? [Float](repeating: 0, count: spec.outChannels)
                    compiled.append(.conv(try Conv2D(
                        inChannels: spec.inChannels, outChannels: spec.outChannels, kernelH: spec.kernelH,
                        kernelW: spec.kernelW, strideH: spec.strideH, strideW: spec.strideW,
                        padding: padding, dilationH: spec.dilationH, dilationW: spec.dilationW, groups: spec.groups,
                        weights: borrowed.values, bias: b, activation: activation, shuffleOutput: shuffled,
                        variant: blis ? .blis : layerVariant, algorithm: layerAlgorithm)))
                    weights.released(spec.weightKey)
                    continue
                }
                var (w, b) = try Network.foldedConv(spec, weights)
                if depthwise {
                    layer = .depthwise(try DepthwiseConv2D(
                        channels: spec.inChannels, kernelH: spec.kernelH, kernelW: spec.kernelW,
                        strideH: spec.strideH, strideW: spec.strideW,
                        padding: padding, dilationH: spec.dilationH, dilationW: spec.dilationW, weights: w, bias: b,
                        activation: activation, variant: layerVariant))
                } else {
                    if b.isEmpty { b = [Float](repeating: 0, count: spec.outChannels) }
                    layer = .conv(try Conv2D(
                        inChannels: spec.inChannels, outChannels: spec.outChannels, kernelH: spec.kernelH,
                        kernelW: spec.kernelW, strideH: spec.strideH, strideW: spec.strideW,
                        padding: padding, dilationH: spec.dilationH, dilationW: spec.dilationW, groups: spec.groups, weights: w,
                        bias: b, activation: activation, shuffleOutput: shuffled,
                        variant: blis ? .blis : layerVariant, algorithm: layerAlgorithm))
                    w = []
                }
                compiled.append(layer)
            case let .maxPool(kernel, stride, padding):
                let c = try Network.channels(of: node.inputs[0], architecture)
                compiled.append(.layer(try MaxPool2D(channels: c, kernel: kernel, stride: stride,
                                                     padding: .symmetric(padding), variant: layerVariant)))
            case let .avgPool(kernel, stride, padding, countIncludePad):
                let c = try Network.channels(of: node.inputs[0], architecture)
                compiled.append(.layer(try AvgPool2D(channels: c, kernel: kernel, stride: stride, padding: .symmetric(padding),
                                                     countIncludePad: countIncludePad,
                                                     activation: finalActivation[node.id] ?? .none,
                                                     variant: layerVariant)))
            case let .adaptiveAvgPool(oh, ow):
                let c = try Network.channels(of: node.inputs[0], architecture)
                compiled.append(.layer(try AdaptiveAvgPool2D(channels: c, outputH: oh, outputW: ow, variant: layerVariant)))
            case .globalAveragePool:
                let c = try Network.channels(of: node.inputs[0], architecture)
                compiled.append(.layer(try GlobalAveragePool(channels: c, variant: layerVariant)))
            case .flatten:
                compiled.append(.alias)
            case let .linear(spec):
                let shape = [spec.outFeatures, spec.inFeatures]
                let b = try spec.biasKey.map { try weights.tensor($0, shape: [spec.outFeatures], role: .bias) }
                if variant != .blis {
                    // Packed in PyTorch's input order (a plan permutes a flattened input instead),
                    // slice by slice from a mapped file, each slice's pages given back.
                    let make = { (values: UnsafeBufferPointer<Float>, done: (Range<Int>) -> Void) in
                        try LinearWeights(inFeatures: spec.inFeatures, outFeatures: spec.outFeatures, weights: values, bias: b,
                                          activation: spec.activation, variant: layerVariant, sliceBytes: linearSliceBytes,
                                          done: done)
                    }
                    if let borrowed = try weights.borrowed(spec.weightKey, shape: shape) {
                        compiled.append(.linear(try make(borrowed.values) { rows in
                            weights.released(spec.weightKey, elements: (rows.lowerBound * spec.inFeatures)..<(rows.upperBound * spec.inFeatures))
                        }))
                    } else {
                        let w = try weights.tensor(spec.weightKey, shape: shape, role: .weight)
                        compiled.append(.linear(try w.withUnsafeBufferPointer { try make($0) { _ in } }))
                    }
                    continue
                }
                var w = try weights.tensor(spec.weightKey, shape: shape, role: .weight)
                if case .flatten = nodes[node.inputs[0]].operation, let sizes = sizes224 {
                    let f = sizes[nodes[node.inputs[0]].inputs[0]]
                    if f.h * f.w > 1 { w = Network.permuteFlattenColumns(w, out: spec.outFeatures, h: f.h, w: f.w, c: f.c) }
                }
                compiled.append(.conv(try Conv2D(inChannels: spec.inFeatures, outChannels: spec.outFeatures, kernelSize: 1,
                                                 weights: w, bias: b, activation: spec.activation,
                                                 variant: variant == .blis ? .blis : layerVariant)))
            case let .squeezeExcitation(se):
                let (c, s) = (se.channels, se.squeezeChannels)
                compiled.append(.layer(try SqueezeExcitation(
                    channels: c, squeezeChannels: s,
                    fc1Weight: weights.tensor(se.fc1WeightKey, shape: [s, c, 1, 1], role: .weight),
                    fc1Bias: weights.tensor(se.fc1BiasKey, shape: [s], role: .bias),
                    fc2Weight: weights.tensor(se.fc2WeightKey, shape: [c, s, 1, 1], role: .weight),
                    fc2Bias: weights.tensor(se.fc2BiasKey, shape: [c], role: .bias), variant: layerVariant,
                    backward: false)))
            case let .channelShuffle(groups):
                let c = try Network.channels(of: node.inputs[0], architecture)
                compiled.append(.layer(try ChannelShuffle(groups: groups, channels: c, variant: layerVariant)))
            case let .add(activation):
                let c = try Network.channels(of: node.inputs[0], architecture)
                compiled.append(.add(try Add(channels: c, activation: activation, variant: layerVariant)))
            case let .concat(activation):
                compiled.append(.concat(try node.inputs.map { input in
                    fusion.fusedInto[input] == node.id ? nil
                        : try BiasActivation(channels: Network.channels(of: input, architecture), activation: activation,
                                             variant: layerVariant)
                }))
            }
        }
        self.compiled = compiled
    }

    /// An inference plan for `batch` images of `height` x `width` (all activation buffers
    /// allocated now, used by every `predict`): with `.reuse`, a buffer goes to a later node once
    /// its contents are read; `.keepAll` keeps every node's output to the end (for a backward
    /// pass; more memory, same logits bit for bit).
    /// - Throws: `.invalidArgument` for a batch or size below 1; `.shapeMismatch` for a size the
    ///   architecture cannot take.
    public func plan(batch: Int = 1, height: Int = 224, width: Int = 224,
                     lifetime: ActivationLifetime = .reuse) throws -> InferencePlan {
        try InferencePlan(network: self, batch: batch, height: height, width: width, lifetime: lifetime)
    }

    /// A plan that runs expansions of at least `bandedMinimumBytes` in bands (0: every one that
    /// fits; Int.max: none) of about `bandBytes` of scratch each, for tests comparing the two.
    func plan(batch: Int, height: Int, width: Int, bandedMinimumBytes: Int,
              bandBytes: Int = ExpandDepthwiseBands.targetBytes) throws -> InferencePlan {
        try InferencePlan(network: self, batch: batch, height: height, width: width,
                          bandedMinimumBytes: bandedMinimumBytes, bandBytes: bandBytes)
    }

    // MARK: - Weights

    /// Every tensor of the spec is present with its shape (checked as each is loaded) and no
    /// other tensor is (BatchNorm's `num_batches_tracked` counters are ignored).
    static func checkNames(_ architecture: Architecture, _ weights: WeightSource) throws {
        guard let names = weights.names else { return }
        let expected = Dictionary(uniqueKeysWithValues: architecture.parameters().map { ($0.name, $0.shape) })
        let missing = expected.keys.filter { !names.contains($0) }.sorted()
        let extra = names.filter { expected[$0] == nil && !$0.hasSuffix("num_batches_tracked") }.sorted()
        guard missing.isEmpty && extra.isEmpty else {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count): \(missing.prefix(8).joined(separator: ", "))\(missing.count > 8 ? ", ..." : "")") }
            if !extra.isEmpty { parts.append("unexpected \(extra.count): \(extra.prefix(8).joined(separator: ", "))\(extra.count > 8 ? ", ..." : "")") }
            throw MobileKernelsError(.invalidArgument, "weights for \(architecture.kind.specName): " + parts.joined(separator: "; "))
        }
    }

    /// The convolution's weight and bias with its BatchNorm folded in (in Double, rounded once):
    /// w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta.
    /// The bias is empty when the convolution has neither a bias nor a BatchNorm.
    static func foldedConv(_ spec: ConvSpec, _ weights: WeightSource) throws -> (weights: [Float], bias: [Float]) {
        var w = try weights.tensor(spec.weightKey, shape: spec.weightShape, role: .weight)
        let bias = try spec.biasKey.map { try weights.tensor($0, shape: [spec.outChannels], role: .bias) }
        guard let bn = spec.batchNorm else { return (w, bias ?? []) }
        let c = [bn.channels]
        let gamma = try weights.tensor(bn.weightKey, shape: c, role: .bnScale)
        let beta = try weights.tensor(bn.biasKey, shape: c, role: .bnShift)
        let mean = try weights.tensor(bn.runningMeanKey, shape: c, role: .bnMean)
        let variance = try weights.tensor(bn.runningVarKey, shape: c, role: .bnVariance)
        let perOut = w.count / spec.outChannels
        var b = [Float](repeating: 0, count: spec.outChannels)
        for o in 0..<spec.outChannels {
            let scale = Double(gamma[o]) / (Double(variance[o]) + Double(bn.eps)).squareRoot()
            for i in (o * perOut)..<((o + 1) * perOut) { w[i] = Float(Double(w[i]) * scale) }
            b[o] = Float((Double(bias?[o] ?? 0) - Double(mean[o])) * scale + Double(beta[o]))
        }
        return (w, b)
    }

    /// A linear weight [out, c * h * w] whose columns are PyTorch's flatten order (c, y, x),
    /// reordered to our NHWC flatten order (y, x, c).
    static func permuteFlattenColumns(_ weight: [Float], out: Int, h: Int, w: Int, c: Int) -> [Float] {
        var result = [Float](repeating: 0, count: weight.count)
        let inFeatures = h * w * c
        for o in 0..<out {
            for ch in 0..<c {
                for p in 0..<(h * w) {
                    result[o * inFeatures + p * c + ch] = weight[o * inFeatures + ch * h * w + p]
                }
            }
        }
        return result
    }

    static func channels(of node: Int, _ architecture: Architecture) throws -> Int {
        // Channel counts do not depend on the input size: take them at a size every model accepts.
        try architecture.featureSizes(height: 224, width: 224)[node].c
    }
}
