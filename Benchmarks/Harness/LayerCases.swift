import MobileKernels
import NetworkOracle
import ReferenceKernels

// MARK: - Dense convolution, pooling, fully connected and squeeze-and-excitation cases

/// The models of the dense-convolution, pooling and FC families.
public let denseModels: [ModelKind] = [.mobileNetV2, .shuffleNetV1(groups: 3), .alexnet, .vgg16]

/// Every distinct dense KxK convolution (groups 1, not 1x1) of `denseModels`: the MobileNet and
/// ShuffleNet stems, VGG16's 3x3 and AlexNet's 11x11 / 5x5 / 3x3 layers. A layer Winograd can
/// compute is two cases, "direct" and "winograd" (the shape's suffix), so the harness compares
/// the algorithms on it; the others run as `.auto` picks (direct).
public func denseConvCases(resolution: Int) throws -> [BenchmarkCase] {
    var cases: [BenchmarkCase] = []
    for layer in try convLayers(of: denseModels, resolution: resolution, where: {
        $0.groups == 1 && !($0.kernelH == 1 && $0.kernelW == 1)
    }) {
        let c = layer.conv
        let winograd = Variant.available.contains {
            Conv2D.supports(inChannels: c.inChannels, outChannels: c.outChannels, kernelH: c.kernelH, kernelW: c.kernelW,
                            strideH: c.strideH, strideW: c.strideW, dilationH: c.dilationH, dilationW: c.dilationW,
                            groups: c.groups, variant: $0, algorithm: .winograd)
        }
        if winograd {
            cases.append(try convCase(layer, algorithm: .direct))
            cases.append(try convCase(layer, algorithm: .winograd))
        } else {
            cases.append(try convCase(layer))
        }
    }
    return cases
}

/// Every distinct max or average pooling layer of `denseModels` (VGG16's 2x2 s2, AlexNet's 3x3
/// s2, ShuffleNet's 3x3 s2 p1 stem max pool and stride-2 shortcut average pool).
public func poolCases(resolution: Int) throws -> [BenchmarkCase] {
    var cases: [BenchmarkCase] = []
    var seen: Set<String> = []
    for model in denseModels {
        for s in try Architecture.make(model).layerShapes(height: resolution, width: resolution) {
            let input = s.inputs.first ?? s.output
            let (isMax, k, stride, pad, include): (Bool, Int, Int, Int, Bool)
            switch s.node.operation {
            case let .maxPool(kk, ss, pp): (isMax, k, stride, pad, include) = (true, kk, ss, pp, false)
            case let .avgPool(kk, ss, pp, inc): (isMax, k, stride, pad, include) = (false, kk, ss, pp, inc)
            default: continue
            }
            let label = "\(isMax ? "maxpool" : "avgpool") \(k)x\(k)/s\(stride)\(pad > 0 ? " p\(pad)" : "") C=\(input.c) \(input.h)x\(input.w)"
            guard seen.insert(label).inserted else { continue }
            let shape = try TensorShape(h: input.h, w: input.w, c: input.c)
            let outShape = try TensorShape(h: s.output.h, w: s.output.w, c: input.c)
            let x = pseudoRandom(shape.count, seed: UInt64(input.c + k))
            cases.append(BenchmarkCase(
                family: .pool, model: model.specName, layer: s.node.name, shape: label,
                params: CaseParams(n: 1, h: input.h, w: input.w, cin: input.c, cout: input.c, kh: k, kw: k, stride: stride),
                flops: Double(outShape.count * k * k), bytes: Double(4 * (shape.count + outShape.count)), reduction: k * k,
                variants: Catalogue.variants(of: .pool),
                makeRunner: { variant, pool, rotate in
                    let layer: Layer = isMax
                        ? try MaxPool2D(channels: input.c, kernel: k, stride: stride, padding: .symmetric(pad), variant: variant)
                        : try AvgPool2D(channels: input.c, kernel: k, stride: stride, padding: .symmetric(pad),
                                        countIncludePad: include, variant: variant)
                    return try .layer(layer, input: shape, values: x, output: outShape, pool: pool, rotate: rotate)
                },
                reference: {
                    let t = RefTensor(n: 1, h: input.h, w: input.w, c: input.c, data: x)
                    return isMax
                        ? Reference.maxPool2d(t, kernelH: k, kernelW: k, strideH: stride, strideW: stride, padding: .symmetric(pad)).data
                        : Reference.avgPool2d(t, kernelH: k, kernelW: k, strideH: stride, strideW: stride, padding: .symmetric(pad),
                                              countIncludePad: include).data
                }))
        }
    }
    return cases
}

/// Every distinct fully connected layer of the models at batch 1 (a GEMV: memory-bound, so held
/// against the copy bandwidth of its weights).
public func fcCases() throws -> [BenchmarkCase] {
    var cases: [BenchmarkCase] = []
    var seen: Set<String> = []
    for model in [ModelKind.mobileNetV2, .mobileNetV3Large, .shuffleNetV1(groups: 3), .alexnet, .vgg16] {
        for node in try Architecture.make(model).nodes {
            guard case let .linear(spec) = node.operation else { continue }
            let label = "fc \(spec.inFeatures)->\(spec.outFeatures)"
            guard seen.insert(label).inserted else { continue }
            let (inF, outF) = (spec.inFeatures, spec.outFeatures)
            let x = pseudoRandom(inF, seed: 7)
            // Generated when a runner or the reference needs them (VGG16's first is 102M values).
            let weights = { pseudoRandom(inF * outF, seed: 8).map { $0 / Float(inF).squareRoot() } }
            let b = pseudoRandom(outF, seed: 9)
            cases.append(BenchmarkCase(
                family: .fc, model: model.specName, layer: node.name, shape: label,
                params: CaseParams(n: 1, h: 1, w: 1, cin: inF, cout: outF),
                flops: 2 * Double(inF * outF), bytes: Double(4 * (inF * outF + inF + 2 * outF)), reduction: inF,
                variants: Variant.allCases.filter {
                    $0 != .auto && Conv2D.supports(inChannels: inF, outChannels: outF, kernelH: 1, kernelW: 1, variant: $0)
                },
                makeRunner: { variant, pool, _ in
                    let layer = try Conv2D(inChannels: inF, outChannels: outF, kernelSize: 1, weights: weights(), bias: b,
                                           activation: spec.activation, variant: variant)
                    let input = try Tensor(shape: TensorShape(h: 1, w: 1, c: inF), nhwc: x)
                    var output = try Tensor(shape: TensorShape(h: 1, w: 1, c: outF))
                    return Runner(run: { _ in try layer.forward(input, into: &output, threadPool: pool) },
                                  output: { output.toArray() })
                },
                reference: {
                    Reference.fullyConnected(x, batch: 1, inFeatures: inF, weight: weights(), bias: b, outFeatures: outF,
                                             activation: referenceActivation(spec.activation))
                }))
        }
    }
    return cases
}

/// Every distinct squeeze-and-excitation block of MobileNetV3-Large and -Small.
public func seCases(resolution: Int) throws -> [BenchmarkCase] {
    var cases: [BenchmarkCase] = []
    var seen: Set<String> = []
    for model in [ModelKind.mobileNetV3Large, .mobileNetV3Small] {
        for s in try Architecture.make(model).layerShapes(height: resolution, width: resolution) {
            guard case let .squeezeExcitation(se) = s.node.operation else { continue }
            let f = s.output
            let label = "se C=\(se.channels) sq=\(se.squeezeChannels) \(f.h)x\(f.w)"
            guard seen.insert(label).inserted else { continue }
            let (c, q) = (se.channels, se.squeezeChannels)
            let shape = try TensorShape(h: f.h, w: f.w, c: c)
            let x = pseudoRandom(shape.count, seed: 11)
            let w1 = pseudoRandom(q * c, seed: 12), b1 = pseudoRandom(q, seed: 13)
            let w2 = pseudoRandom(c * q, seed: 14), b2 = pseudoRandom(c, seed: 15)
            cases.append(BenchmarkCase(
                family: .se, model: model.specName, layer: s.node.name, shape: label,
                params: CaseParams(n: 1, h: f.h, w: f.w, cin: c, cout: c),
                flops: Double(2 * shape.count + 4 * c * q), bytes: Double(8 * shape.count), reduction: f.h * f.w + c,
                variants: Variant.allCases.filter {
                    $0 != .auto && SqueezeExcitation.supports(channels: c, squeezeChannels: q, variant: $0)
                },
                makeRunner: { variant, pool, rotate in
                    let layer = try SqueezeExcitation(channels: c, squeezeChannels: q, fc1Weight: w1, fc1Bias: b1,
                                                      fc2Weight: w2, fc2Bias: b2, variant: variant)
                    let sets = rotate ? rotationCount(footprintBytes: 8 * shape.count) : 1
                    let inputs = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: x) }
                    var outputs = try (0..<sets).map { _ in try Tensor(shape: shape) }
                    return Runner(run: { i in try layer.forward(inputs[i % sets], into: &outputs[i % sets], threadPool: pool) },
                                  output: { outputs[0].toArray() })
                },
                reference: {
                    Reference.squeezeExcitation(RefTensor(n: 1, h: f.h, w: f.w, c: c, data: x), fc1Weight: w1, fc1Bias: b1,
                                                squeezeChannels: q, fc2Weight: w2, fc2Bias: b2).data
                }))
        }
    }
    return cases
}
