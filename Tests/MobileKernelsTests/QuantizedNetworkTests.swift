import Foundation
@testable import MobileKernels
import NetworkOracle
import ReferenceKernels
import Testing

/// Whole int8 networks (QuantizedModel, QuantizedNetwork, QuantizedInferencePlan) against an
/// int8 reference graph built from the naive reference kernels, node by node, with the same
/// fusions (a residual convolution adds in its store, concat inputs requantize into the concat),
/// hard-swish as a lookup table after sums requantized at the pre-activation quantization, and
/// squeeze-and-excitation as mk_qs8.h defines it (int32 channel sums, float layers, the scaling
/// requantized).
@Suite struct QuantizedNetworkTests {
    private func images(_ n: Int, _ h: Int, _ w: Int, seed: UInt64) throws -> Tensor {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        let values = (0..<(n * h * w * 3)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float((state >> 40) % 4001) / 1000 - 2
        }
        return try Tensor(shape: TensorShape(n: n, h: h, w: w, c: 3), nhwc: values)
    }

    private func ref(_ q: Quantization) -> RefQuantization { RefQuantization(scale: q.scale, zeroPoint: q.zeroPoint) }

    private func ref(_ a: Activation) -> RefActivation { referenceActivation(a) }

    /// The hard-swish of int8 `x` (sums requantized at `pre`) into `post`.
    private func hardswish(_ x: [Int8], pre: Quantization, post: Quantization) -> [Int8] {
        let table = Reference.lutQS8(.hardswish, input: ref(pre), output: ref(post))
        return x.map { table[Int($0) + 128] }
    }

    /// The logits of `model` on `image` through the reference kernels: int8 node by node; the last
    /// linear layer with its weights quantized per channel, int32 sums (PyTorch's flatten order)
    /// and float logits `Float(sum + bias) * (input scale * weight scale)`.
    private func referenceLogits(_ model: QuantizedModel, _ image: Tensor) throws -> [Float] {
        let arch = model.architecture
        let nodes = arch.nodes
        let fusion = Fusion(arch, shuffles: false)
        let q = model.quantization
        let n = image.shape.n
        var data = [[Int8]](repeating: [], count: nodes.count)
        var size = [FeatureSize](repeating: FeatureSize(h: 0, w: 0, c: 0), count: nodes.count)
        // A fused producer's result is its consumer's tensor (the add's; its slice of the concat).
        func computed(_ id: Int) -> Bool { !data[id].isEmpty }
        for node in nodes {
            let id = node.id
            if computed(id) { continue }
            let x = node.inputs.first.map { data[$0] } ?? []
            let s = node.inputs.first.map { size[$0] } ?? FeatureSize(h: image.shape.h, w: image.shape.w, c: 3)
            switch node.operation {
            case .input:
                data[id] = image.toArray().map { q[0]!.quantize($0) }
                size[id] = s
            case let .conv(spec):
                let w = model.weights[id]!
                let bias = zip(w.bias, w.scales).map { b, sc in
                    Int32((Double(b) / (Double(q[node.inputs[0]]!.scale) * Double(sc))).rounded(.toNearestOrEven))
                }
                let residual = fusion.residualOf[id]
                let target = fusion.fusedInto[id] ?? id
                let hardswish = model.isHardswish(id)
                let r = Reference.conv2dQS8(
                    x, n: n, h: s.h, w: s.w, cin: s.c, input: ref(q[node.inputs[0]]!), weight: w.values, weightScales: w.scales,
                    bias: bias, outChannels: spec.outChannels, kernelH: spec.kernelH, kernelW: spec.kernelW,
                    strideH: spec.strideH, strideW: spec.strideW,
                    padding: RefPadding(top: spec.padTop, left: spec.padLeft, bottom: spec.padBottom, right: spec.padRight),
                    dilationH: spec.dilationH, dilationW: spec.dilationW, groups: spec.groups,
                    activation: hardswish ? .none : ref(fusion.finalActivation[id] ?? spec.activation),
                    output: ref(hardswish ? model.preActivation[id]! : q[target]!),
                    residual: residual.map { data[$0] }, residualQuantization: residual.map { ref(q[$0]!) })
                data[id] = hardswish ? self.hardswish(r.data, pre: model.preActivation[id]!, post: q[id]!) : r.data
                size[id] = FeatureSize(h: r.oh, w: r.ow, c: spec.outChannels)
                if case .add = nodes[target].operation { (data[target], size[target]) = (data[id], size[id]) }
            case let .maxPool(k, st, p):
                data[id] = Reference.poolQS8(x, n: n, h: s.h, w: s.w, c: s.c, kind: "max", kernelH: k, kernelW: k, strideH: st,
                                             strideW: st, padding: RefPadding(top: p, left: p, bottom: p, right: p),
                                             activation: .none, input: ref(q[id]!), output: ref(q[id]!)).data
                size[id] = FeatureSize(h: (s.h + 2 * p - k) / st + 1, w: (s.w + 2 * p - k) / st + 1, c: s.c)
            case let .avgPool(k, st, p, include):
                let target = fusion.fusedInto[id] ?? id
                data[id] = Reference.poolQS8(x, n: n, h: s.h, w: s.w, c: s.c, kind: "average", kernelH: k, kernelW: k, strideH: st,
                                             strideW: st, padding: RefPadding(top: p, left: p, bottom: p, right: p),
                                             countIncludePad: include, activation: ref(fusion.finalActivation[id] ?? .none),
                                             input: ref(q[node.inputs[0]]!), output: ref(q[target]!)).data
                size[id] = FeatureSize(h: (s.h + 2 * p - k) / st + 1, w: (s.w + 2 * p - k) / st + 1, c: s.c)
            case let .adaptiveAvgPool(oh, ow):
                data[id] = oh == s.h && ow == s.w ? x
                    : Reference.poolQS8(x, n: n, h: s.h, w: s.w, c: s.c, kind: "adaptive", adaptiveH: oh, adaptiveW: ow,
                                        activation: .none, input: ref(q[node.inputs[0]]!), output: ref(q[id]!)).data
                size[id] = FeatureSize(h: oh, w: ow, c: s.c)
            case .globalAveragePool:
                data[id] = Reference.poolQS8(x, n: n, h: s.h, w: s.w, c: s.c, kind: "global", activation: .none,
                                             input: ref(q[node.inputs[0]]!), output: ref(q[id]!)).data
                size[id] = FeatureSize(h: 1, w: 1, c: s.c)
            case .flatten:
                // PyTorch's order (c, y, x), so the linear layers use their weights unpermuted.
                var flat = [Int8](repeating: 0, count: x.count)
                let per = s.h * s.w * s.c
                for b in 0..<n {
                    for p in 0..<(s.h * s.w) { for c in 0..<s.c { flat[b * per + c * s.h * s.w + p] = x[b * per + p * s.c + c] } }
                }
                data[id] = flat
                size[id] = FeatureSize(h: 1, w: 1, c: per)
            case let .channelShuffle(groups):
                var out = x
                let per = s.c / groups
                for p in 0..<(x.count / s.c) {
                    for i in 0..<groups { for j in 0..<per { out[p * s.c + j * groups + i] = x[p * s.c + i * per + j] } }
                }
                data[id] = out
                size[id] = s
            case let .add(activation):
                let (a, b) = (node.inputs[0], node.inputs[1])
                data[id] = Reference.addQS8(data[a], ref(q[a]!), data[b], ref(q[b]!), output: ref(q[id]!),
                                            activation: ref(activation))
                size[id] = s
            case .concat:
                let parts = node.inputs.map { (data[$0], size[$0].c) }
                let pixels = parts[0].0.count / parts[0].1
                var out: [Int8] = []
                for p in 0..<pixels { for (d, c) in parts { out += d[(p * c)..<((p + 1) * c)] } }
                data[id] = out
                size[id] = FeatureSize(h: s.h, w: s.w, c: parts.reduce(0) { $0 + $1.1 })
            case let .linear(spec):
                if id == nodes.count - 1 {
                    let qx = q[node.inputs[0]]!
                    let (w, scales) = try QuantizedModel.perChannel(model.classifierWeights, outputs: spec.outFeatures, "fc")
                    var logits = [Float](repeating: 0, count: n * spec.outFeatures)
                    for b in 0..<n {
                        for o in 0..<spec.outFeatures {
                            var acc = Int32((Double(model.classifierBias[o]) / (Double(qx.scale) * Double(scales[o]))).rounded(.toNearestOrEven))
                            for i in 0..<spec.inFeatures {
                                acc = acc &+ (Int32(x[b * spec.inFeatures + i]) - qx.zeroPoint) &* Int32(w[o * spec.inFeatures + i])
                            }
                            logits[b * spec.outFeatures + o] = Float(acc) * (qx.scale * scales[o])
                        }
                    }
                    return logits
                }
                let w = model.weights[id]!
                let bias = zip(w.bias, w.scales).map { b, sc in
                    Int32((Double(b) / (Double(q[node.inputs[0]]!.scale) * Double(sc))).rounded(.toNearestOrEven))
                }
                let hardswish = model.isHardswish(id)
                let r = Reference.conv2dQS8(x, n: n, h: 1, w: 1, cin: spec.inFeatures, input: ref(q[node.inputs[0]]!),
                                            weight: w.values, weightScales: w.scales, bias: bias,
                                            outChannels: spec.outFeatures, kernelH: 1, kernelW: 1,
                                            activation: hardswish ? .none : ref(spec.activation),
                                            output: ref(hardswish ? model.preActivation[id]! : q[id]!)).data
                data[id] = hardswish ? self.hardswish(r, pre: model.preActivation[id]!, post: q[id]!) : r
                size[id] = FeatureSize(h: 1, w: 1, c: spec.outFeatures)
            case let .squeezeExcitation(spec):
                let w = model.squeezeExcitation[id]!
                data[id] = Reference.squeezeExcitationQS8(
                    x, n: n, h: s.h, w: s.w, c: s.c, input: ref(q[node.inputs[0]]!), fc1Weight: w.fc1, fc1Bias: w.fc1Bias,
                    squeezeChannels: spec.squeezeChannels, fc2Weight: w.fc2, fc2Bias: w.fc2Bias, output: ref(q[id]!))
                size[id] = s
            }
        }
        return []
    }

    private static let models: [(ModelKind, Float)] = [(.mobileNetV1, 0.5), (.mobileNetV2, 0.5), (.shuffleNetV1(groups: 3), 1),
                                                       (.mobileNetV3Small, 0.5), (.mobileNetV3Large, 0.5)]

    @Test("int8 MobileNetV1, V2, V3 and ShuffleNetV1 give the int8 reference graph's logits bit for bit, on every variant and thread count",
          arguments: models)
    func matchesReference(kind: ModelKind, width: Float) throws {
        let arch = try Architecture.make(kind, widthMultiplier: width, numClasses: 10)
        let model = try QuantizedModel.calibrate(architecture: arch, weights: .random(seed: 7), images: try images(3, 32, 32, seed: 1),
                                                 batch: 2)
        let x = try images(2, 40, 36, seed: 2)
        let want = try referenceLogits(model, x)
        var first: [Float]? = nil
        for variant in [Variant.auto] + Catalogue.variants(of: .qs8Gemm).filter(\.isAvailable) {
            let plan = try QuantizedNetwork(model, variant: variant).plan(batch: 2, height: 40, width: 36)
            for pool in [ThreadPool.serial, try ThreadPool(threads: 2)] {
                let got = try plan.predict(x, threadPool: pool).toArray()
                let err = zip(got, want).reduce(0) { max($0, abs($1.0 - $1.1)) }
                #expect(got == want, "\(kind) \(variant) \(pool.threadCount) threads: max error \(err)")
                if let first { #expect(got == first, "\(kind) \(variant): logits differ between variants or thread counts") }
                first = got
            }
        }
    }

    @Test("int8 AlexNet at 64x64 (an adaptive pool that averages, a flatten of 6x6 maps, hidden linear layers) gives the reference graph's logits")
    func alexnet() throws {
        let arch = try Architecture.make(.alexnet, numClasses: 10)
        let model = try QuantizedModel.calibrate(architecture: arch, weights: .random(seed: 9), images: try images(2, 64, 64, seed: 3))
        let x = try images(1, 64, 64, seed: 4)
        let want = try referenceLogits(model, x)
        for pool in [ThreadPool.serial, try ThreadPool(threads: 2)] {
            let got = try QuantizedNetwork(model).plan(height: 64, width: 64).predict(x, threadPool: pool).toArray()
            #expect(got == want, "\(pool.threadCount) threads")
        }
    }

    @Test("int8 logits stay close to float32's (random weights, and shrunk ones whose activations shrink layer by layer), and calibration covers every tensor",
          arguments: [(ModelKind.mobileNetV2, false), (.mobileNetV3Large, false), (.mobileNetV3Small, true), (.mobileNetV3Large, true)])
    func closeToFloat(kind: ModelKind, shrunk: Bool) throws {
        let arch = try Architecture.make(kind, widthMultiplier: 0.5, numClasses: 10)
        // Shrunk: convolution weights at 0.4x, so activations shrink layer by layer (as in
        // PyTorch's initialization with random BatchNorm statistics): a hard-swish layer's sums
        // then span far less than [-3, 3], which its measured pre-activation range must follow.
        var weights = WeightSource.random(seed: 3)
        if shrunk {
            let values = try weights.parameters(of: arch)
            weights = .tensors(Dictionary(uniqueKeysWithValues: arch.parameters().map { p in
                (p.name, (p.shape, p.shape.count == 4 ? values[p.name]!.map { $0 * 0.4 } : values[p.name]!))
            }))
        }
        let calibration = try images(8, 32, 32, seed: 4)
        let model = try QuantizedModel.calibrate(architecture: arch, weights: weights, images: calibration)
        #expect(model.quantization.dropLast().allSatisfy { $0?.isValid == true })
        #expect(model.quantization.last! == nil)
        #expect(model.preActivation.count == arch.nodes.indices.filter(model.isHardswish).count)
        #expect(model.preActivation.values.allSatisfy { $0.isValid && Float(-128 - $0.zeroPoint) * $0.scale >= -3.01 })
        let float = try Network(architecture: arch, weights: weights).plan(batch: 8, height: 32, width: 32).predict(calibration).toArray()
        let int8 = try QuantizedNetwork(model).plan(batch: 8, height: 32, width: 32).predict(calibration).toArray()
        let range = float.reduce(0) { max($0, abs($1)) }
        let mean = zip(float, int8).map { abs($0 - $1) }.reduce(0, +) / Float(float.count)
        let worst = zip(float, int8).map { abs($0 - $1) }.max()!
        // Measured: mean errors 0.2-0.5% of the range (0.9-1.5% on V3 when the pre-activation
        // ranges started at -3 instead of their measured minimum).
        #expect(mean < 0.008 * range && worst < 0.03 * range, "mean error \(mean), worst \(worst) of \(range)")
    }

    @Test("A saved int8 model loads back to the same logits; bad files and models give clear errors")
    func saveAndLoad() throws {
        let arch = try Architecture.make(.shuffleNetV1(groups: 3), numClasses: 10)
        let model = try QuantizedModel.calibrate(architecture: arch, weights: .random(seed: 5), images: try images(2, 32, 32, seed: 6),
                                                 metadata: ["size": "32"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qs8-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        try model.save(to: path)
        let loaded = try QuantizedModel(contentsOf: path, architecture: arch)
        #expect(loaded.metadata == ["size": "32"])
        let x = try images(1, 32, 32, seed: 8)
        #expect(try QuantizedNetwork(loaded).plan(height: 32, width: 32).predict(x).toArray()
                == QuantizedNetwork(model).plan(height: 32, width: 32).predict(x).toArray())
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.first { $0.name == "stage2.0.conv1.weight" }?.dtype == "I8")

        // Another model's architecture, a float checkpoint, a tampered tensor.
        #expect(expectError(.invalidFile, "expected mobilenet_v2") {
            _ = try QuantizedModel(contentsOf: path, architecture: try Architecture.make(.mobileNetV2, numClasses: 10))
        } != nil)
        let floatPath = dir.appendingPathComponent("f.safetensors").path
        try SafeTensorsFile.write([("a", [1], [1])], to: floatPath)
        #expect(expectError(.invalidFile, "not an int8 model") { _ = try QuantizedModel(contentsOf: floatPath, architecture: arch) } != nil)
        var tensors = file.tensors.map { t in
            (name: t.name, shape: t.shape, values: (try? file.floats(t.name)) ?? (try! file.integers(t.name)).map { Float($0) })
        }
        let int8Names = Set(file.tensors.filter { $0.dtype == "I8" }.map(\.name))
        let meta = file.metadata
        func rewrite(_ change: (inout [(name: String, shape: [Int], values: [Float])]) -> Void) throws -> String {
            var t = tensors
            change(&t)
            let p = dir.appendingPathComponent("bad.safetensors").path
            try SafeTensorsFile.write(t, metadata: meta, int8: int8Names.intersection(t.map(\.name)), to: p)
            return p
        }
        let i = tensors.firstIndex { $0.name == "stage2.0.conv1.weight" }!
        let withMin = try rewrite { $0[i].values[0] = -128 }
        #expect(expectError(.invalidFile, "-128") { _ = try QuantizedModel(contentsOf: withMin, architecture: arch) } != nil)
        let missing = try rewrite { $0.remove(at: i) }
        #expect(expectError(.invalidFile, "stage2.0.conv1.weight") { _ = try QuantizedModel(contentsOf: missing, architecture: arch) } != nil)
        let qi = tensors.firstIndex { $0.name.hasPrefix("quantization.") }!
        let badScale = try rewrite { $0[qi].values[0] = -1 }
        #expect(expectError(.invalidFile, "not a quantization") { _ = try QuantizedModel(contentsOf: badScale, architecture: arch) } != nil)
        let si = tensors.firstIndex { $0.name.hasSuffix("_scale") }!
        let zeroScale = try rewrite { $0[si].values[0] = 0 }
        #expect(expectError(.invalidFile, "finite and positive") { _ = try QuantizedModel(contentsOf: zeroScale, architecture: arch) } != nil)
        tensors = []
    }

    @Test("An int8 MobileNetV3 file keeps the pre-activation quantizations and the float SE layers; one missing is a clear error")
    func saveAndLoadV3() throws {
        let arch = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.5, numClasses: 10)
        let model = try QuantizedModel.calibrate(architecture: arch, weights: .random(seed: 5), images: try images(2, 32, 32, seed: 6))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qs8v3-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        try model.save(to: path)
        let loaded = try QuantizedModel(contentsOf: path, architecture: arch)
        #expect(loaded.preActivation == model.preActivation && !model.preActivation.isEmpty)
        let x = try images(1, 32, 32, seed: 8)
        #expect(try QuantizedNetwork(loaded).plan(height: 32, width: 32).predict(x).toArray()
                == QuantizedNetwork(model).plan(height: 32, width: 32).predict(x).toArray())
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.first { $0.name == "features.1.block.1.fc1.weight" }?.dtype == "F32")
        let all = try file.tensors.map { t in
            (name: t.name, shape: t.shape, values: t.dtype == "I8" ? try file.integers(t.name).map { Float($0) } : try file.floats(t.name))
        }
        let bytes = Set(file.tensors.filter { $0.dtype == "I8" }.map(\.name))
        let bad = dir.appendingPathComponent("bad.safetensors").path
        try SafeTensorsFile.write(all.filter { $0.name != "quantization.features.0.preactivation" }, metadata: file.metadata,
                                  int8: bytes, to: bad)
        #expect(expectError(.invalidFile, "quantization.features.0.preactivation") { _ = try QuantizedModel(contentsOf: bad, architecture: arch) } != nil)
        try SafeTensorsFile.write(all.filter { $0.name != "features.1.block.1.fc2.bias" }, metadata: file.metadata, int8: bytes, to: bad)
        #expect(expectError(.invalidFile, "features.1.block.1.fc2.bias") { _ = try QuantizedModel(contentsOf: bad, architecture: arch) } != nil)
    }

    @Test("A hard-sigmoid layer has no int8 form: a clear error; bad calibration input is rejected")
    func unsupported() throws {
        let v1 = try Architecture.make(.mobileNetV1, widthMultiplier: 0.25, numClasses: 10)
        var nodes = v1.nodes
        guard case var .conv(stem) = nodes[1].operation else { Issue.record("no stem"); return }
        stem.activation = .hardsigmoid
        nodes[1] = Node(id: 1, name: nodes[1].name, operation: .conv(stem), inputs: nodes[1].inputs)
        let odd = Architecture(kind: .mobileNetV1, widthMultiplier: 0.25, numClasses: 10, nodes: nodes)
        #expect(QuantizedModel.unsupportedReason(odd) != nil)
        // A concat with hard-swish (its inputs would store into it with that activation).
        let shuffle = try Architecture.make(.shuffleNetV1(groups: 3), numClasses: 10)
        let concats = shuffle.nodes.map { node -> Node in
            guard case .concat = node.operation else { return node }
            return Node(id: node.id, name: node.name, operation: .concat(activation: .hardswish), inputs: node.inputs)
        }
        let swishConcat = Architecture(kind: shuffle.kind, widthMultiplier: 1, numClasses: 10, nodes: concats)
        #expect(QuantizedModel.unsupportedReason(swishConcat)?.contains("concat") == true)
        #expect(expectError(.unsupported, "hard-sigmoid") {
            _ = try QuantizedModel.calibrate(architecture: odd, weights: .random(), images: try images(1, 32, 32, seed: 1))
        } != nil)
        #expect(expectError(.invalidArgument, "images") {
            _ = try QuantizedModel.calibrate(architecture: v1, weights: .random(), images: try Tensor(shape: TensorShape(h: 32, w: 32, c: 1)))
        } != nil)
        let model = try QuantizedModel.calibrate(architecture: v1, weights: .random(), images: try images(1, 32, 32, seed: 1))
        let plan = try QuantizedNetwork(model).plan(height: 32, width: 32)
        #expect(expectError(.shapeMismatch, "input") { _ = try plan.predict(try images(1, 32, 33, seed: 1)) } != nil)
        #expect(expectError(.invalidArgument, "at least 1") { _ = try QuantizedNetwork(model).plan(batch: 0) } != nil)
    }
}

