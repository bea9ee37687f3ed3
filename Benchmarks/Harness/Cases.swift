import MobileKernels
import NetworkOracle
import ReferenceKernels

/// The operator families the harness measures (the JSON `family` field).
public enum Family: String, CaseIterable, Sendable {
    case activation, dwconv, conv1x1, gconv, shuffle, conv, pool, fc, se, model
    /// Input gradients (backward data) of the convolution families, at a training batch.
    case dwconvDgrad = "dwconv.dgrad", conv1x1Dgrad = "conv1x1.dgrad", gconvDgrad = "gconv.dgrad", convDgrad = "conv.dgrad"
    /// Weight and bias gradients of the 1x1 convolutions, at a training batch.
    case conv1x1Wgrad = "conv1x1.wgrad"
    /// Training-mode BatchNorm (+ activation): forward with batch statistics, and backward.
    case bnTrain = "bn.train", bnBackward = "bn.backward"
    /// Depthwise weight and bias gradients.
    case dwconvWgrad = "dwconv.wgrad"
    /// Dense KxK and grouped weight gradients (im2col + GEMM).
    case convWgrad = "conv.wgrad", gconvWgrad = "gconv.wgrad"
    /// Pooling input gradients (max with the forward's indices, average, global).
    case poolDgrad = "pool.dgrad"
    /// Training-mode dropout on the classifiers' inputs.
    case dropout
    /// Squeeze-and-excitation backward (input and fc gradients); at a training batch its two
    /// layers' products outweigh the pixel passes, so its % of peak is against the FMA peak.
    case seBackward = "se.backward"
    /// The softmax cross-entropy loss and the logits' gradient.
    case loss
    /// int8 (QS8, per-channel weights) convolutions: GOP/s (2 per multiply-accumulate) and % of
    /// the int8 peak (`MachinePeak.int8Gops`).
    case qs8Conv1x1 = "qs8.conv1x1", qs8Gconv = "qs8.gconv", qs8Conv = "qs8.conv", qs8Dwconv = "qs8.dwconv"
    /// Whole int8 networks (`QuantizedNetwork`), verified against the float32 reference network
    /// with `int8LogitsAgree`.
    case qs8Model = "qs8.model"

    /// The int8 families, held against the int8 peak.
    public var isInt8: Bool { rawValue.hasPrefix("qs8.") }

    /// Families limited by memory traffic: their "% of peak" is against the measured copy
    /// bandwidth rather than the FMA peak (fully connected layers at batch 1 are GEMVs that read
    /// each weight once).
    public var isMemoryBound: Bool {
        [.activation, .shuffle, .pool, .fc, .se, .bnTrain, .bnBackward, .poolDgrad, .dropout, .loss].contains(self)
    }
}

/// The numbers that describe a case (the JSON `params` object); nil where they do not apply.
public struct CaseParams: Sendable, Equatable {
    public var n: Int?, h: Int?, w: Int?, cin: Int?, cout: Int?, kh: Int?, kw: Int?, stride: Int?, groups: Int?

    public init(n: Int? = nil, h: Int? = nil, w: Int? = nil, cin: Int? = nil, cout: Int? = nil, kh: Int? = nil,
                kw: Int? = nil, stride: Int? = nil, groups: Int? = nil) {
        (self.n, self.h, self.w, self.cin, self.cout, self.kh, self.kw, self.stride, self.groups) =
            (n, h, w, cin, cout, kh, kw, stride, groups)
    }

    /// The fields that are set, in a fixed order.
    public var fields: [(String, Int)] {
        [("n", n), ("h", h), ("w", w), ("cin", cin), ("cout", cout), ("kh", kh), ("kw", kw), ("stride", stride), ("groups", groups)]
            .compactMap { name, value in value.map { (name, $0) } }
    }
}

/// A kernel ready to time: `run(i)` runs call number i (runners rotate over several buffer sets
/// so large layers are not timed cache-hot), `output()` returns the first set's NHWC output.
public struct Runner {
    public let run: (Int) throws -> Void
    public let output: () -> [Float]

    public init(run: @escaping (Int) throws -> Void, output: @escaping () -> [Float]) {
        self.run = run
        self.output = output
    }
}

extension Runner {
    /// A layer's runner over `values` of `input` shape into outputs of `output` shape, rotating
    /// over enough buffer sets (`rotate`) that a layer larger than L2 is not timed cache-hot.
    public static func layer(_ layer: any Layer, input: TensorShape, values: [Float], output: TensorShape,
                             pool: ThreadPool, rotate: Bool) throws -> Runner {
        let sets = rotate ? rotationCount(footprintBytes: 4 * (input.count + output.count)) : 1
        let inputs = try (0..<sets).map { _ in try Tensor(shape: input, nhwc: values) }
        var outputs = try (0..<sets).map { _ in try Tensor(shape: output) }
        return Runner(run: { i in try layer.forward(inputs[i % sets], into: &outputs[i % sets], threadPool: pool) },
                      output: { outputs[0].toArray() })
    }
}

/// One benchmark case: a kernel on one shape, runnable for each of its variants and as the naive
/// Swift reference.
public struct BenchmarkCase {
    public let family: Family
    /// The model and layers the shape comes from ("mobilenet_v2", "features.2.conv.1"), if any.
    public let model: String?
    public let layer: String
    public let shape: String
    public let params: CaseParams
    /// 2 x multiply-accumulates (or the elementwise operations of memory-bound kernels).
    public let flops: Double
    /// Bytes of input, output and weights that one run must move at least once.
    public let bytes: Double
    /// The reduction length of each output (for the verification tolerance); 0 for none.
    public let reduction: Int
    /// The concrete variants this family has (those the CPU lacks are skipped when run).
    public let variants: [Variant]
    /// Builds the runner of a variant: weights packed and buffers allocated here, outside the
    /// timed region. Throws `.unsupported` for a variant the CPU lacks.
    public let makeRunner: (Variant, ThreadPool, _ rotate: Bool) throws -> Runner
    /// The naive Swift reference: runs once and returns its NHWC output.
    public let reference: () -> [Float]

    /// A stable identifier: family, model, layer and shape.
    public var id: String { [family.rawValue, model ?? "-", layer, shape].joined(separator: " ") }
}

/// How many input/output buffer sets a runner rotates over: enough that a layer whose buffers do
/// not fit in L2 (1 MiB and up) is read from L3 or memory on every call, as in a model; one set for
/// small layers, which a model also finds in cache.
public func rotationCount(footprintBytes: Int) -> Int {
    guard footprintBytes > 1 << 20 else { return 1 }
    return max(2, min(8, (16 << 20) / footprintBytes))
}

// MARK: - Bias + activation

/// Bias + activation on the foundation issue's two shapes (quick: 14x14 ones).
public func activationCases(quick: Bool) throws -> [BenchmarkCase] {
    let shapes = quick ? [(14, 14, 144), (28, 28, 96)] : [(56, 56, 144), (112, 112, 96)]
    var cases: [BenchmarkCase] = []
    for (h, w, c) in shapes {
        for activation in [Activation.relu6, .hardswish] {
            let shape = try TensorShape(h: h, w: w, c: c)
            let x = pseudoRandom(shape.count, seed: 1).map { $0 * 4 }
            let bias = pseudoRandom(c, seed: 2)
            cases.append(BenchmarkCase(
                family: .activation, model: nil, layer: "bias+\(activation)", shape: "1x\(h)x\(w)x\(c)",
                params: CaseParams(n: 1, h: h, w: w, cin: c, cout: c),
                flops: Double(shape.count) * (activation == .hardswish ? 6 : 3),
                bytes: Double(shape.count) * 8, reduction: 0,
                variants: Catalogue.variants(of: .vunary),
                makeRunner: { variant, pool, rotate in
                    let layer = try BiasActivation(channels: c, bias: bias, activation: activation, variant: variant)
                    let sets = rotate ? rotationCount(footprintBytes: shape.count * 8) : 1
                    let inputs = try (0..<sets).map { _ in try Tensor(shape: shape, nhwc: x) }
                    var outputs = try (0..<sets).map { _ in try Tensor(shape: shape) }
                    return Runner(run: { i in try layer.forward(inputs[i % sets], into: &outputs[i % sets], threadPool: pool) },
                                  output: { outputs[0].toArray() })
                },
                reference: {
                    Reference.biasActivation(RefTensor(n: 1, h: h, w: w, c: c, data: x), bias: bias,
                                             activation: referenceActivation(activation)).data
                }))
        }
    }
    return cases
}

// MARK: - Depthwise convolution

/// A depthwise layer of a model as a case: "dw3x3/s2 C=144 56x56".
public func depthwiseCase(_ layer: ConvLayer) throws -> BenchmarkCase {
    let conv = layer.conv, input = layer.input, output = layer.output
    let c = conv.inChannels, k = conv.kernelH
    let shape = try TensorShape(h: input.h, w: input.w, c: c)
    let x = pseudoRandom(shape.count, seed: UInt64(c * 31 + input.h))
    let weights = pseudoRandom(c * conv.kernelH * conv.kernelW, seed: 3).map { $0 * 0.5 }
    let bias = pseudoRandom(c, seed: 4)
    let padding = Padding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight)
    let macs = Double(c * output.h * output.w * conv.kernelH * conv.kernelW)
    let outShape = try TensorShape(h: output.h, w: output.w, c: c)
    return BenchmarkCase(
        family: .dwconv, model: layer.model.specName, layer: layer.layerName,
        shape: "dw\(k)x\(conv.kernelW)/s\(conv.strideH) C=\(c) \(input.h)x\(input.w)",
        params: CaseParams(n: 1, h: input.h, w: input.w, cin: c, cout: c, kh: conv.kernelH, kw: conv.kernelW,
                           stride: conv.strideH, groups: c),
        flops: 2 * macs,
        bytes: Double(4 * (shape.count + outShape.count + weights.count + c)),
        reduction: conv.kernelH * conv.kernelW,
        variants: Variant.allCases.filter {
            $0 != .auto && DepthwiseConv2D.supports(channels: c, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                                    strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                                    dilationH: conv.dilationH, dilationW: conv.dilationW, variant: $0)
        },
        makeRunner: { variant, pool, rotate in
            let dw = try DepthwiseConv2D(channels: c, kernelH: conv.kernelH, kernelW: conv.kernelW,
                                         strideH: conv.strideH, strideW: conv.strideW, padding: padding,
                                         weights: weights, bias: bias, activation: conv.activation, variant: variant)
            return try .layer(dw, input: shape, values: x, output: outShape, pool: pool, rotate: rotate)
        },
        reference: {
            Reference.conv2d(RefTensor(n: 1, h: input.h, w: input.w, c: c, data: x), weight: weights, bias: bias,
                             outChannels: c, kernelH: conv.kernelH, kernelW: conv.kernelW,
                             strideH: conv.strideH, strideW: conv.strideW,
                             padding: RefPadding(top: conv.padTop, left: conv.padLeft, bottom: conv.padBottom, right: conv.padRight),
                             groups: c, activation: referenceActivation(conv.activation)).data
        })
}
