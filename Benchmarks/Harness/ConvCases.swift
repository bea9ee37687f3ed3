import MobileKernels
import NetworkOracle
import ReferenceKernels

// MARK: - Pointwise, grouped and dense convolution

/// The models of the pointwise (1x1) family: every 1x1 layer of the MobileNets.
public let pointwiseModels: [ModelKind] = [.mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small]

/// The models of the grouped-convolution and shuffle families.
public let shuffleModels: [ModelKind] = [.shuffleNetV1(groups: 3), .shuffleNetV1(groups: 8)]

/// The names of the convolutions whose output goes straight into a channel shuffle.
public func convsFeedingShuffle(of model: ModelKind, resolution: Int) throws -> Set<String> {
    let shapes = try Architecture.make(model).layerShapes(height: resolution, width: resolution)
    var byID: [Int: Node] = [:]
    for s in shapes { byID[s.node.id] = s.node }
    var names: Set<String> = []
    for s in shapes {
        guard case .channelShuffle = s.node.operation, let source = s.node.inputs.first.flatMap({ byID[$0] }) else { continue }
        if case .conv = source.operation { names.insert(source.name) }
    }
    return names
}

/// A convolution layer of a model as a case: "conv1x1 24->144 56x56", "gconv1x1 g=3 240->60
/// 28x28", "conv3x3/s2 3->32 224x224"; `fusedShuffle` measures the form that writes its output
/// in shuffled order (the layer name gains " +shuffle").
/// `algorithm` other than `.auto` is forced and named in the shape (" direct", " winograd").
public func convCase(_ layer: ConvLayer, fusedShuffle: Bool = false, algorithm: ConvAlgorithm = .auto) throws -> BenchmarkCase {
    let conv = layer.conv, input = layer.input, output = layer.output
    let cin = conv.inChannels, cout = conv.outChannels, groups = conv.groups
    let pointwise = conv.kernelH == 1 && conv.kernelW == 1 && conv.padTop + conv.padLeft + conv.padBottom + conv.padRight == 0
    let family: Family = groups > 1 ? .gconv : (pointwise ? .conv1x1 : .conv)
    let shape = try TensorShape(h: input.h, w: input.w, c: cin)
    let outShape = try TensorShape(h: output.h, w: output.w, c: cout)
    let reduction = cin / groups * conv.kernelH * conv.kernelW
    let x = pseudoRandom(shape.count, seed: UInt64(cin * 31 + input.h))
    let weights = pseudoRandom(cout * reduction, seed: 5).map { $0 / Float(reduction).squareRoot() }
    let bias = pseudoRandom(cout, seed: 6)
    let padding = Padding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight)
    let kernel = "\(conv.kernelH)x\(conv.kernelW)" + (conv.strideH > 1 ? "/s\(conv.strideH)" : "")
    let name = (groups > 1 ? "gconv\(kernel) g=\(groups)" : "conv\(kernel)") + " \(cin)->\(cout) \(input.h)x\(input.w)"
        + (algorithm == .auto ? "" : " \(algorithm)")
    let macs = Double(outShape.count * reduction)
    let variants = Variant.allCases.filter {
        $0 != .auto && Conv2D.supports(inChannels: cin, outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                       strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                       dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups,
                                       activation: conv.activation, shuffleOutput: fusedShuffle, variant: $0,
                                       algorithm: algorithm)
    }
    return BenchmarkCase(
        family: family, model: layer.model.specName,
        layer: layer.layerName + (fusedShuffle ? " +shuffle" : "") + (algorithm == .auto ? "" : " \(algorithm)"),
        shape: name + (fusedShuffle ? " +shuffle" : ""),
        params: CaseParams(n: 1, h: input.h, w: input.w, cin: cin, cout: cout, kh: conv.kernelH, kw: conv.kernelW,
                           stride: conv.strideH, groups: groups),
        flops: 2 * macs,
        bytes: Double(4 * (shape.count + outShape.count + weights.count + cout)),
        reduction: reduction,
        variants: variants,
        makeRunner: { variant, pool, rotate in
            let layer = try Conv2D(inChannels: cin, outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                   strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                   dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups,
                                   weights: weights, bias: bias, activation: conv.activation,
                                   shuffleOutput: fusedShuffle, variant: variant, algorithm: algorithm)
            return try .layer(layer, input: shape, values: x, output: outShape, pool: pool, rotate: rotate)
        },
        reference: {
            let y = Reference.conv2d(RefTensor(n: 1, h: input.h, w: input.w, c: cin, data: x), weight: weights, bias: bias,
                                     outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                     strideH: conv.strideH, strideW: conv.strideW,
                                     padding: RefPadding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight),
                                     dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups,
                                     activation: referenceActivation(conv.activation))
            return fusedShuffle ? Reference.channelShuffle(y, groups: groups).data : y.data
        })
}

/// The channel shuffles of `model` at `resolution`, one case per distinct size.
public func shuffleCases(of model: ModelKind, resolution: Int) throws -> [BenchmarkCase] {
    var seen: Set<String> = []
    var cases: [BenchmarkCase] = []
    for s in try Architecture.make(model).layerShapes(height: resolution, width: resolution) {
        guard case let .channelShuffle(groups) = s.node.operation else { continue }
        let f = s.output
        let label = "shuffle g=\(groups) C=\(f.c) \(f.h)x\(f.w)"
        guard seen.insert(label).inserted else { continue }
        let shape = try TensorShape(h: f.h, w: f.w, c: f.c)
        let x = pseudoRandom(shape.count, seed: UInt64(f.c))
        cases.append(BenchmarkCase(
            family: .shuffle, model: model.specName, layer: s.node.name, shape: label,
            params: CaseParams(n: 1, h: f.h, w: f.w, cin: f.c, cout: f.c, groups: groups),
            flops: 0, bytes: Double(shape.count * 8), reduction: 0,
            variants: Catalogue.variants(of: .shuffle),
            makeRunner: { variant, pool, rotate in
                let layer = try ChannelShuffle(groups: groups, channels: f.c, variant: variant)
                let sets = rotate ? rotationCount(footprintBytes: shape.count * 8) : 1
                let inputs = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: x) }
                var outputs = try (0..<sets).map { _ in try Tensor(shape: shape) }
                return Runner(run: { i in try layer.forward(inputs[i % sets], into: &outputs[i % sets], threadPool: pool) },
                              output: { outputs[0].toArray() })
            },
            reference: { Reference.channelShuffle(RefTensor(n: 1, h: f.h, w: f.w, c: f.c, data: x), groups: groups).data }))
    }
    return cases
}

/// Pointwise cases: every distinct 1x1 layer of the MobileNets.
public func pointwiseCases(resolution: Int) throws -> [BenchmarkCase] {
    try convLayers(of: pointwiseModels, resolution: resolution) {
        $0.groups == 1 && $0.kernelH == 1 && $0.kernelW == 1
    }.map { try convCase($0) }
}

/// Grouped cases: every grouped (not depthwise) convolution of ShuffleNetV1 g=3 and g=8, and the
/// fused-shuffle form of those that feed a channel shuffle.
public func groupedCases(resolution: Int) throws -> [BenchmarkCase] {
    var cases: [BenchmarkCase] = []
    for model in shuffleModels {
        let feeding = try convsFeedingShuffle(of: model, resolution: resolution)
        for layer in try convLayers(of: [model], resolution: resolution, where: { $0.groups > 1 && !$0.isDepthwise }) {
            cases.append(try convCase(layer))
            if !feeding.isDisjoint(with: layer.names) { cases.append(try convCase(layer, fusedShuffle: true)) }
        }
    }
    return cases
}
