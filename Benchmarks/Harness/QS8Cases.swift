import MobileKernels
import NetworkOracle
import ReferenceKernels

// MARK: - int8 convolutions

/// The models of the int8 cases: the 1.8x targets (MobileNetV1, V2, ShuffleNetV1 g3) and
/// its 1.3x ones (MobileNetV3-Large and Small).
public let qs8Models: [ModelKind] = [.mobileNetV1, .mobileNetV2, .shuffleNetV1(groups: 3), .mobileNetV3Large, .mobileNetV3Small]

/// `count` int8 values from `pseudoRandom` (uniform over [lo, hi]).
func pseudoRandomInt8(_ count: Int, seed: UInt64, _ lo: Int8 = -128, _ hi: Int8 = 127) -> [Int8] {
    let span = Float(Int(hi) - Int(lo))
    return pseudoRandom(count, seed: seed).map { Int8(clamping: Int(lo) + Int((($0 + 1) / 2 * span).rounded())) }
}

/// A convolution layer of a model as an int8 case ("qs8 conv1x1 96->24 56x56", "qs8 dw3x3/s2 C=96
/// 112x112"): random int8 input, weights in [-127, 127] with per-channel scales, an output scale
/// that spreads the sums over the int8 range; the activation kept when it is a clamp (else none).
public func qs8ConvCase(_ layer: ConvLayer) throws -> BenchmarkCase {
    let conv = layer.conv, input = layer.input, output = layer.output
    let cin = conv.inChannels, cout = conv.outChannels, groups = conv.groups
    let depthwise = conv.isDepthwise
    let pointwise = conv.kernelH == 1 && conv.kernelW == 1 && conv.padTop + conv.padLeft + conv.padBottom + conv.padRight == 0
    let family: Family = depthwise ? .qs8Dwconv : groups > 1 ? .qs8Gconv : pointwise ? .qs8Conv1x1 : .qs8Conv
    let reduction = cin / groups * conv.kernelH * conv.kernelW
    let shape = try TensorShape(h: input.h, w: input.w, c: cin)
    let outShape = try TensorShape(h: output.h, w: output.w, c: cout)
    let x = pseudoRandomInt8(shape.count, seed: UInt64(cin * 31 + input.h))
    let weights = pseudoRandomInt8(cout * reduction, seed: 5, -127, 127)
    let scales = pseudoRandom(cout, seed: 7).map { 0.011 + 0.009 * $0 }
    let bias = pseudoRandom(cout, seed: 6).map { Int32($0 * 20000) }
    let inQ = Quantization(scale: 0.02, zeroPoint: -5)
    let outQ = Quantization(scale: 0.02 * 0.011 * 74 * 74 * Float(reduction).squareRoot() / 40, zeroPoint: -20)
    let activation: Activation
    switch conv.activation {
    case .none, .relu, .relu6, .clamp: activation = conv.activation
    default: activation = .none
    }
    let padding = Padding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight)
    let kernel = "\(conv.kernelH)x\(conv.kernelW)" + (conv.strideH > 1 ? "/s\(conv.strideH)" : "")
    let name = depthwise ? "qs8 dw\(kernel) C=\(cin) \(input.h)x\(input.w)"
        : (groups > 1 ? "qs8 gconv\(kernel) g=\(groups)" : "qs8 conv\(kernel)") + " \(cin)->\(cout) \(input.h)x\(input.w)"
    let variants = Catalogue.variants(of: depthwise ? .qs8Dwconv : .qs8Gemm)
    return BenchmarkCase(
        family: family, model: layer.model.specName, layer: layer.layerName, shape: name,
        params: CaseParams(n: 1, h: input.h, w: input.w, cin: cin, cout: cout, kh: conv.kernelH, kw: conv.kernelW,
                           stride: conv.strideH, groups: groups),
        flops: 2 * Double(outShape.count * reduction),
        bytes: Double(shape.count + outShape.count + weights.count + 8 * cout),
        reduction: reduction,
        variants: variants,
        makeRunner: { variant, pool, rotate in
            let sets = rotate ? rotationCount(footprintBytes: shape.count + outShape.count) : 1
            let inputs = try (0..<sets).map { _ in try QTensor(shape: shape, quantization: inQ, nhwc: x) }
            var outputs = try (0..<sets).map { _ in try QTensor(shape: outShape, quantization: outQ) }
            let run: (Int) throws -> Void
            if depthwise {
                let op = try QDepthwiseConv2D(channels: cin, kernelH: conv.kernelH, kernelW: conv.kernelW, strideH: conv.strideH,
                                              strideW: conv.strideW, padding: padding, dilationH: conv.dilationH,
                                              dilationW: conv.dilationW, weights: weights, weightScales: scales, bias: bias,
                                              activation: activation, input: inQ, output: outQ, variant: variant)
                run = { i in try op.forward(inputs[i % sets], into: &outputs[i % sets], threadPool: pool) }
            } else {
                let op = try QConv2D(inChannels: cin, outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                     strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                     dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups, weights: weights,
                                     weightScales: scales, bias: bias, activation: activation, input: inQ, output: outQ,
                                     variant: variant)
                run = { i in try op.forward(inputs[i % sets], into: &outputs[i % sets], threadPool: pool) }
            }
            return Runner(run: run, output: { outputs[0].toArray().map(Float.init) })
        },
        reference: {
            Reference.conv2dQS8(x, n: 1, h: input.h, w: input.w, cin: cin,
                                input: RefQuantization(scale: inQ.scale, zeroPoint: inQ.zeroPoint), weight: weights,
                                weightScales: scales, bias: bias, outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                strideH: conv.strideH, strideW: conv.strideW,
                                padding: RefPadding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight),
                                dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups,
                                activation: referenceActivation(activation),
                                output: RefQuantization(scale: outQ.scale, zeroPoint: outQ.zeroPoint)).data.map(Float.init)
        })
}

/// The int8 cases of `families`: every distinct convolution of the qs8 models in that family.
public func qs8Cases(families: Set<Family>, resolution: Int) throws -> [BenchmarkCase] {
    func family(_ c: ConvSpec) -> Family {
        let pointwise = c.kernelH == 1 && c.kernelW == 1 && c.padTop + c.padLeft + c.padBottom + c.padRight == 0
        return c.isDepthwise ? .qs8Dwconv : c.groups > 1 ? .qs8Gconv : pointwise ? .qs8Conv1x1 : .qs8Conv
    }
    guard !families.isEmpty else { return [] }
    return try convLayers(of: qs8Models, resolution: resolution) { families.contains(family($0)) }.map(qs8ConvCase)
}
