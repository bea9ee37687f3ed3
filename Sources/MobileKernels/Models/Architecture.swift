/// The seven networks as data: what every layer is, in which order, with which PyTorch
/// state_dict keys. The model builder turns an `Architecture` into runnable layers, the
/// benchmarks take their layer shapes from it, and the tests compare it to the state_dict specs
/// in `Tests/Fixtures/specs` (copies of `specs/*.json`).
///
/// One builder per family lives in `Models/Architectures/`; this file holds the shared types and
/// the shape, parameter and MAC arithmetic.

// MARK: - Model kinds

/// A network MobileKernels describes. `specName` is the name of its state_dict spec
/// (`specs/<specName>.json`) and of its weights file.
public enum ModelKind: Hashable, Sendable, CustomStringConvertible {
    /// MobileNetV1 (Howard et al. 2017) as `reference_models.py` defines it.
    case mobileNetV1
    /// torchvision's `mobilenet_v2`.
    case mobileNetV2
    /// torchvision's `mobilenet_v3_large`.
    case mobileNetV3Large
    /// torchvision's `mobilenet_v3_small`.
    case mobileNetV3Small
    /// ShuffleNetV1 1.0x (Zhang et al. 2017) as `reference_models.py` defines it;
    /// `groups` is one of `ModelKind.shuffleNetV1Groups` (1, 2, 3, 4, 8). Only g = 3 has a spec.
    case shuffleNetV1(groups: Int)
    /// torchvision's `vgg16` (configuration D, no batch norm).
    case vgg16
    /// torchvision's `alexnet`.
    case alexnet

    /// The group counts ShuffleNetV1 is defined for (paper Table 1).
    public static let shuffleNetV1Groups = [1, 2, 3, 4, 8]

    /// "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    /// "shufflenet_v1_g<groups>", "vgg16", "alexnet".
    public var specName: String {
        switch self {
        case .mobileNetV1: "mobilenet_v1"
        case .mobileNetV2: "mobilenet_v2"
        case .mobileNetV3Large: "mobilenet_v3_large"
        case .mobileNetV3Small: "mobilenet_v3_small"
        case let .shuffleNetV1(groups): "shufflenet_v1_g\(groups)"
        case .vgg16: "vgg16"
        case .alexnet: "alexnet"
        }
    }

    /// The kind whose `specName` is `specName`; nil for unknown names and for ShuffleNetV1 group
    /// counts outside `shuffleNetV1Groups`.
    public init?(specName: String) {
        guard let kind = ModelKind.all.first(where: { $0.specName == specName }) else { return nil }
        self = kind
    }

    /// Every model: the seven with a spec, plus ShuffleNetV1 with groups 1, 2, 4 and 8 (11 in all).
    public static var all: [ModelKind] {
        [.mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small]
            + shuffleNetV1Groups.map { .shuffleNetV1(groups: $0) }
            + [.vgg16, .alexnet]
    }

    /// The seven models that have a state_dict spec (`specs/<specName>.json`) and pretrained weights.
    public static var specified: [ModelKind] {
        [.mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small, .shuffleNetV1(groups: 3), .vgg16, .alexnet]
    }

    /// Whether `Architecture.make` accepts a width multiplier other than 1 (MobileNets only).
    public var hasWidthMultiplier: Bool {
        switch self {
        case .mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small: true
        case .shuffleNetV1, .vgg16, .alexnet: false
        }
    }

    /// Whether `Architecture.make` accepts `stemStride: 1`, the small-image variant (the
    /// MobileNets and ShuffleNetV1; VGG16 and AlexNet have none).
    public var hasSmallImageVariant: Bool {
        switch self {
        case .mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small, .shuffleNetV1: true
        case .vgg16, .alexnet: false
        }
    }

    /// Whether the first convolution is followed by a max pool that `Architecture.make(_:stemPool:)`
    /// can drop (ShuffleNetV1 only).
    public var hasStemPool: Bool {
        if case .shuffleNetV1 = self { return true }
        return false
    }

    public var description: String { specName }
}

// MARK: - Layer specifications

/// A BatchNorm2d right after a convolution, folded into the convolution when weights are loaded.
/// Its state_dict keys are `prefix.weight` (gamma), `prefix.bias` (beta), `prefix.running_mean`,
/// `prefix.running_var`, each `[channels]`, in that order.
public struct BatchNormSpec: Hashable, Sendable {
    public var channels: Int
    /// The module path, e.g. "features.0.1".
    public var prefix: String
    /// 1e-5 (PyTorch's default) or 1e-3 (MobileNetV3).
    public var eps: Float
    /// The running statistics' update in training mode, PyTorch's `momentum`:
    /// running = (1 - momentum) * running + momentum * batch statistic. 0.1 (PyTorch's default)
    /// or 0.01 (torchvision's MobileNetV3).
    public var momentum: Float

    public init(channels: Int, prefix: String, eps: Float, momentum: Float = 0.1) {
        self.channels = channels
        self.prefix = prefix
        self.eps = eps
        self.momentum = momentum
    }

    public var weightKey: String { prefix + ".weight" }
    public var biasKey: String { prefix + ".bias" }
    public var runningMeanKey: String { prefix + ".running_mean" }
    public var runningVarKey: String { prefix + ".running_var" }
}

/// A 2-D convolution with its optional bias, the BatchNorm that follows it and the activation
/// after that: y = act(BN(conv(x) + bias)). The weight is `[outChannels, inChannels / groups,
/// kernelH, kernelW]` (PyTorch OIHW) under `weightKey`.
public struct ConvSpec: Hashable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var dilationH: Int
    public var dilationW: Int
    public var groups: Int
    /// e.g. "features.0.0.weight"; shape `[out, in / groups, kh, kw]`.
    public var weightKey: String
    /// The convolution's own bias (VGG, AlexNet), `[out]`; nil when it has none.
    public var biasKey: String?
    /// The BatchNorm right after the convolution, if any.
    public var batchNorm: BatchNormSpec?
    /// Applied after the BatchNorm.
    public var activation: Activation

    public init(
        inChannels: Int, outChannels: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
        padTop: Int, padLeft: Int, padBottom: Int, padRight: Int, dilationH: Int = 1, dilationW: Int = 1,
        groups: Int = 1, weightKey: String, biasKey: String? = nil, batchNorm: BatchNormSpec? = nil,
        activation: Activation = .none
    ) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.groups = groups
        self.weightKey = weightKey
        self.biasKey = biasKey
        self.batchNorm = batchNorm
        self.activation = activation
    }

    /// A square convolution with symmetric padding, by default PyTorch's "same" padding for odd
    /// kernels, `(kernel - 1) / 2` (what torchvision's Conv2dNormActivation uses).
    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil, groups: Int = 1,
        weightKey: String, biasKey: String? = nil, batchNorm: BatchNormSpec? = nil, activation: Activation = .none
    ) {
        let pad = padding ?? (kernel - 1) / 2
        self.init(
            inChannels: inChannels, outChannels: outChannels, kernelH: kernel, kernelW: kernel,
            strideH: stride, strideW: stride, padTop: pad, padLeft: pad, padBottom: pad, padRight: pad,
            groups: groups, weightKey: weightKey, biasKey: biasKey, batchNorm: batchNorm, activation: activation)
    }

    /// One filter per channel: groups == inChannels == outChannels.
    public var isDepthwise: Bool { groups == inChannels && groups == outChannels }

    /// 1x1, stride 1, no padding (a GEMM over pixels; `groups` may still be > 1, as in ShuffleNet).
    public var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }

    /// The PyTorch weight shape `[out, in / groups, kh, kw]`.
    public var weightShape: [Int] { [outChannels, inChannels / groups, kernelH, kernelW] }

    /// Multiply-accumulates for one image: out * oh * ow * (in / groups) * kh * kw.
    public func macs(outputH: Int, outputW: Int) -> Int {
        outChannels * outputH * outputW * (inChannels / groups) * kernelH * kernelW
    }

    /// Learnable parameters: weight, bias and BN gamma/beta (running statistics excluded).
    public var parameterCount: Int {
        weightShape.reduce(1, *) + (biasKey == nil ? 0 : outChannels) + (batchNorm == nil ? 0 : 2 * outChannels)
    }
}

/// A fully connected layer y = act(x W^T + b) on an input `[n, 1, 1, inFeatures]`;
/// the weight is `[outFeatures, inFeatures]` (PyTorch layout).
public struct LinearSpec: Hashable, Sendable {
    public var inFeatures: Int
    public var outFeatures: Int
    /// e.g. "classifier.1.weight".
    public var weightKey: String
    /// e.g. "classifier.1.bias"; every Linear in the seven networks has one.
    public var biasKey: String?
    public var activation: Activation
    /// The probability of the Dropout module in front of this Linear (torchvision's
    /// classifiers), 0 for none: identity in inference, applied by a training step that asks
    /// for dropout.
    public var dropout: Float

    public init(inFeatures: Int, outFeatures: Int, weightKey: String, biasKey: String?, activation: Activation = .none,
                dropout: Float = 0) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weightKey = weightKey
        self.biasKey = biasKey
        self.activation = activation
        self.dropout = dropout
    }

    /// in * out.
    public var macs: Int { inFeatures * outFeatures }

    public var parameterCount: Int { inFeatures * outFeatures + (biasKey == nil ? 0 : outFeatures) }
}

/// torchvision's SqueezeExcitation as MobileNetV3 uses it:
/// s = hardsigmoid(fc2(relu(fc1(avgpool(x))))), y = x * s (per channel).
/// fc1 and fc2 are 1x1 convolutions with bias: `prefix.fc1.weight [squeezeChannels, channels, 1, 1]`,
/// `prefix.fc1.bias [squeezeChannels]`, `prefix.fc2.weight [channels, squeezeChannels, 1, 1]`,
/// `prefix.fc2.bias [channels]`.
public struct SqueezeExcitationSpec: Hashable, Sendable {
    public var channels: Int
    /// `_make_divisible(channels // 4, 8)` in MobileNetV3.
    public var squeezeChannels: Int
    /// The module path, e.g. "features.4.block.2".
    public var prefix: String

    public init(channels: Int, squeezeChannels: Int, prefix: String) {
        self.channels = channels
        self.squeezeChannels = squeezeChannels
        self.prefix = prefix
    }

    public var fc1WeightKey: String { prefix + ".fc1.weight" }
    public var fc1BiasKey: String { prefix + ".fc1.bias" }
    public var fc2WeightKey: String { prefix + ".fc2.weight" }
    public var fc2BiasKey: String { prefix + ".fc2.bias" }

    /// Its four tensors in PyTorch's names and shapes: fc1 weight and bias, fc2 weight and bias.
    public var parameters: [(name: String, shape: [Int])] {
        [(fc1WeightKey, [squeezeChannels, channels, 1, 1]), (fc1BiasKey, [squeezeChannels]),
         (fc2WeightKey, [channels, squeezeChannels, 1, 1]), (fc2BiasKey, [channels])]
    }

    /// The two 1x1 convolutions on the pooled vector: 2 * channels * squeezeChannels.
    public var macs: Int { 2 * channels * squeezeChannels }

    public var parameterCount: Int { 2 * channels * squeezeChannels + squeezeChannels + channels }
}

/// What a node computes. Shapes are NHWC and batch-free in `FeatureSize`.
///
/// Files that also import Foundation must write `MobileKernels.Operation` (Foundation has an
/// `Operation` class); `node.operation` and its cases need no qualification.
public enum Operation: Hashable, Sendable {
    /// The network input, `[n, h, w, channels]` (NCHW images are transposed before).
    case input(channels: Int)
    /// Convolution + optional bias + optional folded BatchNorm + activation.
    case conv(ConvSpec)
    /// Max pooling, square window, symmetric padding (padded cells never win), floor mode:
    /// out = (in + 2 * padding - kernel) / stride + 1.
    case maxPool(kernel: Int, stride: Int, padding: Int)
    /// Average pooling, square window, symmetric padding, floor mode. With `countIncludePad`
    /// (PyTorch's default) every window divides by kernel * kernel, padded zeros included.
    case avgPool(kernel: Int, stride: Int, padding: Int, countIncludePad: Bool)
    /// PyTorch's AdaptiveAvgPool2d((outputH, outputW)) (VGG16's 7x7, AlexNet's 6x6): output cell
    /// (i, j) averages input rows floor(i * H / outputH) ..< ceil((i + 1) * H / outputH) and the
    /// same for columns. The identity when the input already is outputH x outputW (224 input);
    /// it replicates smaller inputs and averages larger ones.
    case adaptiveAvgPool(outputH: Int, outputW: Int)
    /// Mean over all pixels: `[n, h, w, c] -> [n, 1, 1, c]`.
    case globalAveragePool
    /// `[n, h, w, c] -> [n, 1, 1, h * w * c]`, a no-op on NHWC memory: feature (y, x, ch) lands at
    /// column (y * w + x) * c + ch. PyTorch flattens NCHW, so the NEXT linear's weight columns are in
    /// (c, h, w) order: PyTorch column ch * h * w + y * w + x. Whoever loads that weight must permute
    /// its columns (or the runtime must transpose the activation) — VGG16 (512 x 7 x 7) and
    /// AlexNet (256 x 6 x 6). Models ending in a global average pool have no flatten node.
    case flatten
    /// Fully connected on `[n, 1, 1, inFeatures]`.
    case linear(LinearSpec)
    /// Squeeze-and-excitation: the output is the input scaled per channel.
    case squeezeExcitation(SqueezeExcitationSpec)
    /// ShuffleNet's channel shuffle: `view(n, groups, c / groups, h, w).transpose(1, 2)` in NCHW,
    /// i.e. output channel j * groups + i is input channel i * (c / groups) + j.
    case channelShuffle(groups: Int)
    /// Element-wise sum of the two inputs (same shape), then the activation.
    case add(activation: Activation)
    /// Channel concatenation of the inputs in order (same h and w), then the activation.
    case concat(activation: Activation)
}

/// One step of a network. `id` is the node's index in `Architecture.nodes`; `inputs` are ids of
/// earlier nodes (one input, except `.add` and `.concat` with two and `.input` with none).
///
/// `name` is the PyTorch module path of what the node computes: for a convolution fused with its
/// BatchNorm and activation, torchvision's Conv2dNormActivation container when there is one
/// ("features.3.conv.1", whose conv is `.0` and BN `.1`), else the conv module itself
/// ("features.1.0" in MobileNetV1, "features.3.conv.2" for a MobileNetV2 projection,
/// "stage2.0.conv1"); the exact keys are in the specs. Steps done in `forward` rather than by a
/// module are named inside their parent: "<block>.add", "stage2.0.shuffle", "stage2.0.avgpool",
/// "stage2.0.cat", and "avgpool", "mean" (ShuffleNetV1's `x.mean((2, 3))`), "flatten".
/// Dropout (identity in eval mode) and ReLUs fused into the preceding node have no node.
public struct Node: Hashable, Sendable {
    public let id: Int
    public let name: String
    public let operation: Operation
    public let inputs: [Int]

    public init(id: Int, name: String, operation: Operation, inputs: [Int]) {
        self.id = id
        self.name = name
        self.operation = operation
        self.inputs = inputs
    }
}

/// A batch-free NHWC activation size.
public struct FeatureSize: Hashable, Sendable, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public var c: Int

    public init(h: Int, w: Int, c: Int) {
        self.h = h
        self.w = w
        self.c = c
    }

    public var description: String { "\(h)x\(w)x\(c)" }
}

/// A node with the sizes it sees for one input size: what a benchmark needs to time it alone.
public struct LayerShape: Hashable, Sendable {
    public let node: Node
    /// The sizes of `node.inputs`, in order (empty for the input node).
    public let inputs: [FeatureSize]
    public let output: FeatureSize
    /// Multiply-accumulates per image as `Architecture.macs` counts them (0 for nodes without any).
    public let macs: Int
}

// MARK: - Architecture

/// A network as a list of nodes in topological order: `nodes[0]` is `.input(channels: 3)` and the
/// last node produces the logits `[n, 1, 1, numClasses]`.
///
/// Build one with `Architecture.make(_:widthMultiplier:numClasses:)`.
public struct Architecture: Sendable {
    public let kind: ModelKind
    /// The width multiplier it was built with (1 for all but the MobileNets).
    public let widthMultiplier: Float
    public let nodes: [Node]
    public let numClasses: Int
    /// The first convolution's stride: 2 as published, 1 for the small-image variant
    /// (`make(_:stemStride:)`).
    public let stemStride: Int
    /// ShuffleNetV1: whether the max pool after the first convolution is kept (as published);
    /// false for the CIFAR form (`make(_:stemPool:)`). True for the models that have none.
    public let stemPool: Bool

    init(kind: ModelKind, widthMultiplier: Float, numClasses: Int, nodes: [Node], stemStride: Int = 2, stemPool: Bool = true) {
        precondition(!nodes.isEmpty && nodes[0].operation == .input(channels: 3), "the first node must be the input")
        for (index, node) in nodes.enumerated() {
            precondition(node.id == index, "node \(node.name) has id \(node.id) at index \(index)")
            precondition(node.inputs.allSatisfy { $0 >= 0 && $0 < index }, "node \(node.name) reads a later node")
        }
        self.kind = kind
        self.widthMultiplier = widthMultiplier
        self.numClasses = numClasses
        self.nodes = nodes
        self.stemStride = stemStride
        self.stemPool = stemPool
    }

    /// The largest class count `make` accepts (a sanity bound that keeps every count within Int).
    public static let maxClasses = 1 << 24

    /// Builds the description of `kind`.
    ///
    /// - `widthMultiplier` (MobileNets only; the others throw for anything but 1), in (0, 4]. It is
    ///   read as the decimal it prints as (Float 0.35 is used as the Python float 0.35), then:
    ///   - MobileNetV1: every channel count c becomes `int(c * alpha)` (truncation, as Keras and most
    ///     PyTorch ports do), the classifier's input included; throws when some count reaches 0.
    ///   - MobileNetV2: torchvision's rules: `_make_divisible(c * width, 8)` for the stem and every
    ///     block, last channel `_make_divisible(1280 * max(1, width), 8)`.
    ///   - MobileNetV3: torchvision's `_mobilenet_v3_conf`: `_make_divisible(c * width, 8)` for every
    ///     input/expanded/output count of the table and the classifier's hidden width (1280 / 1024);
    ///     the last conv is 6x the last block's output; squeeze `_make_divisible(expanded // 4, 8)`.
    /// - `numClasses` in 1 ... `maxClasses`.
    /// - ShuffleNetV1 `groups` in `ModelKind.shuffleNetV1Groups`.
    ///
    /// Throws `MobileKernelsError(.invalidArgument, ...)` for anything else.
    ///
    /// `stemStride: 1` is the small-image variant of the MobileNets and ShuffleNetV1 (as the
    /// common CIFAR implementations do): the first convolution keeps the image's size, so a 32x32
    /// image leaves the last stage 2x2 instead of 1x1, for 4 times the work. The state_dict's
    /// names and shapes do not change (PyTorch: set the first Conv2d's `stride` to `(1, 1)`, as
    /// `Benchmarks/training/torch_train.py --stem-stride 1` does). VGG16 and AlexNet have no
    /// such variant.
    ///
    /// `stemPool: false` (ShuffleNetV1 only) drops the 3x3 stride-2 max pool after the first
    /// convolution; with `stemStride: 1` that is the CIFAR form of the common implementations
    /// (e.g. kuangliu/pytorch-cifar's ShuffleNet): a 32x32 image reaches stage 2 at 32x32 and
    /// leaves the last stage 4x4, for 16 times the published form's work. The state_dict does
    /// not change either (PyTorch: `model.maxpool = nn.Identity()`).
    public static func make(_ kind: ModelKind, widthMultiplier: Float = 1.0, numClasses: Int = 1000,
                            stemStride: Int = 2, stemPool: Bool = true) throws -> Architecture {
        guard numClasses >= 1 && numClasses <= maxClasses else {
            throw MobileKernelsError(.invalidArgument, "\(kind): numClasses must be in 1...\(maxClasses), got \(numClasses)")
        }
        guard widthMultiplier.isFinite && widthMultiplier > 0 && widthMultiplier <= 4 else {
            throw MobileKernelsError(.invalidArgument, "\(kind): widthMultiplier must be in (0, 4], got \(widthMultiplier)")
        }
        guard stemStride == 2 || (stemStride == 1 && kind.hasSmallImageVariant) else {
            throw MobileKernelsError(.invalidArgument, "\(kind): the stem stride is 2, or 1 for the small-image variant of the MobileNets and ShuffleNetV1; got \(stemStride)")
        }
        guard stemPool || kind.hasStemPool else {
            throw MobileKernelsError(.invalidArgument, "\(kind) has no max pool after its first convolution to drop (stemPool: false is ShuffleNetV1's CIFAR form)")
        }
        guard kind.hasWidthMultiplier || widthMultiplier == 1 else {
            throw MobileKernelsError(.invalidArgument, "\(kind) has no width multiplier (only the MobileNets do); got \(widthMultiplier)")
        }
        // Python's float for the decimal the user wrote: Float(0.35) prints as "0.35".
        let width = Double(widthMultiplier.description) ?? Double(widthMultiplier)
        let nodes: [Node]
        switch kind {
        case .mobileNetV1: nodes = try buildMobileNetV1(width: width, numClasses: numClasses)
        case .mobileNetV2: nodes = buildMobileNetV2(width: width, numClasses: numClasses)
        case .mobileNetV3Large: nodes = buildMobileNetV3(large: true, width: width, numClasses: numClasses)
        case .mobileNetV3Small: nodes = buildMobileNetV3(large: false, width: width, numClasses: numClasses)
        case let .shuffleNetV1(groups):
            guard ModelKind.shuffleNetV1Groups.contains(groups) else {
                throw MobileKernelsError(.invalidArgument, "ShuffleNetV1 groups must be one of \(ModelKind.shuffleNetV1Groups), got \(groups)")
            }
            nodes = buildShuffleNetV1(groups: groups, numClasses: numClasses, stemPool: stemPool)
        case .vgg16: nodes = buildVGG16(numClasses: numClasses)
        case .alexnet: nodes = buildAlexNet(numClasses: numClasses)
        }
        guard stemStride == 1 else {
            return Architecture(kind: kind, widthMultiplier: widthMultiplier, numClasses: numClasses, nodes: nodes, stemPool: stemPool)
        }
        // The small-image variant: the convolution that reads the image gets stride 1.
        let stem = nodes.map { node -> Node in
            guard case var .conv(c) = node.operation, node.inputs == [0], c.strideH == 2, c.strideW == 2 else { return node }
            c.strideH = 1
            c.strideW = 1
            return Node(id: node.id, name: node.name, operation: .conv(c), inputs: node.inputs)
        }
        return Architecture(kind: kind, widthMultiplier: widthMultiplier, numClasses: numClasses, nodes: stem, stemStride: 1, stemPool: stemPool)
    }

    /// The metadata that records this variant (`Trainer.save` writes it, `recordedVariant` reads
    /// it back): `stem_stride`, and `stem_pool` for the models that have a stem pool.
    public var variantMetadata: [String: String] {
        var metadata = ["stem_stride": String(stemStride)]
        if kind.hasStemPool { metadata["stem_pool"] = String(stemPool) }
        return metadata
    }

    /// The variant a checkpoint's metadata records (`Trainer.save` writes `stem_stride`, and
    /// `stem_pool` "true" or "false" for ShuffleNetV1): nil for what it does not record (the
    /// published form, for files from elsewhere or written before `stem_pool` existed).
    /// - Throws: `.invalidFile` for a value that is there but not one of those: a checkpoint
    ///   of an unknown variant would load (the variants share their weights) and run wrong.
    public static func recordedVariant(_ metadata: [String: String]) throws -> (stemStride: Int?, stemPool: Bool?) {
        let stride = try metadata["stem_stride"].map { value -> Int in
            guard let s = Int(value), s == 1 || s == 2 else {
                throw MobileKernelsError(.invalidFile, "the checkpoint's stem_stride is '\(value)', not 1 or 2")
            }
            return s
        }
        let pool = try metadata["stem_pool"].map { value -> Bool in
            guard let p = Bool(value) else {
                throw MobileKernelsError(.invalidFile, "the checkpoint's stem_pool is '\(value)', not true or false")
            }
            return p
        }
        return (stride, pool)
    }

    /// The first node named `name`, if any.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Every state_dict tensor, in `model.state_dict()` order, without BatchNorm's
    /// `num_batches_tracked`: exactly `specs/<specName>.json` for the seven specified models.
    /// Per conv: weight, bias (if any), then its BN's weight, bias, running_mean, running_var;
    /// per SE: fc1.weight, fc1.bias, fc2.weight, fc2.bias; per linear: weight, bias.
    public func parameters() -> [(name: String, shape: [Int])] {
        var result: [(name: String, shape: [Int])] = []
        for node in nodes {
            switch node.operation {
            case let .conv(conv):
                result.append((conv.weightKey, conv.weightShape))
                if let bias = conv.biasKey { result.append((bias, [conv.outChannels])) }
                if let bn = conv.batchNorm {
                    for key in [bn.weightKey, bn.biasKey, bn.runningMeanKey, bn.runningVarKey] {
                        result.append((key, [bn.channels]))
                    }
                }
            case let .squeezeExcitation(se):
                result += se.parameters
            case let .linear(linear):
                result.append((linear.weightKey, [linear.outFeatures, linear.inFeatures]))
                if let bias = linear.biasKey { result.append((bias, [linear.outFeatures])) }
            case .input, .maxPool, .avgPool, .adaptiveAvgPool, .globalAveragePool, .flatten,
                 .channelShuffle, .add, .concat:
                break
            }
        }
        return result
    }

    /// Learnable parameters (conv/linear/SE weights and biases, BN gamma and beta; BN running
    /// statistics excluded), as the spec README's table counts them.
    public var parameterCount: Int {
        nodes.reduce(0) { total, node in
            switch node.operation {
            case let .conv(conv): total + conv.parameterCount
            case let .squeezeExcitation(se): total + se.parameterCount
            case let .linear(linear): total + linear.parameterCount
            default: total
            }
        }
    }

    /// The output size of every node (index = node id) for a `height` x `width` input.
    /// Throws `.invalidArgument` naming the first layer whose input is too small (PyTorch would
    /// raise "output size is too small" there), or when height or width is below 1.
    public func featureSizes(height: Int, width: Int) throws -> [FeatureSize] {
        try layerShapes(height: height, width: width).map(\.output)
    }

    /// Multiply-accumulates per image at `height` x `width`: convolutions (out * oh * ow *
    /// in/groups * kh * kw), linears (in * out) and the SE blocks' two 1x1 convs (2 * c * squeeze),
    /// the same rule as the spec README's table (568.7 M for MobileNetV1 at 224, ...). Not counted:
    /// BatchNorm (folded), biases, activations, pooling, the SE multiply, adds, shuffles, concats.
    public func macs(height: Int, width: Int) throws -> Int {
        var total = 0
        for layer in try layerShapes(height: height, width: width) {
            total = try checkedAdd(total, layer.macs, "\(kind) MACs at \(height)x\(width)")
        }
        return total
    }

    /// Every node with its input and output sizes and MACs for a `height` x `width` input
    /// (the per-layer shape table of the benchmarks). Throws like `featureSizes`.
    public func layerShapes(height: Int, width: Int) throws -> [LayerShape] {
        guard height >= 1 && width >= 1 else {
            throw MobileKernelsError(.invalidArgument, "\(kind): input size \(height)x\(width) must be at least 1x1")
        }
        var sizes: [FeatureSize] = []
        var shapes: [LayerShape] = []
        sizes.reserveCapacity(nodes.count)
        shapes.reserveCapacity(nodes.count)
        for node in nodes {
            let inputs = node.inputs.map { sizes[$0] }
            let (output, macs) = try outputSize(of: node, inputs: inputs, height: height, width: width)
            sizes.append(output)
            shapes.append(LayerShape(node: node, inputs: inputs, output: output, macs: macs))
        }
        return shapes
    }

    // MARK: Shape arithmetic

    private func outputSize(of node: Node, inputs: [FeatureSize], height: Int, width: Int) throws -> (FeatureSize, Int) {
        let context = "\(kind) at \(height)x\(width) input"
        func tooSmall(_ what: String, _ input: FeatureSize) -> MobileKernelsError {
            MobileKernelsError(.invalidArgument, "\(context): \(node.name) (\(what)) gets a \(input.h)x\(input.w) input, too small for it")
        }
        func mismatch(_ message: String) -> MobileKernelsError {
            MobileKernelsError(.shapeMismatch, "\(context): \(node.name): \(message)")
        }
        /// floor((size + padding - effective kernel) / stride) + 1, or nil when the window does not fit.
        func windows(_ size: Int, padding: Int, kernel: Int, stride: Int) -> Int? {
            let span = size + padding
            guard span >= kernel else { return nil }
            return (span - kernel) / stride + 1
        }
        switch node.operation {
        case let .input(channels):
            return (FeatureSize(h: height, w: width, c: channels), 0)
        case let .conv(conv):
            let x = inputs[0]
            guard x.c == conv.inChannels else { throw mismatch("input has \(x.c) channels, the conv takes \(conv.inChannels)") }
            let what = "conv \(conv.kernelH)x\(conv.kernelW) stride \(conv.strideH)"
            guard let oh = windows(x.h, padding: conv.padTop + conv.padBottom, kernel: conv.dilationH * (conv.kernelH - 1) + 1, stride: conv.strideH),
                  let ow = windows(x.w, padding: conv.padLeft + conv.padRight, kernel: conv.dilationW * (conv.kernelW - 1) + 1, stride: conv.strideW)
            else { throw tooSmall(what, x) }
            let macs = try [conv.outChannels, oh, ow, conv.inChannels / conv.groups, conv.kernelH, conv.kernelW]
                .reduce(1) { try checkedMultiply($0, $1, context) }
            return (FeatureSize(h: oh, w: ow, c: conv.outChannels), macs)
        case let .maxPool(kernel, stride, padding):
            let x = inputs[0]
            guard let oh = windows(x.h, padding: 2 * padding, kernel: kernel, stride: stride),
                  let ow = windows(x.w, padding: 2 * padding, kernel: kernel, stride: stride)
            else { throw tooSmall("max pool \(kernel)x\(kernel) stride \(stride)", x) }
            return (FeatureSize(h: oh, w: ow, c: x.c), 0)
        case let .avgPool(kernel, stride, padding, _):
            let x = inputs[0]
            guard let oh = windows(x.h, padding: 2 * padding, kernel: kernel, stride: stride),
                  let ow = windows(x.w, padding: 2 * padding, kernel: kernel, stride: stride)
            else { throw tooSmall("average pool \(kernel)x\(kernel) stride \(stride)", x) }
            return (FeatureSize(h: oh, w: ow, c: x.c), 0)
        case let .adaptiveAvgPool(outputH, outputW):
            return (FeatureSize(h: outputH, w: outputW, c: inputs[0].c), 0)
        case .globalAveragePool:
            return (FeatureSize(h: 1, w: 1, c: inputs[0].c), 0)
        case .flatten:
            let x = inputs[0]
            let features = try checkedMultiply(try checkedMultiply(x.h, x.w, context), x.c, context)
            return (FeatureSize(h: 1, w: 1, c: features), 0)
        case let .linear(linear):
            let x = inputs[0]
            guard x.h == 1 && x.w == 1 && x.c == linear.inFeatures else {
                throw mismatch("input \(x) is not 1x1x\(linear.inFeatures)")
            }
            return (FeatureSize(h: 1, w: 1, c: linear.outFeatures), linear.macs)
        case let .squeezeExcitation(se):
            guard inputs[0].c == se.channels else { throw mismatch("input has \(inputs[0].c) channels, the SE block takes \(se.channels)") }
            return (inputs[0], se.macs)
        case let .channelShuffle(groups):
            guard inputs[0].c % groups == 0 else { throw mismatch("\(inputs[0].c) channels do not split into \(groups) groups") }
            return (inputs[0], 0)
        case .add:
            guard inputs.count == 2 && inputs[0] == inputs[1] else { throw mismatch("adds \(inputs)") }
            return (inputs[0], 0)
        case .concat:
            guard let first = inputs.first, inputs.allSatisfy({ $0.h == first.h && $0.w == first.w }) else {
                throw mismatch("concatenates \(inputs)")
            }
            return (FeatureSize(h: first.h, w: first.w, c: inputs.reduce(0) { $0 + $1.c }), 0)
        }
    }
}

private func checkedMultiply(_ a: Int, _ b: Int, _ context: @autoclosure () -> String) throws -> Int {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw MobileKernelsError(.sizeOverflow, "\(context()): \(a) x \(b) overflows Int") }
    return product
}

private func checkedAdd(_ a: Int, _ b: Int, _ context: @autoclosure () -> String) throws -> Int {
    let (sum, overflow) = a.addingReportingOverflow(b)
    guard !overflow else { throw MobileKernelsError(.sizeOverflow, "\(context()): \(a) + \(b) overflows Int") }
    return sum
}

// MARK: - Building

/// Appends nodes, each reading the previous node unless told otherwise. Used by the builders in
/// `Architectures/`.
struct ArchitectureBuilder {
    private(set) var nodes: [Node] = [Node(id: 0, name: "input", operation: .input(channels: 3), inputs: [])]
    /// The momentum of the BatchNorms appended from here on (`BatchNormSpec.momentum`).
    var batchNormMomentum: Float = 0.1

    /// The id of the last node appended.
    var last: Int { nodes.count - 1 }

    /// Appends `operation` reading `inputs` (default: the last node) and returns its id.
    @discardableResult
    mutating func append(_ name: String, _ operation: Operation, inputs: [Int]? = nil) -> Int {
        let id = nodes.count
        nodes.append(Node(id: id, name: name, operation: operation, inputs: inputs ?? [id - 1]))
        return id
    }

    /// Appends a square convolution (padding `(kernel - 1) / 2` unless given) with an optional
    /// BatchNorm at `batchNorm` (the BN module path).
    @discardableResult
    mutating func conv(
        _ name: String, in inChannels: Int, out outChannels: Int, kernel: Int, stride: Int = 1,
        padding: Int? = nil, groups: Int = 1, weightKey: String, biasKey: String? = nil,
        batchNorm: String? = nil, eps: Float = 1e-5, activation: Activation
    ) -> Int {
        let bn = batchNorm.map { BatchNormSpec(channels: outChannels, prefix: $0, eps: eps, momentum: batchNormMomentum) }
        return append(name, .conv(ConvSpec(
            inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
            groups: groups, weightKey: weightKey, biasKey: biasKey, batchNorm: bn, activation: activation)))
    }

    /// Appends a linear layer named `name` with keys `name.weight` and `name.bias`.
    @discardableResult
    mutating func linear(_ name: String, in inFeatures: Int, out outFeatures: Int, activation: Activation = .none,
                         dropout: Float = 0) -> Int {
        append(name, .linear(LinearSpec(
            inFeatures: inFeatures, outFeatures: outFeatures, weightKey: name + ".weight", biasKey: name + ".bias",
            activation: activation, dropout: dropout)))
    }
}

/// torchvision's `_make_divisible`: the multiple of `divisor` nearest `value` (halves up), at least
/// `minValue` (default `divisor`), and not below 90% of `value`.
func makeDivisible(_ value: Double, _ divisor: Int, minValue: Int? = nil) -> Int {
    let minimum = minValue ?? divisor
    var result = max(minimum, Int(value + Double(divisor) / 2) / divisor * divisor)
    if Double(result) < 0.9 * value { result += divisor }
    return result
}
