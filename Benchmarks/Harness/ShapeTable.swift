import MobileKernels

/// A convolution layer of a model at one input resolution, with every other layer of that model
/// that has the same geometry (they are measured once).
public struct ConvLayer: Sendable {
    public let model: ModelKind
    /// The PyTorch module names of the layers with this geometry, in model order.
    public let names: [String]
    public let conv: ConvSpec
    public let input: FeatureSize
    public let output: FeatureSize

    /// "features.2.conv.1" or "features.2.conv.1 (+3 more)".
    public var layerName: String { names.count == 1 ? names[0] : "\(names[0]) (+\(names.count - 1) more)" }
}

/// The models each family is measured on (the depthwise issue's list, and so on).
public let depthwiseModels: [ModelKind] = [.mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small, .shuffleNetV1(groups: 3)]

/// The convolution layers of `models` at `resolution` x `resolution` that `include` selects,
/// derived from the architectures (nothing typed twice), one per distinct geometry and input
/// size per model, in model order.
public func convLayers(of models: [ModelKind], resolution: Int,
                       where include: (ConvSpec) -> Bool) throws -> [ConvLayer] {
    var layers: [ConvLayer] = []
    for model in models {
        let architecture = try Architecture.make(model)
        var index: [String: Int] = [:]
        var found: [ConvLayer] = []
        for shape in try architecture.layerShapes(height: resolution, width: resolution) {
            guard case let .conv(conv) = shape.node.operation, include(conv), let input = shape.inputs.first else { continue }
            let key = [conv.inChannels, conv.outChannels, conv.kernelH, conv.kernelW, conv.strideH, conv.strideW,
                       conv.padTop, conv.padLeft, conv.padBottom, conv.padRight, conv.dilationH, conv.dilationW,
                       conv.groups, input.h, input.w].map(String.init).joined(separator: ",")
            if let i = index[key] {
                let old = found[i]
                found[i] = ConvLayer(model: model, names: old.names + [shape.node.name], conv: old.conv,
                                     input: old.input, output: old.output)
            } else {
                index[key] = found.count
                found.append(ConvLayer(model: model, names: [shape.node.name], conv: conv, input: input, output: shape.output))
            }
        }
        layers += found
    }
    return layers
}

/// The cases of `families` at full size (224x224) or `quick` size (64x64 inputs, two shapes of
/// the memory-bound kernels).
public func benchmarkCases(families: Set<Family>, quick: Bool) throws -> [BenchmarkCase] {
    let resolution = quick ? 64 : 224
    var cases: [BenchmarkCase] = []
    if families.contains(.activation) { cases += try activationCases(quick: quick) }
    if families.contains(.dwconv) {
        cases += try convLayers(of: depthwiseModels, resolution: resolution) { $0.isDepthwise }.map(depthwiseCase)
    }
    if families.contains(.conv1x1) { cases += try pointwiseCases(resolution: resolution) }
    if families.contains(.gconv) { cases += try groupedCases(resolution: resolution) }
    if families.contains(.shuffle) {
        cases += try shuffleModels.flatMap { try shuffleCases(of: $0, resolution: resolution) }
    }
    if families.contains(.conv) { cases += try denseConvCases(resolution: resolution) }
    if families.contains(.pool) { cases += try poolCases(resolution: resolution) }
    if families.contains(.fc) { cases += try fcCases().filter { !quick || $0.params.cin! * $0.params.cout! <= 1 << 22 } }
    if families.contains(.se) { cases += try seCases(resolution: resolution) }
    cases += try inputGradientCases(quick: quick).filter { families.contains($0.family) }
    if families.contains(.conv1x1Wgrad) { cases += try pointwiseWeightGradientCases(quick: quick) }
    if families.contains(.dwconvDgrad) { cases += try depthwiseBackwardCases(quick: quick, weights: false) }
    if families.contains(.dwconvWgrad) { cases += try depthwiseBackwardCases(quick: quick, weights: true) }
    cases += try generalWeightGradientCases(quick: quick).filter { families.contains($0.family) }
    if families.contains(.poolDgrad) { cases += try poolingBackwardCases(quick: quick) }
    if families.contains(.bnTrain) { cases += try batchNormTrainingCases(quick: quick, backward: false) }
    if families.contains(.bnBackward) { cases += try batchNormTrainingCases(quick: quick, backward: true) }
    if families.contains(.dropout) { cases += try dropoutCases(quick: quick) }
    if families.contains(.seBackward) { cases += try squeezeExcitationBackwardCases(quick: quick) }
    if families.contains(.loss) { cases += try lossCases(quick: quick) }
    cases += try qs8Cases(families: families.filter(\.isInt8), resolution: resolution)
    return cases
}

/// The families that have kernels today.
public let implementedFamilies: [Family] = [.activation, .dwconv, .conv1x1, .gconv, .shuffle, .conv, .pool, .fc, .se,
                                            .dwconvDgrad, .conv1x1Dgrad, .gconvDgrad, .convDgrad, .conv1x1Wgrad,
                                            .dwconvWgrad, .convWgrad, .gconvWgrad, .bnTrain, .bnBackward,
                                            .poolDgrad, .dropout, .seBackward, .loss,
                                            .qs8Conv1x1, .qs8Gconv, .qs8Conv, .qs8Dwconv]
