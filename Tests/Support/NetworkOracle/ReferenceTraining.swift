import MobileKernels
import ReferenceKernels

/// One training step's gradients computed with the naive training references (`RefTrain`), as
/// PyTorch's autograd computes them for the same network in `train()` mode with every Dropout in
/// eval mode: BatchNorm normalizes with the batch's statistics (not folded), the loss is the mean
/// softmax cross-entropy over the batch.
public struct ReferenceTrainingStep<T: BinaryFloatingPoint & Sendable>: Sendable {
    /// The mean cross-entropy of the batch.
    public var loss: T
    /// The logits `[n, 1, 1, classes]`.
    public var logits: RefTensorOf<T>
    /// d loss / d parameter for every learnable parameter (conv, linear and SE weights and biases,
    /// BatchNorm weight and bias) under its state_dict name, in PyTorch's layout.
    public var gradients: [String: [T]]
    /// Each BatchNorm's batch mean and biased variance by module prefix (what the running
    /// statistics are updated from), with the number of values per channel.
    public var batchStatistics: [String: (mean: [T], variance: [T], count: Int)]
}

/// What a node's forward keeps for its backward.
private enum Saved<T: BinaryFloatingPoint & Sendable> {
    case nothing
    /// A convolution: its BatchNorm's state (if it has one) and the activation's input.
    case conv(batchNorm: RefTrain.BatchNormSaved<T>?, preActivation: RefTensorOf<T>)
    /// Max pooling: the flat input index of every output's maximum.
    case maxPool(argmax: [Int])
    case squeezeExcitation(RefTrain.SqueezeExcitationSaved<T>)
    /// Linear, add and concat: the activation's input.
    case preActivation(RefTensorOf<T>)
}

/// Runs `architecture` forward in training mode on `input` (NHWC) and back from the mean
/// cross-entropy against `labels`; `parameters` holds every state_dict tensor (running statistics
/// are not used: training mode normalizes with the batch's statistics).
/// - Precondition: every parameter present with its spec's size; one label per image, each in
///   `0 ..< numClasses`; at least 2 values per channel at every BatchNorm (as PyTorch requires).
@_specialize(exported: true, where T == Float)
public func referenceTrainingStep<T>(_ architecture: Architecture, parameters: [String: [T]], input: RefTensorOf<T>,
                                     labels: [Int], dropoutKeeps: ((_ node: Int, _ index: Int) -> Bool)? = nil) -> ReferenceTrainingStep<T> {
    func param(_ key: String) -> [T] {
        guard let p = parameters[key] else { preconditionFailure("referenceTrainingStep: parameter \(key) missing") }
        return p
    }
    func seWeights(_ se: SqueezeExcitationSpec) -> RefTrain.SqueezeExcitationWeights<T> {
        .init(fc1Weight: param(se.fc1WeightKey), fc1Bias: param(se.fc1BiasKey), fc2Weight: param(se.fc2WeightKey),
              fc2Bias: param(se.fc2BiasKey))
    }
    let nodes = architecture.nodes
    // A Linear's input after its Dropout (with `dropoutKeeps`: the mask of each node's input).
    var dropped: [Int: RefTensorOf<T>] = [:]
    func dropout(_ t: RefTensorOf<T>, _ l: LinearSpec, _ id: Int) -> RefTensorOf<T>? {
        guard l.dropout > 0, let keeps = dropoutKeeps else { return nil }
        return RefTrain.dropout(t, p: Double(l.dropout), keep: { keeps(id, $0) })
    }
    var outputs: [RefTensorOf<T>] = []
    var saved: [Saved<T>] = []
    var statistics: [String: (mean: [T], variance: [T], count: Int)] = [:]
    for node in nodes {
        let x = node.inputs.first.map { outputs[$0] } ?? input
        var s = Saved<T>.nothing
        let y: RefTensorOf<T>
        switch node.operation {
        case .input:
            y = input
        case let .conv(c):
            var v = RefTrain.conv2d(x, weight: param(c.weightKey), bias: c.biasKey.map(param), referenceGeometry(c))
            var bnSaved: RefTrain.BatchNormSaved<T>?
            if let bn = c.batchNorm {
                let r = RefTrain.batchNormTraining(v, gamma: param(bn.weightKey), beta: param(bn.biasKey), eps: T(bn.eps))
                v = r.y
                bnSaved = r.saved
                statistics[bn.prefix] = (r.saved.mean, r.saved.variance, v.pixels)
            }
            s = .conv(batchNorm: bnSaved, preActivation: v)
            y = RefTrain.activation(v, referenceActivation(c.activation))
        case let .maxPool(k, stride, p):
            let r = RefTrain.maxPool2d(x, RefPoolGeometry(kernel: k, stride: stride, padding: p))
            s = .maxPool(argmax: r.argmax)
            y = r.y
        case let .avgPool(k, stride, p, include):
            y = RefTrain.avgPool2d(x, RefPoolGeometry(kernel: k, stride: stride, padding: p), countIncludePad: include)
        case let .adaptiveAvgPool(oh, ow):
            y = RefTrain.adaptiveAvgPool(x, outputH: oh, outputW: ow)
        case .globalAveragePool:
            y = RefTrain.adaptiveAvgPool(x, outputH: 1, outputW: 1)
        case .flatten:
            y = RefTrain.flatten(x)
        case let .linear(l):
            dropped[node.id] = dropout(x, l, node.id)
            let v = RefTrain.linear(dropped[node.id] ?? x, weight: param(l.weightKey), bias: l.biasKey.map(param), outFeatures: l.outFeatures)
            s = .preActivation(v)
            y = RefTrain.activation(v, referenceActivation(l.activation))
        case let .squeezeExcitation(se):
            let r = RefTrain.squeezeExcitation(x, seWeights(se))
            s = .squeezeExcitation(r.saved)
            y = r.y
        case let .channelShuffle(groups):
            y = RefTrain.channelShuffle(x, groups: groups)
        case let .add(activation):
            var v = x
            let other = outputs[node.inputs[1]]
            precondition(v.hasSameShape(as: other), "referenceTrainingStep: \(node.name) adds \(v.shapeDescription) and \(other.shapeDescription)")
            for i in 0..<v.data.count { v.data[i] += other.data[i] }
            s = .preActivation(v)
            y = RefTrain.activation(v, referenceActivation(activation))
        case let .concat(activation):
            let v = RefTrain.concatChannels(node.inputs.map { outputs[$0] })
            s = .preActivation(v)
            y = RefTrain.activation(v, referenceActivation(activation))
        }
        outputs.append(y)
        saved.append(s)
    }

    let logits = outputs[nodes.count - 1]
    let (loss, dLogits) = RefTrain.softmaxCrossEntropy(logits, labels: labels)
    var gradients: [String: [T]] = [:]
    // The gradient reaching each node's output, summed over its consumers.
    var dOutputs: [RefTensorOf<T>?] = Array(repeating: nil, count: nodes.count)
    dOutputs[nodes.count - 1] = dLogits
    func accumulate(_ id: Int, _ d: RefTensorOf<T>) {
        guard var sum = dOutputs[id] else { dOutputs[id] = d; return }
        for i in 0..<sum.data.count { sum.data[i] += d.data[i] }
        dOutputs[id] = sum
    }
    for node in nodes.reversed() {
        guard let dy = dOutputs[node.id], let first = node.inputs.first else { continue }
        let x = outputs[first]
        switch (node.operation, saved[node.id]) {
        case let (.conv(c), .conv(bnSaved, preActivation)):
            var dv = RefTrain.activationBackward(preActivation, referenceActivation(c.activation), dy: dy)
            if let bn = c.batchNorm, let bnSaved {
                let r = RefTrain.batchNormTrainingBackward(bnSaved, gamma: param(bn.weightKey), dy: dv)
                gradients[bn.weightKey] = r.dGamma
                gradients[bn.biasKey] = r.dBeta
                dv = r.dx
            }
            let r = RefTrain.conv2dBackward(x, weight: param(c.weightKey), referenceGeometry(c), dy: dv)
            gradients[c.weightKey] = r.dWeight
            if let b = c.biasKey { gradients[b] = r.dBias }
            accumulate(first, r.dx)
        case let (.maxPool, .maxPool(argmax)):
            accumulate(first, RefTrain.maxPool2dBackward(inputShapeOf: x, argmax: argmax, dy: dy))
        case let (.avgPool(k, stride, p, include), _):
            accumulate(first, RefTrain.avgPool2dBackward(inputShapeOf: x, RefPoolGeometry(kernel: k, stride: stride, padding: p),
                                                          countIncludePad: include, dy: dy))
        case (.adaptiveAvgPool, _), (.globalAveragePool, _):
            accumulate(first, RefTrain.adaptiveAvgPoolBackward(inputShapeOf: x, dy: dy))
        case (.flatten, _):
            accumulate(first, RefTrain.flatten(dy, inverse: true, h: x.h, w: x.w, c: x.c))
        case let (.linear(l), .preActivation(v)):
            let dv = RefTrain.activationBackward(v, referenceActivation(l.activation), dy: dy)
            let r = RefTrain.linearBackward(dropped[node.id] ?? x, weight: param(l.weightKey), dy: dv)
            gradients[l.weightKey] = r.dWeight
            if let b = l.biasKey { gradients[b] = r.dBias }
            accumulate(first, dropout(r.dx, l, node.id) ?? r.dx)
        case let (.squeezeExcitation(se), .squeezeExcitation(seSaved)):
            let r = RefTrain.squeezeExcitationBackward(x, seWeights(se), saved: seSaved, dy: dy)
            gradients[se.fc1WeightKey] = r.grads.fc1Weight
            gradients[se.fc1BiasKey] = r.grads.fc1Bias
            gradients[se.fc2WeightKey] = r.grads.fc2Weight
            gradients[se.fc2BiasKey] = r.grads.fc2Bias
            accumulate(first, r.dx)
        case let (.channelShuffle(groups), _):
            accumulate(first, RefTrain.channelShuffle(dy, groups: groups, inverse: true))
        case let (.add(activation), .preActivation(v)):
            let dv = RefTrain.activationBackward(v, referenceActivation(activation), dy: dy)
            accumulate(first, dv)
            accumulate(node.inputs[1], dv)
        case let (.concat(activation), .preActivation(v)):
            let dv = RefTrain.activationBackward(v, referenceActivation(activation), dy: dy)
            let parts = RefTrain.splitChannels(dv, channels: node.inputs.map { outputs[$0].c })
            for (id, part) in zip(node.inputs, parts) { accumulate(id, part) }
        default:
            preconditionFailure("referenceTrainingStep: \(node.name): no backward for \(node.operation)")
        }
    }
    return ReferenceTrainingStep(loss: loss, logits: logits, gradients: gradients, batchStatistics: statistics)
}

/// A convolution spec's geometry for the training references.
public func referenceGeometry(_ c: ConvSpec) -> RefConvGeometry {
    RefConvGeometry(outChannels: c.outChannels, kernelH: c.kernelH, kernelW: c.kernelW, strideH: c.strideH, strideW: c.strideW,
                    padding: RefPadding(top: c.padTop, left: c.padLeft, bottom: c.padBottom, right: c.padRight),
                    dilationH: c.dilationH, dilationW: c.dilationW, groups: c.groups)
}

extension ReferenceTrainingStep where T == Float {
    /// The float32 training step on PyTorch-ordered images `[n, 3, h, w]` with checked inputs:
    /// what `mobilekernels grad` runs. Throws a `MobileKernelsError` naming the problem for
    /// weights that do not match the architecture (missing, misnamed, misshaped), an image count
    /// that does not fill `[n, 3, h, w]`, an image too small for the network, a label count other
    /// than `n` or a label outside `0 ..< numClasses`, and a BatchNorm that would normalize a
    /// single value per channel (PyTorch refuses it too: "Expected more than 1 value per channel").
    public static func run(_ architecture: Architecture, weights: WeightSource, imagesNCHW: [Float], n: Int, h: Int, w: Int,
                           labels: [Int]) throws -> ReferenceTrainingStep<Float> {
        guard n >= 1, h >= 1, w >= 1, imagesNCHW.count == n * 3 * h * w else {
            throw MobileKernelsError(.shapeMismatch, "images: \(imagesNCHW.count) values for [\(n), 3, \(h), \(w)]")
        }
        guard labels.count == n else {
            throw MobileKernelsError(.shapeMismatch, "labels: \(labels.count) for \(n) images")
        }
        if let (i, bad) = labels.enumerated().first(where: { $0.element < 0 || $0.element >= architecture.numClasses }) {
            throw MobileKernelsError(.invalidArgument, "labels: label \(bad) of image \(i) is not a class of 0..<\(architecture.numClasses)")
        }
        let sizes = try architecture.featureSizes(height: h, width: w)
        for node in architecture.nodes {
            if case let .conv(c) = node.operation, c.batchNorm != nil, n * sizes[node.id].h * sizes[node.id].w < 2 {
                throw MobileKernelsError(.invalidArgument, "\(node.name): its BatchNorm would see one value per channel "
                    + "(\(n) image of \(sizes[node.id].h)x\(sizes[node.id].w)); training mode needs a larger batch or image")
            }
        }
        let parameters = try weights.parameters(of: architecture)
        let input = RefTensorOf<Float>(RefTensor(nchw: imagesNCHW, n: n, c: 3, h: h, w: w))
        return referenceTrainingStep(architecture, parameters: parameters, input: input, labels: labels)
    }

    /// The loss as `loss` `[1]`, then every parameter's gradient under its state_dict name and
    /// shape in `state_dict()` order (running statistics have none): a gradient file's tensors.
    public func tensors(_ architecture: Architecture) -> [(name: String, shape: [Int], values: [Float])] {
        [("loss", [1], [loss])] + architecture.parameters().compactMap { name, shape in
            gradients[name].map { (name, shape, $0) }
        }
    }
}
