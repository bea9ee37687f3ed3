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
        variants: Variant.allCases.filter { $0 != .auto && $0 != .blis && $0.hasFloatKernels },
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
/// the training batch (`ConvWeightGradient.general` into buffers made once, the bias gradient
/// included). FLOPs:
/// 2 * pixels * cin * cout.
public func pointwiseWeightGradientCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    let layers = try convLayers(of: pointwiseModels, resolution: resolution) { $0.isPointwise && $0.groups == 1 }
    return layers.prefix(quick ? 4 : layers.count).map { layer in
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
            variants: Variant.allCases.filter { $0 != .auto && $0 != .blis && $0.hasFloatKernels },
            makeRunner: { variant, pool, _ in
                let xt = try Tensor(shape: TensorShape(n: n, h: size.h, w: size.w, c: cin), nhwc: x)
                let dyt = try Tensor(shape: TensorShape(n: n, h: size.h, w: size.w, c: cout), nhwc: dy)
                // Into buffers made once, as a training step's planned gradients are.
                var weight = [Float](repeating: 0, count: cin * cout), bias = [Float](repeating: 0, count: cout)
                return Runner(run: { _ in
                    try weight.withUnsafeMutableBufferPointer { w in
                        try bias.withUnsafeMutableBufferPointer { b in
                            try ConvWeightGradient.general(input: xt, outputGradient: dyt, kernelH: 1, kernelW: 1, weightGradient: w,
                                                           biasGradient: b, variant: variant, threadPool: pool)
                        }
                    }
                }, output: { weight + bias })
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

/// Every distinct BatchNorm (channels, size, activation) of the MobileNets and ShuffleNet at the
/// training batch, in training mode (`BatchNormTraining`): `bn.train` is the forward (batch
/// statistics, then normalize + activation), `bn.backward` the gradients of x, gamma and beta
/// through the activation. Memory-bound: FLOPs count the elementwise operations (forward 8 per
/// value: two statistics passes and the normalize; backward 14), bytes what must move once.
public func batchNormTrainingCases(quick: Bool, backward: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    var seen = Set<String>()
    var layers: [(ConvLayer, BatchNormSpec)] = []
    for layer in try convLayers(of: depthwiseModels, resolution: resolution, where: { $0.batchNorm != nil }) {
        let bn = layer.conv.batchNorm!
        let key = "\(bn.channels) \(layer.output.h)x\(layer.output.w) \(layer.conv.activation)"
        if seen.insert(key).inserted { layers.append((layer, bn)) }
    }
    return try layers.prefix(quick ? 4 : layers.count).map { layer, bn in
        let (c, size, activation) = (bn.channels, layer.output, layer.conv.activation)
        let shape = try TensorShape(n: n, h: size.h, w: size.w, c: c)
        let gamma = pseudoRandom(c, seed: 3).map { $0 + 1 }, beta = pseudoRandom(c, seed: 4)
        let x = awayFromKinks(pseudoRandom(shape.count, seed: UInt64(c * 31 + size.h)).map { $0 + 1 }, channels: c,
                              gamma: gamma, beta: beta, eps: bn.eps, activation: activation)
        let dy = pseudoRandom(shape.count, seed: UInt64(c * 37 + size.w))
        let act = activation.description
        return BenchmarkCase(
            family: backward ? .bnBackward : .bnTrain, model: layer.model.specName, layer: layer.layerName,
            shape: "\(backward ? "bn backward" : "bn train") C=\(c) \(size.h)x\(size.w) n=\(n) \(act)",
            params: CaseParams(n: n, h: size.h, w: size.w, cin: c, cout: c),
            flops: Double(shape.count * (backward ? 14 : 8)),
            bytes: Double(4 * shape.count * (backward ? 3 : 2)),
            reduction: backward ? shape.pixels : 0,
            variants: Catalogue.variants(of: .bntrain),
            makeRunner: { variant, pool, rotate in
                let op = try BatchNormTraining(channels: c, eps: bn.eps, activation: activation, variant: variant)
                let sets = rotate ? rotationCount(footprintBytes: 4 * shape.count * (backward ? 3 : 2)) : 1
                let xs = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: x) }
                var ys = try (0..<sets).map { _ in try Tensor(shape: shape) }
                if !backward {
                    return Runner(run: { i in
                        _ = try ys[i % sets].withMutableView { try op.forward(xs[i % sets].view(), gamma: gamma, beta: beta, into: $0, threadPool: pool) }
                    }, output: { ys[0].toArray() })
                }
                let stats = try ys[0].withMutableView { try op.forward(xs[0].view(), gamma: gamma, beta: beta, into: $0, threadPool: pool) }
                let dys = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: dy) }
                var parameters: (gamma: [Float], beta: [Float]) = ([], [])
                return Runner(run: { i in
                    parameters = try ys[i % sets].withMutableView {
                        try op.backward(input: xs[i % sets].view(), outputGradient: dys[i % sets].view(), gamma: gamma, beta: beta,
                                        statistics: stats, inputGradient: $0, threadPool: pool)
                    }
                }, output: { ys[0].toArray() + parameters.gamma + parameters.beta })
            },
            reference: {
                let xr = RefTensorOf<Float>(n: n, h: size.h, w: size.w, c: c, data: x)
                let r = RefTrain.batchNormTraining(xr, gamma: gamma, beta: beta, eps: bn.eps)
                let a = referenceActivation(activation)
                guard backward else { return RefTrain.activation(r.y, a).data }
                let du = RefTrain.activationBackward(r.y, a, dy: RefTensorOf(n: n, h: size.h, w: size.w, c: c, data: dy))
                let g = RefTrain.batchNormTrainingBackward(r.saved, gamma: gamma, dy: du)
                return g.dx.data + g.dGamma + g.dBeta
            })
    }
}

/// The depthwise backward kernels (`DepthwiseConv2DBackward`) on every distinct depthwise layer of
/// the MobileNets and ShuffleNet at the training batch, stride 2 included: `dwconv.dgrad` rows
/// named "dgrad gather" (the input gradient as a gather, beside the stride-1 rows that run the
/// forward kernel on flipped weights) and `dwconv.wgrad` (weight and bias gradients). FLOPs are
/// the forward's, 2 * outputs * taps.
public func depthwiseBackwardCases(quick: Bool, weights: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    let layers = try convLayers(of: depthwiseModels, resolution: resolution) { $0.isDepthwise }
    return try layers.prefix(quick ? 4 : layers.count).map { layer in
        let conv = layer.conv, input = layer.input, output = layer.output
        let c = conv.inChannels, taps = conv.kernelH * conv.kernelW
        let padding = Padding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight)
        let xShape = try TensorShape(n: n, h: input.h, w: input.w, c: c)
        let dyShape = try TensorShape(n: n, h: output.h, w: output.w, c: c)
        let w = pseudoRandom(c * taps, seed: 9).map { $0 / 3 }
        let x = pseudoRandom(xShape.count, seed: UInt64(c + input.h)), dy = pseudoRandom(dyShape.count, seed: UInt64(c * 3 + output.h))
        let kernel = "dw\(conv.kernelH)x\(conv.kernelW)/\(conv.strideH) C=\(c)"
        return BenchmarkCase(
            family: weights ? .dwconvWgrad : .dwconvDgrad, model: layer.model.specName, layer: layer.layerName,
            shape: "\(weights ? "wgrad" : "dgrad gather") \(kernel) \(input.h)x\(input.w) n=\(n)",
            params: CaseParams(n: n, h: input.h, w: input.w, cin: c, cout: c, kh: conv.kernelH, kw: conv.kernelW,
                               stride: conv.strideH, groups: c),
            flops: 2 * Double(dyShape.count * taps),
            bytes: Double(4 * (xShape.count + dyShape.count + c * taps)),
            reduction: weights ? dyShape.pixels : taps,
            variants: Catalogue.variants(of: .dwgrad),
            makeRunner: { variant, pool, rotate in
                let op = try DepthwiseConv2DBackward(channels: c, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                                     strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                                     dilationH: conv.dilationH, dilationW: conv.dilationW, weights: w, variant: variant)
                let sets = rotate ? rotationCount(footprintBytes: 4 * (xShape.count + dyShape.count)) : 1
                let dys = try (0..<sets).map { _ in try Tensor(shape: dyShape, nhwc: dy) }
                if weights {
                    let xs = try (0..<sets).map { _ in try Tensor(shape: xShape, nhwc: x) }
                    var result: (weight: [Float], bias: [Float]) = ([], [])
                    return Runner(run: { i in
                        result = try op.weightGradient(input: xs[i % sets].view(), outputGradient: dys[i % sets].view(), bias: true,
                                                       threadPool: pool)
                    }, output: { result.weight + result.bias })
                }
                var dxs = try (0..<sets).map { _ in try Tensor(shape: xShape) }
                return Runner(run: { i in
                    try dxs[i % sets].withMutableView { try op.inputGradient(dys[i % sets].view(), into: $0, threadPool: pool) }
                }, output: { dxs[0].toArray() })
            },
            reference: {
                let r = RefTrain.conv2dBackward(RefTensorOf(n: n, h: input.h, w: input.w, c: c, data: x), weight: w, referenceGeometry(conv),
                                                dy: RefTensorOf(n: n, h: output.h, w: output.w, c: c, data: dy))
                return weights ? r.dWeight + r.dBias : r.dx.data
            })
    }
}

/// The pooling input gradients (`PoolingBackward`) of the windowed pools (VGG16, AlexNet at
/// 64x64, ShuffleNet) and the global pools (MobileNetV2, ShuffleNet) at the training batch: `pool.dgrad`, the
/// max rows with the forward's indices computed outside the timed region. FLOPs: one per
/// (output, window cell), as for the forward pool rows.
public func poolingBackwardCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    var cases: [BenchmarkCase] = []
    var seen: Set<String> = []
    for model in denseModels {
        // AlexNet needs 63x63 at least: it trains at 64x64.
        let size = model == .alexnet ? 2 * resolution : resolution
        for s in try Architecture.make(model).layerShapes(height: size, width: size) {
            guard let input = s.inputs.first else { continue }
            let kind: PoolingBackward.Kind, label: String, window: Int
            switch s.node.operation {
            case let .maxPool(k, stride, p):
                kind = .max(kernelH: k, kernelW: k, strideH: stride, strideW: stride, padding: .symmetric(p))
                (label, window) = ("maxpool \(k)x\(k)/s\(stride)", k * k)
            case let .avgPool(k, stride, p, include):
                kind = .average(kernelH: k, kernelW: k, strideH: stride, strideW: stride, padding: .symmetric(p), countIncludePad: include)
                (label, window) = ("avgpool \(k)x\(k)/s\(stride)", k * k)
            case .globalAveragePool:
                kind = .adaptive(outputH: 1, outputW: 1)
                (label, window) = ("global avgpool", input.h * input.w)
            default: continue
            }
            let shape = "dgrad \(label) C=\(input.c) \(input.h)x\(input.w) n=\(n)"
            guard seen.insert(shape).inserted else { continue }
            let xShape = try TensorShape(n: n, h: input.h, w: input.w, c: input.c)
            let yShape = try TensorShape(n: n, h: s.output.h, w: s.output.w, c: input.c)
            let x = pseudoRandom(xShape.count, seed: UInt64(input.c)), dy = pseudoRandom(yShape.count, seed: UInt64(input.c + 1))
            let geometry: RefPoolGeometry? = {
                switch kind {
                case let .max(k, _, st, _, p), let .average(k, _, st, _, p, _):
                    return RefPoolGeometry(kernel: k, stride: st, padding: p.top)
                case .adaptive: return nil
                }
            }()
            cases.append(BenchmarkCase(
                family: .poolDgrad, model: model.specName, layer: s.node.name, shape: shape,
                params: CaseParams(n: n, h: input.h, w: input.w, cin: input.c, cout: input.c),
                flops: Double(yShape.count * window), bytes: Double(4 * (xShape.count + yShape.count)), reduction: window,
                variants: Catalogue.variants(of: .poolgrad),
                makeRunner: { variant, pool, rotate in
                    let op = try PoolingBackward(kind, channels: input.c, variant: variant)
                    let sets = rotate ? rotationCount(footprintBytes: 4 * (xShape.count + yShape.count)) : 1
                    var indices: [Int32]? = nil
                    if case .max = kind {
                        var y = try Tensor(shape: yShape), found: [Int32] = []
                        let xt = try Tensor(shape: xShape, nhwc: x)
                        try y.withMutableView { try op.forwardWithIndices(xt.view(), into: $0, indices: &found, threadPool: pool) }
                        indices = found
                    }
                    let dys = try (0..<sets).map { _ in try Tensor(shape: yShape, nhwc: dy) }
                    var dxs = try (0..<sets).map { _ in try Tensor(shape: xShape) }
                    return Runner(run: { i in
                        try dxs[i % sets].withMutableView { try op.inputGradient(dys[i % sets].view(), indices: indices, into: $0, threadPool: pool) }
                    }, output: { dxs[0].toArray() })
                },
                reference: {
                    let xr = RefTensorOf<Float>(n: n, h: input.h, w: input.w, c: input.c, data: x)
                    let dyr = RefTensorOf<Float>(n: n, h: s.output.h, w: s.output.w, c: input.c, data: dy)
                    switch kind {
                    case .max: return RefTrain.maxPool2dBackward(inputShapeOf: xr, argmax: RefTrain.maxPool2d(xr, geometry!).argmax, dy: dyr).data
                    case let .average(_, _, _, _, _, include):
                        return RefTrain.avgPool2dBackward(inputShapeOf: xr, geometry!, countIncludePad: include, dy: dyr).data
                    case .adaptive: return RefTrain.adaptiveAvgPoolBackward(inputShapeOf: xr, dy: dyr).data
                    }
                }))
        }
    }
    return Array(cases.prefix(quick ? 3 : cases.count))
}

/// The weight and bias gradients of the dense KxK convolutions (VGG16; AlexNet at 64x64; the
/// MobileNet stems) and ShuffleNet's grouped 1x1 ones at the training batch
/// (`ConvWeightGradient.general` into buffers made once: one GEMM per group, the im2col patches
/// built while packing, the reordering into PyTorch's layout timed). FLOPs: 2 * outputs * reduction.
public func generalWeightGradientCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    var layers = try convLayers(of: [.vgg16, .mobileNetV2, .mobileNetV3Large], resolution: resolution) {
        !$0.isPointwise && !$0.isDepthwise && $0.groups == 1
    }
    layers += try convLayers(of: [.alexnet], resolution: 2 * resolution) { $0.groups == 1 }
    layers += try convLayers(of: [.shuffleNetV1(groups: 3)], resolution: resolution) { $0.groups > 1 && !$0.isDepthwise }
    return try layers.prefix(quick ? 3 : layers.count).map { layer in
        let conv = layer.conv, input = layer.input, output = layer.output
        let (cin, cout, g) = (conv.inChannels, conv.outChannels, conv.groups)
        let padding = Padding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight)
        let xShape = try TensorShape(n: n, h: input.h, w: input.w, c: cin)
        let dyShape = try TensorShape(n: n, h: output.h, w: output.w, c: cout)
        let x = pseudoRandom(xShape.count, seed: UInt64(cin + 3)), dy = pseudoRandom(dyShape.count, seed: UInt64(cout + 5))
        let reduction = dyShape.pixels
        let grouped = g > 1
        return BenchmarkCase(
            family: grouped ? .gconvWgrad : .convWgrad, model: layer.model.specName, layer: layer.layerName,
            shape: "wgrad \(grouped ? "gconv" : "conv")\(conv.kernelH)x\(conv.kernelW)/\(conv.strideH)\(grouped ? " g=\(g)" : "") "
                + "\(cin)->\(cout) \(input.h)x\(input.w) n=\(n)",
            params: CaseParams(n: n, h: input.h, w: input.w, cin: cin, cout: cout, kh: conv.kernelH, kw: conv.kernelW,
                               stride: conv.strideH, groups: g),
            flops: 2 * Double(reduction * cout * cin / g * conv.kernelH * conv.kernelW),
            bytes: Double(4 * (xShape.count + dyShape.count + cout * cin / g * conv.kernelH * conv.kernelW)),
            reduction: reduction,
            variants: Variant.allCases.filter { $0 != .auto && $0 != .blis && $0.hasFloatKernels },
            makeRunner: { variant, pool, _ in
                let xt = try Tensor(shape: xShape, nhwc: x), dyt = try Tensor(shape: dyShape, nhwc: dy)
                var weight = [Float](repeating: 0, count: cout * cin / g * conv.kernelH * conv.kernelW)
                var bias = [Float](repeating: 0, count: cout)
                return Runner(run: { _ in
                    try weight.withUnsafeMutableBufferPointer { w in
                        try bias.withUnsafeMutableBufferPointer { b in
                            try ConvWeightGradient.general(input: xt, outputGradient: dyt, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                                           strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                                           dilationH: conv.dilationH, dilationW: conv.dilationW, groups: g,
                                                           weightGradient: w, biasGradient: b, variant: variant, threadPool: pool)
                        }
                    }
                }, output: { weight + bias })
            },
            reference: {
                let r = RefTrain.conv2dBackward(RefTensorOf(n: n, h: input.h, w: input.w, c: cin, data: x),
                                                weight: [Float](repeating: 0, count: cout * cin / g * conv.kernelH * conv.kernelW),
                                                referenceGeometry(conv),
                                                dy: RefTensorOf(n: n, h: output.h, w: output.w, c: cout, data: dy))
                return r.dWeight + r.dBias
            })
    }
}

/// `x` with every value whose BatchNorm output (batch statistics, float64) lies within 1e-3 of a
/// kink of `activation` moved 2e-3 past it: the kernel and the float32 reference round that
/// output differently, and at a kink a last-bit difference flips the gradient between dy and 0
/// (the verification would report a correct kernel as FAILED).
func awayFromKinks(_ x: [Float], channels c: Int, gamma: [Float], beta: [Float], eps: Float, activation: Activation) -> [Float] {
    let kinks: [Double]
    switch activation {
    case .none: return x
    case .relu: kinks = [0]
    case .relu6: kinks = [0, 6]
    case .hardswish, .hardsigmoid: kinks = [-3, 3]
    case let .clamp(lo, hi): kinks = [Double(lo), Double(hi)]
    }
    var x = x
    let pixels = x.count / c
    for _ in 0..<2 {
        var mean = [Double](repeating: 0, count: c), variance = mean
        for i in 0..<x.count { mean[i % c] += Double(x[i]) }
        for ch in 0..<c { mean[ch] /= Double(pixels) }
        for i in 0..<x.count { let d = Double(x[i]) - mean[i % c]; variance[i % c] += d * d }
        for i in 0..<x.count {
            let ch = i % c
            let scale = Double(gamma[ch]) / (variance[ch] / Double(pixels) + Double(eps)).squareRoot()
            let u = (Double(x[i]) - mean[ch]) * scale + Double(beta[ch])
            for kink in kinks where abs(u - kink) < 1e-3 && scale != 0 {
                // Move u to kink +- 2e-3 on its own side.
                let target = kink + (u >= kink ? 2e-3 : -2e-3)
                x[i] = Float(Double(x[i]) + (target - u) / scale)
            }
        }
    }
    return x
}

/// Every Dropout of the seven networks' classifiers (`LinearSpec.dropout`: VGG16, AlexNet, the
/// MobileNets V2 and V3) on its Linear's input at the training batch (`Dropout.apply`, the
/// forward; the backward is the same call on the gradient). One loop for every ISA (the mask
/// must be the same bits everywhere; on x86-64 an AVX2 copy of it runs where the CPU has AVX2),
/// so one row, "auto". Memory-bound: 1 FLOP per value, 8 bytes.
public func dropoutCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    _ = resolution  // the classifiers' widths do not depend on it
    var cases: [BenchmarkCase] = []
    for kind in [ModelKind.vgg16, .alexnet, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small] {
        let architecture = try Architecture.make(kind, numClasses: 10)
        for node in architecture.nodes {
            guard case let .linear(l) = node.operation, l.dropout > 0 else { continue }
            let shape = try TensorShape(n: n, h: 1, w: 1, c: l.inFeatures)
            let x = pseudoRandom(shape.count, seed: UInt64(l.inFeatures))
            let p = l.dropout
            cases.append(BenchmarkCase(
                family: .dropout, model: kind.specName, layer: node.name,
                shape: "dropout p=\(p) \(l.inFeatures) n=\(n)",
                params: CaseParams(n: n, cin: l.inFeatures),
                flops: Double(shape.count), bytes: Double(8 * shape.count), reduction: 0,
                variants: [.auto],
                makeRunner: { _, pool, _ in
                    let dropout = try Dropout(probability: p)
                    let input = try Tensor(shape: shape, nhwc: x)
                    var output = try Tensor(shape: shape)
                    return Runner(run: { _ in
                        try output.withMutableView { try dropout.apply(try input.view(), into: $0, seed: 7, threadPool: pool) }
                    }, output: { output.toArray() })
                },
                reference: {
                    let dropout = try? Dropout(probability: p)
                    return RefTrain.dropout(RefTensorOf(n: n, h: 1, w: 1, c: l.inFeatures, data: x), p: Double(p)) {
                        dropout!.keeps($0, seed: 7)
                    }.data
                }))
        }
    }
    return quick ? Array(cases.prefix(2)) : cases
}

/// The squeeze-and-excitation backward (`SqueezeExcitation.backward`: the input gradient and the
/// two layers' weight and bias gradients, the forward's saved values computed outside the timed
/// region) on every distinct SE block of the MobileNetV3s at the training batch: `se.backward`.
/// FLOPs: 4 per input value (dy * x summed, dy * gate + the pooled path) and 8 per fc weight and
/// image (two products back through the layers, two weight gradients): at the training batch and
/// 32x32 the layers' products dominate, so not a memory-bound family.
public func squeezeExcitationBackwardCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, resolution) = trainingBatch(quick: quick)
    var cases: [BenchmarkCase] = []
    var seen: Set<String> = []
    for model in [ModelKind.mobileNetV3Large, .mobileNetV3Small] {
        for s in try Architecture.make(model).layerShapes(height: resolution, width: resolution) {
            guard case let .squeezeExcitation(se) = s.node.operation else { continue }
            let f = s.output
            let label = "se.backward C=\(se.channels) sq=\(se.squeezeChannels) \(f.h)x\(f.w) n=\(n)"
            guard seen.insert(label).inserted else { continue }
            let (c, q) = (se.channels, se.squeezeChannels)
            let shape = try TensorShape(n: n, h: f.h, w: f.w, c: c)
            let x = pseudoRandom(shape.count, seed: 11), dy = pseudoRandom(shape.count, seed: 16)
            let w1 = pseudoRandom(q * c, seed: 12), b1 = pseudoRandom(q, seed: 13)
            let w2 = pseudoRandom(c * q, seed: 14), b2 = pseudoRandom(c, seed: 15)
            cases.append(BenchmarkCase(
                family: .seBackward, model: model.specName, layer: s.node.name, shape: label,
                params: CaseParams(n: n, h: f.h, w: f.w, cin: c, cout: c),
                flops: Double(4 * shape.count + 8 * n * c * q), bytes: Double(12 * shape.count), reduction: f.h * f.w + c,
                variants: Variant.allCases.filter {
                    $0 != .auto && SqueezeExcitation.supports(channels: c, squeezeChannels: q, variant: $0)
                },
                makeRunner: { variant, pool, rotate in
                    let layer = try SqueezeExcitation(channels: c, squeezeChannels: q, fc1Weight: w1, fc1Bias: b1,
                                                      fc2Weight: w2, fc2Bias: b2, variant: variant)
                    let sets = rotate ? rotationCount(footprintBytes: 12 * shape.count) : 1
                    let inputs = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: x) }
                    let dys = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: dy) }
                    var dxs = try (0..<sets).map { _ in try Tensor(shape: shape) }
                    var y = try Tensor(shape: shape)
                    var saved = [Float](repeating: 0, count: layer.savedCount(batch: n))
                    try saved.withUnsafeMutableBufferPointer { keep in
                        try y.withMutableView { try layer.trainingForward(inputs[0].view(), into: $0, saved: keep, threadPool: pool) }
                    }
                    var grads = [Float](repeating: 0, count: 2 * c * q + c + q)
                    return Runner(run: { i in
                        try grads.withUnsafeMutableBufferPointer { g in
                            let b = g.baseAddress!
                            try saved.withUnsafeBufferPointer { keep in try dxs[i % sets].withMutableView {
                                try layer.backward(input: inputs[i % sets].view(), saved: keep,
                                                   outputGradient: dys[i % sets].view(), inputGradient: $0,
                                                   fc1WeightGradient: .init(start: b, count: c * q),
                                                   fc1BiasGradient: .init(start: b + c * q, count: q),
                                                   fc2WeightGradient: .init(start: b + c * q + q, count: c * q),
                                                   fc2BiasGradient: .init(start: b + 2 * c * q + q, count: c), threadPool: pool)
                            } }
                        }
                    }, output: { dxs[0].toArray() + grads })
                },
                reference: {
                    let p = RefTrain.SqueezeExcitationWeights<Float>(fc1Weight: w1, fc1Bias: b1, fc2Weight: w2, fc2Bias: b2)
                    let xr = RefTensorOf<Float>(n: n, h: f.h, w: f.w, c: c, data: x)
                    let r = RefTrain.squeezeExcitation(xr, p)
                    let b = RefTrain.squeezeExcitationBackward(xr, p, saved: r.saved, dy: RefTensorOf(n: n, h: f.h, w: f.w, c: c, data: dy))
                    return b.dx.data + b.grads.fc1Weight + b.grads.fc1Bias + b.grads.fc2Weight + b.grads.fc2Bias
                }))
        }
    }
    return quick ? Array(cases.prefix(2)) : cases
}

/// The loss (`SoftmaxCrossEntropy`: mean cross-entropy and the logits' gradient) at the training
/// batch, for the 10 classes the training runs use and ImageNet's 1000. One portable loop (exp and
/// log in float64), so one row, "auto". FLOPs: 4 per logit (two exps counted as one each).
public func lossCases(quick: Bool) throws -> [BenchmarkCase] {
    let (n, _) = trainingBatch(quick: quick)
    return (quick ? [10] : [10, 1000]).map { classes in
        let z = pseudoRandom(n * classes, seed: UInt64(classes)).map { $0 * 4 }
        let labels = (0..<n).map { ($0 * 7 + 3) % classes }
        return BenchmarkCase(
            family: .loss, model: nil, layer: "loss", shape: "softmax cross-entropy \(classes) classes n=\(n)",
            params: CaseParams(n: n, cout: classes),
            flops: Double(4 * n * classes), bytes: Double(8 * n * classes), reduction: classes,
            variants: [.auto],
            makeRunner: { _, _, _ in
                var gradient = [Float](repeating: 0, count: n * classes)
                var loss: Float = 0
                return Runner(run: { _ in
                    loss = try z.withUnsafeBufferPointer { z in
                        try labels.withUnsafeBufferPointer { y in
                            try gradient.withUnsafeMutableBufferPointer {
                                try SoftmaxCrossEntropy.loss(logits: z, classes: classes, labels: y, gradient: $0)
                            }
                        }
                    }
                }, output: { [loss] + gradient })
            },
            reference: {
                let r = RefTrain.softmaxCrossEntropy(RefTensorOf<Float>(n: n, h: 1, w: 1, c: classes, data: z), labels: labels)
                return [r.loss] + r.dLogits.data
            })
    }
}
