import MobileKernels
import NetworkOracle
import ReferenceKernels

// MARK: - Backward (training) cases

/// The training batch of the backward families: 32 images of 32x32 (quick: 2).
public func trainingBatch(quick: Bool) -> (n: Int, resolution: Int) { (quick ? 2 : 32, 32) }

/// The input gradient of every distinct stride-1 convolution of the seven networks at the
/// training batch (`ConvInputGradient`): depthwise (the MobileNets and ShuffleNet), 1x1 (the
/// MobileNets), grouped (ShuffleNet g=3) and dense (VGG16). Verified against `RefTrain`'s
/// backward; FLOPs are the forward's.
public func inputGradientCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    let strideOne: (ConvSpec) -> Bool = { $0.strideH == 1 && $0.strideW == 1 }
    var layers = try convLayers(of: depthwiseModels, resolution: resolution) { strideOne($0) && $0.isDepthwise }
    layers += try convLayers(of: pointwiseModels, resolution: resolution) { strideOne($0) && $0.isPointwise && $0.groups == 1 }
    layers += try convLayers(of: [.shuffleNetV1(groups: 3)], resolution: resolution) {
        strideOne($0) && $0.groups > 1 && !$0.isDepthwise
    }
    layers += try convLayers(of: [.vgg16], resolution: resolution) { strideOne($0) && !$0.isPointwise }
    return try layers.prefix(quick ? 6 : layers.count).map { try inputGradientCase($0, batch: n) }
}

/// One layer's input gradient as a case: "dgrad conv1x1 24->144 32x32 n=32" maps dy `[n, oh, ow,
/// cout]` to dx `[n, h, w, cin]`.
public func inputGradientCase(_ layer: ConvLayer, batch n: Int) throws -> BenchmarkCase {
    let conv = layer.conv, input = layer.input, output = layer.output
    let (cin, cout, groups) = (conv.inChannels, conv.outChannels, conv.groups)
    let family: Family = conv.isDepthwise ? .dwconvDgrad : groups > 1 ? .gconvDgrad : conv.isPointwise ? .conv1x1Dgrad : .convDgrad
    let padding = Padding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight)
    let dxShape = try TensorShape(n: n, h: input.h, w: input.w, c: cin)
    let dyShape = try TensorShape(n: n, h: output.h, w: output.w, c: cout)
    let reduction = cout / groups * conv.kernelH * conv.kernelW
    let weights = pseudoRandom(cout * cin / groups * conv.kernelH * conv.kernelW, seed: 5).map { $0 / Float(reduction).squareRoot() }
    let dy = pseudoRandom(dyShape.count, seed: UInt64(cout * 17 + output.h))
    let make = { (variant: Variant) in
        try ConvInputGradient.make(inChannels: cin, outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                   padding: padding, dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups,
                                   weights: weights, variant: variant)
    }
    let kernel = "\(conv.kernelH)x\(conv.kernelW)"
    let kind = conv.isDepthwise ? "dw\(kernel) C=\(cin)" : (groups > 1 ? "gconv\(kernel) g=\(groups) " : "conv\(kernel) ") + "\(cin)->\(cout)"
    return BenchmarkCase(
        family: family, model: layer.model.specName, layer: layer.layerName,
        shape: "dgrad \(kind) \(input.h)x\(input.w) n=\(n)",
        params: CaseParams(n: n, h: input.h, w: input.w, cin: cin, cout: cout, kh: conv.kernelH, kw: conv.kernelW, stride: 1, groups: groups),
        flops: 2 * Double(dxShape.count * reduction),
        bytes: Double(4 * (dxShape.count + dyShape.count + weights.count)),
        reduction: reduction,
        variants: Variant.allCases.filter { $0 != .auto && $0 != .blis },
        makeRunner: { variant, pool, rotate in
            let layer = try make(variant)
            return try .layer(layer, input: dyShape, values: dy, output: dxShape, pool: pool, rotate: rotate)
        },
        reference: {
            let x = RefTensorOf<Float>(n: n, h: input.h, w: input.w, c: cin)
            let geometry = RefConvGeometry(outChannels: cout, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                           padding: RefPadding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight),
                                           dilationH: conv.dilationH, dilationW: conv.dilationW, groups: groups)
            return RefTrain.conv2dBackward(x, weight: weights, geometry, dy: RefTensorOf(n: n, h: output.h, w: output.w, c: cout, data: dy)).dx.data
        })
}

/// The weight and bias gradients of every distinct 1x1 stride-1 convolution of the MobileNets at
/// the training batch (`ConvWeightGradient.pointwise`: the transposes and packing of each call
/// are timed too). FLOPs: 2 * pixels * cin * cout.
public func pointwiseWeightGradientCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    let layers = try convLayers(of: pointwiseModels, resolution: resolution) { $0.isPointwise && $0.groups == 1 }
    return try layers.prefix(quick ? 4 : layers.count).map { layer in
        let (cin, cout, size) = (layer.conv.inChannels, layer.conv.outChannels, layer.input)
        let pixels = n * size.h * size.w
        let x = pseudoRandom(pixels * cin, seed: UInt64(cin)), dy = pseudoRandom(pixels * cout, seed: UInt64(cout) + 7)
        return BenchmarkCase(
            family: .conv1x1Wgrad, model: layer.model.specName, layer: layer.layerName,
            shape: "wgrad conv1x1 \(cin)->\(cout) \(size.h)x\(size.w) n=\(n)",
            params: CaseParams(n: n, h: size.h, w: size.w, cin: cin, cout: cout, kh: 1, kw: 1, stride: 1, groups: 1),
            flops: 2 * Double(pixels * cin * cout),
            bytes: Double(4 * (pixels * (cin + cout) + cin * cout)),
            reduction: pixels,
            variants: Variant.allCases.filter { $0 != .auto && $0 != .blis },
            makeRunner: { variant, pool, _ in
                let xt = try Tensor(shape: TensorShape(n: n, h: size.h, w: size.w, c: cin), nhwc: x)
                let dyt = try Tensor(shape: TensorShape(n: n, h: size.h, w: size.w, c: cout), nhwc: dy)
                var result: (weight: [Float], bias: [Float]) = ([], [])
                return Runner(run: { _ in result = try ConvWeightGradient.pointwise(input: xt, outputGradient: dyt, variant: variant,
                                                                                   threadPool: pool) },
                              output: { result.weight + result.bias })
            },
            reference: {
                let r = RefTrain.conv2dBackward(RefTensorOf(n: n, h: size.h, w: size.w, c: cin, data: x),
                                                weight: [Float](repeating: 0, count: cin * cout),
                                                RefConvGeometry(outChannels: cout, kernelH: 1, kernelW: 1),
                                                dy: RefTensorOf(n: n, h: size.h, w: size.w, c: cout, data: dy))
                return r.dWeight + r.dBias
            })
    }
}
