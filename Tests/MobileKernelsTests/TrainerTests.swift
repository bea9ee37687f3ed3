import Foundation
import MobileKernels
import Testing

// The Trainer end to end on a small synthetic task (two classes: a bright top half or a bright
// bottom half, with noise): the loss falls and the held-out accuracy beats chance by far; the
// same seed gives the same weights bit for bit on 1 and 2 threads; the schedules' rates.

private func halves(count: Int, seed: UInt64) throws -> ImageDataset {
    var state = seed
    func noise() -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 58)  // 0...63
    }
    var pixels: [UInt8] = [], labels: [UInt8] = []
    for i in 0..<count {
        let label = i % 2
        labels.append(UInt8(label))
        for y in 0..<28 {
            for _ in 0..<28 {
                let bright = (y < 14) == (label == 0)
                pixels.append(UInt8((bright ? 150 : 40) + noise()))
            }
        }
    }
    return try ImageDataset(name: "halves", height: 28, width: 28, channels: 1, classes: 10, pixels: pixels, labels: labels)
}

@Suite("Trainer")
struct TrainerTests {
    @Test("learns a simple task; 1 and 2 threads give the same weights")
    func learns() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 10)
        let train = try halves(count: 96, seed: 1), test = try halves(count: 40, seed: 2)
        let options = Trainer.Options(epochs: 4, batch: 16, sgd: .init(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4),
                                      schedule: .cosine, cropPadding: 2, horizontalFlip: false, seed: 5)
        var states: [[Float]] = []
        for threads in [1, 2] {
            let trainer = try Trainer(architecture, weights: .random(seed: 3), data: train, options: options,
                                      threadPool: try ThreadPool(threads: threads))
            var losses: [Double] = []
            for _ in 0..<options.epochs { losses.append(try trainer.trainEpoch().loss) }
            #expect(losses.last! < losses.first! * 0.7, "\(threads) thread(s): losses \(losses)")
            let accuracy = try trainer.evaluate(test, batch: 16)
            #expect(accuracy >= 0.9, "\(threads) thread(s): held-out accuracy \(accuracy), losses \(losses)")
            states.append(trainer.plan.stateDict().flatMap(\.values))
        }
        #expect(states[0] == states[1], "2 threads trained other weights than 1")
    }

    @Test("learning-rate schedules: warm-up, step, cosine")
    func schedules() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 10)
        let data = try halves(count: 40, seed: 1)  // 4 batches of 10 per epoch
        func trainer(_ schedule: Trainer.Schedule, warmup: Int = 0) throws -> Trainer {
            try Trainer(architecture, weights: .random(seed: 3), data: data,
                        options: .init(epochs: 4, batch: 10, sgd: .init(learningRate: 0.2), schedule: schedule, warmupEpochs: warmup))
        }
        let step = try trainer(.step(every: 2, gamma: 0.1))
        #expect(step.learningRate(step: 0) == 0.2 && step.learningRate(step: 7) == 0.2 && abs(step.learningRate(step: 8) - 0.02) < 1e-7)
        let cosine = try trainer(.cosine, warmup: 1)
        #expect(abs(cosine.learningRate(step: 0) - 0.05) < 1e-7 && cosine.learningRate(step: 3) == 0.2)
        #expect(cosine.learningRate(step: 4) == 0.2 && abs(cosine.learningRate(step: 10) - 0.1) < 1e-6 && cosine.learningRate(step: 15) < 0.01)
        #expect(throws: MobileKernelsError.self) { _ = try trainer(.step(every: 0, gamma: 0.1)) }
    }

    @Test("a checkpoint holds the state_dict, the transform and the momentum, and evaluates as the trainer did")
    func checkpoint() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 10)
        let train = try halves(count: 32, seed: 1), test = try halves(count: 20, seed: 2)
        let trainer = try Trainer(architecture, weights: .random(seed: 3), data: train,
                                  options: .init(epochs: 1, batch: 16, horizontalFlip: false, seed: 1))
        _ = try trainer.trainEpoch()
        let path = NSTemporaryDirectory() + "mk-checkpoint-\(UUID().uuidString).safetensors"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".optimizer.safetensors")
        }
        try trainer.save(path, metadata: ["data": "halves"])
        let file = try SafeTensorsFile(path: path)
        let state = trainer.plan.stateDict()
        #expect(file.tensors.map(\.name) == state.map(\.name))
        for t in state where !t.name.hasSuffix(".num_batches_tracked") {
            #expect(try file.floats(t.name) == t.values && file.info(t.name)!.shape == t.shape, "\(t.name)")
        }
        // num_batches_tracked as PyTorch writes it: I64, shape [].
        let counters = state.filter { $0.name.hasSuffix(".num_batches_tracked") }
        #expect(!counters.isEmpty)
        for t in counters {
            let values = try file.integers(t.name)
            #expect(file.info(t.name)!.dtype == "I64" && file.info(t.name)!.shape == [] && values == [2], "\(t.name)")
        }
        #expect(file.metadata["size"] == "32" && file.metadata["data"] == "halves" && file.metadata["epoch"] == "1")
        let mean = file.metadata["mean"]!.split(separator: ",").map { Float(String($0))! }
        #expect(mean == trainer.loader.transform.mean)
        let momentum = try SafeTensorsFile(path: path + ".optimizer.safetensors")
        #expect(momentum.tensors.count == trainer.plan.gradientNames.count && momentum.metadata["steps"] == "2")
        let network = try Network(architecture: architecture, weights: .safetensors(file))
        let accuracy = try Trainer.evaluate(network, data: test, transform: trainer.loader.transform.evaluation, batch: 20)
        #expect(accuracy == (try trainer.evaluate(test, batch: 20)))
    }

    @Test("resuming from a checkpoint gives the uninterrupted run's weights bit for bit; a bad optimizer file is an error")
    func resume() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 10, stemStride: 1)
        let train = try halves(count: 48, seed: 1)
        let options = Trainer.Options(epochs: 2, batch: 16, sgd: .init(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: true),
                                      cropPadding: 2, horizontalFlip: true, seed: 7)
        let straight = try Trainer(architecture, weights: .initialization(seed: 2), data: train, options: options)
        for _ in 0..<2 { _ = try straight.trainEpoch() }
        let first = try Trainer(architecture, weights: .initialization(seed: 2), data: train, options: options)
        _ = try first.trainEpoch()
        let path = NSTemporaryDirectory() + "mk-resume-\(UUID().uuidString).safetensors"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".optimizer.safetensors")
        }
        try first.save(path)
        #expect(try SafeTensorsFile(path: path).metadata["stem_stride"] == "1")
        let resumed = try Trainer(architecture, weights: .safetensors(path: path), data: train, options: options)
        try resumed.resume(from: path)
        #expect(resumed.epoch == 1 && resumed.optimizer.steps == 3)
        _ = try resumed.trainEpoch()
        let a = straight.plan.stateDict(), b = resumed.plan.stateDict()
        let same = a.map(\.name) == b.map(\.name) && zip(a, b).allSatisfy { $0.values == $1.values }
        #expect(same, "a resumed run differs from the uninterrupted one")
        // Without momentum the continuation differs (the check above can fail).
        let cold = try Trainer(architecture, weights: .safetensors(path: path), data: train, options: options)
        _ = try cold.trainEpoch()
        #expect(cold.plan.stateDict().map(\.values) != a.map(\.values))
        // Another batch size: the step count does not match the epoch.
        var other = options
        other.batch = 8
        let mismatched = try Trainer(architecture, weights: .safetensors(path: path), data: train, options: other)
        expectError(.invalidArgument, "steps") { try mismatched.resume(from: path) }
        // A checkpoint of another model, or of the other stem stride.
        let v1 = try Architecture.make(.mobileNetV1, widthMultiplier: 0.25, numClasses: 10)
        let wrong = try Trainer(v1, weights: .initialization(seed: 2), data: train, options: options)
        expectError(.invalidArgument, "is mobilenet_v3_small with stem stride 1") { try wrong.resume(from: path) }
        expectError(.invalidFile, "cannot open") { try wrong.resume(from: path + ".missing") }
        let published = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 10)
        let otherStem = try Trainer(published, weights: .safetensors(path: path), data: train, options: options)
        expectError(.invalidArgument, "stem stride 1, the trainer mobilenet_v3_small with stem stride 2") { try otherStem.resume(from: path) }
        // ShuffleNetV1's stem pool is recorded and checked too (a checkpoint at epoch 0 suffices).
        let shuffleOptions = Trainer.Options(epochs: 1, batch: 16, sgd: .init(learningRate: 0.05), seed: 7)
        let cifar = try Architecture.make(.shuffleNetV1(groups: 1), numClasses: 10, stemStride: 1, stemPool: false)
        let noPool = try Trainer(cifar, weights: .initialization(seed: 2), data: train, options: shuffleOptions)
        let shufflePath = path + ".shufflenet.safetensors"
        defer {
            try? FileManager.default.removeItem(atPath: shufflePath)
            try? FileManager.default.removeItem(atPath: shufflePath + ".optimizer.safetensors")
        }
        try noPool.save(shufflePath)
        #expect(try SafeTensorsFile(path: shufflePath).metadata["stem_pool"] == "false")
        try Trainer(cifar, weights: .safetensors(path: shufflePath), data: train, options: shuffleOptions).resume(from: shufflePath)
        let pooled = try Trainer(try Architecture.make(.shuffleNetV1(groups: 1), numClasses: 10, stemStride: 1),
                                 weights: .safetensors(path: shufflePath), data: train, options: shuffleOptions)
        expectError(.invalidArgument, "stem stride 1 and no stem pool, the trainer shufflenet_v1_g1 with stem stride 1") {
            try pooled.resume(from: shufflePath)
        }
        #expect(try SafeTensorsFile(path: path).metadata["stem_pool"] == nil)
        // A pooled ShuffleNet records "true"; one written before stem_pool existed (no key) is
        // the published form: it resumes with the pool and not without.
        let withPool = try Trainer(try Architecture.make(.shuffleNetV1(groups: 1), numClasses: 10, stemStride: 1),
                                   weights: .initialization(seed: 2), data: train, options: shuffleOptions)
        try withPool.save(shufflePath)
        let saved = try SafeTensorsFile(path: shufflePath)
        #expect(saved.metadata["stem_pool"] == "true")
        var older = saved.metadata
        older["stem_pool"] = nil
        // (and its counters were F32)
        let tensors = try saved.tensors.map {
            (name: $0.name, shape: $0.shape, values: $0.dtype == "I64" ? try saved.integers($0.name).map(Float.init) : try saved.floats($0.name))
        }
        try SafeTensorsFile.write(tensors, metadata: older, to: shufflePath)
        try Trainer(withPool.plan.architecture, weights: .safetensors(path: shufflePath), data: train, options: shuffleOptions)
            .resume(from: shufflePath)
        let dropped = try Trainer(cifar, weights: .safetensors(path: shufflePath), data: train, options: shuffleOptions)
        expectError(.invalidArgument, "stem stride 1, the trainer shufflenet_v1_g1 with stem stride 1 and no stem pool") {
            try dropped.resume(from: shufflePath)
        }
        // Other options: the schedule (a longer run) or the seed would not be the run's.
        var longer = options
        longer.epochs = 3
        let extended = try Trainer(architecture, weights: .safetensors(path: path), data: train, options: longer)
        expectError(.invalidArgument, "the run's options were epochs 2") { try extended.resume(from: path) }
        var reseeded = options
        reseeded.seed = 8
        let otherSeed = try Trainer(architecture, weights: .safetensors(path: path), data: train, options: reseeded)
        expectError(.invalidArgument, "seed 7") { try otherSeed.resume(from: path) }
        #expect(otherSeed.epoch == 0 && otherSeed.optimizer.steps == 0)
        // Weights of epoch 2 beside the optimizer file of epoch 1 (a run stopped between the writes).
        let later = path + ".later.safetensors"
        defer {
            try? FileManager.default.removeItem(atPath: later)
            try? FileManager.default.removeItem(atPath: later + ".optimizer.safetensors")
        }
        try resumed.save(later)
        try FileManager.default.removeItem(atPath: later + ".optimizer.safetensors")
        try FileManager.default.copyItem(atPath: path + ".optimizer.safetensors", toPath: later + ".optimizer.safetensors")
        let torn = try Trainer(architecture, weights: .safetensors(path: later), data: train, options: options)
        expectError(.invalidArgument, "is at epoch 2, its optimizer file at 1") { try torn.resume(from: later) }
    }

    @Test("training initialization: Kaiming normal (fan_out) convolutions, N(0, 0.01) linear, BatchNorm 1 and 0, zero biases")
    func initialization() throws {
        let architecture = try Architecture.make(.mobileNetV2, widthMultiplier: 0.5, numClasses: 10)
        let p = try WeightSource.initialization(seed: 4).parameters(of: architecture)
        func moments(_ v: [Float]) -> (mean: Double, std: Double) {
            let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
            return (m, (v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(v.count)).squareRoot())
        }
        // features.18.0: 1x1, 160 -> 1280 at width 0.5 (the last conv keeps 1280): fan_out 1280.
        let conv = moments(p["features.18.0.weight"]!)
        #expect(abs(conv.mean) < 0.002 && abs(conv.std - (2.0 / 1280).squareRoot()) < 0.002, "\(conv)")
        // A depthwise 3x3: fan_out = channels x 9.
        let dw = moments(p["features.2.conv.1.0.weight"]!)
        let channels = Double(p["features.2.conv.1.0.weight"]!.count / 9)
        #expect(abs(dw.std - (2.0 / (channels * 9)).squareRoot()) < 0.25 * (2.0 / (channels * 9)).squareRoot(), "\(dw)")
        let fc = moments(p["classifier.1.weight"]!)
        #expect(abs(fc.std - 0.01) < 0.0005, "\(fc)")
        #expect(p["classifier.1.bias"]!.allSatisfy { $0 == 0 } && p["features.1.conv.2.weight"]!.allSatisfy { $0 == 1 })
        #expect(p["features.0.1.bias"]!.allSatisfy { $0 == 0 } && p["features.0.1.running_var"]!.allSatisfy { $0 == 1 })
        #expect(try WeightSource.initialization(seed: 4).parameters(of: architecture)["features.3.conv.0.0.weight"] == p["features.3.conv.0.0.weight"])
        #expect(try WeightSource.initialization(seed: 5).parameters(of: architecture)["features.3.conv.0.0.weight"] != p["features.3.conv.0.0.weight"])
    }

    @Test("zeroResidualBranches: the BatchNorm ending each residual branch starts at scale 0; ShuffleNetV1's default, not the torchvision models'")
    func zeroResidualBranches() throws {
        func zeroScales(_ p: [String: [Float]]) -> [String] {
            p.filter { $0.key.hasSuffix(".weight") && $0.value.allSatisfy { $0 == 0 } }.map(\.key).sorted()
        }
        // ShuffleNetV1: the stride-1 units' bn3 (3 + 7 + 3 of them), not the stride-2 units'
        // (their branch is concatenated, not added) nor any other BatchNorm.
        let shuffle = try Architecture.make(.shuffleNetV1(groups: 3), numClasses: 10, stemStride: 1)
        let expected = [(2, 4), (3, 8), (4, 4)].flatMap { stage, units in (1..<units).map { "stage\(stage).\($0).bn3.weight" } }.sorted()
        let byDefault = try WeightSource.initialization(seed: 1).parameters(of: shuffle)
        #expect(zeroScales(byDefault) == expected)
        #expect(byDefault["stage2.0.bn3.weight"]!.allSatisfy { $0 == 1 } && byDefault["stage3.1.bn2.weight"]!.allSatisfy { $0 == 1 })
        let off = try WeightSource.initialization(seed: 1, zeroResidualBranches: false).parameters(of: shuffle)
        #expect(zeroScales(off).isEmpty && off["stage3.1.bn3.weight"]!.allSatisfy { $0 == 1 })
        // Everything else is the same draw.
        #expect(off.keys.filter { !expected.contains($0) }.allSatisfy { off[$0] == byDefault[$0] })
        // MobileNetV2 (torchvision): off by default; on, the projection BatchNorm of the ten blocks
        // that add their input (features.N.conv.3, N = 3, 5, 6, 8, 9, 10, 12, 13, 15, 16).
        let v2 = try Architecture.make(.mobileNetV2, widthMultiplier: 0.5, numClasses: 10)
        #expect(zeroScales(try WeightSource.initialization(seed: 1).parameters(of: v2)).isEmpty)
        #expect(zeroScales(try WeightSource.initialization(seed: 1, zeroResidualBranches: true).parameters(of: v2))
                == [3, 5, 6, 8, 9, 10, 12, 13, 15, 16].map { "features.\($0).conv.3.weight" }.sorted())
        // MobileNetV3-Large: features.1 (no expansion: dw, project) adds too; V3-Small: blocks 3,
        // 5, 6, 8, 10, 11. The projection is the last sub-layer, with or without SE.
        let v3 = try zeroScales(WeightSource.initialization(seed: 1, zeroResidualBranches: true)
            .parameters(of: try Architecture.make(.mobileNetV3Large, widthMultiplier: 0.5, numClasses: 10)))
        #expect(v3 == ["features.1.block.1.1.weight", "features.3.block.2.1.weight", "features.5.block.3.1.weight",
                       "features.6.block.3.1.weight", "features.8.block.2.1.weight", "features.9.block.2.1.weight",
                       "features.10.block.2.1.weight", "features.12.block.3.1.weight", "features.14.block.3.1.weight",
                       "features.15.block.3.1.weight"].sorted(), "\(v3)")
        let v3s = try zeroScales(WeightSource.initialization(seed: 1, zeroResidualBranches: true)
            .parameters(of: try Architecture.make(.mobileNetV3Small, numClasses: 10)))
        #expect(v3s == ["features.3.block.2.1.weight", "features.5.block.3.1.weight", "features.6.block.3.1.weight",
                        "features.8.block.3.1.weight", "features.10.block.3.1.weight", "features.11.block.3.1.weight"].sorted(), "\(v3s)")
        // No residual sums, nothing to zero.
        #expect(try Architecture.make(.mobileNetV1, numClasses: 10).residualBranchBatchNorms().isEmpty)
        // Only a training initialization: a source of tensors (a file's) keeps its scales.
        let tensors = Dictionary(uniqueKeysWithValues: shuffle.parameters().map { ($0.name, (shape: $0.shape, values: off[$0.name]!)) })
        #expect(zeroScales(try WeightSource.tensors(tensors).parameters(of: shuffle)).isEmpty)
        // A Network built from the initialization has the training plan's weights: its bn3 folds
        // to a zero scale, so the branch adds only its shift (0): each stride-1 unit passes x on.
        let zeroed = try Network(architecture: shuffle, weights: .initialization(seed: 1))
        let fromTensors = try Network(architecture: shuffle, weights: .tensors(Dictionary(uniqueKeysWithValues: shuffle.parameters().map {
            ($0.name, (shape: $0.shape, values: byDefault[$0.name]!)) })))
        let image = try Tensor(shape: try TensorShape(n: 1, h: 32, w: 32, c: 3), nchw: (0..<3072).map { Float($0 % 17) / 8 - 1 })
        func logits(_ network: Network) throws -> [Float] { try network.plan(batch: 1, height: 32, width: 32).predict(image).toNCHW() }
        #expect(try logits(zeroed) == logits(fromTensors))
        let unzeroed = try Network(architecture: shuffle, weights: .initialization(seed: 1, zeroResidualBranches: false))
        #expect(try logits(zeroed) != logits(unzeroed))
    }

    @Test("the small-image variant: stride 1 in the first convolution only, same state_dict; not for VGG16 and AlexNet")
    func stemStride() throws {
        for kind in [ModelKind.mobileNetV1, .mobileNetV2, .mobileNetV3Large, .mobileNetV3Small, .shuffleNetV1(groups: 3)] {
            let published = try Architecture.make(kind, numClasses: 10), small = try Architecture.make(kind, numClasses: 10, stemStride: 1)
            #expect(published.parameters().map(\.0) == small.parameters().map(\.0) && small.stemStride == 1 && published.stemStride == 2)
            let a = try published.featureSizes(height: 32, width: 32), b = try small.featureSizes(height: 32, width: 32)
            #expect(a[1].h == 16 && b[1].h == 32, "\(kind): stem output \(a[1]) / \(b[1])")
            // Every feature map twice as large, up to the global pool; the last stage 2x2, not 1x1.
            #expect(zip(a, b).dropFirst().allSatisfy { $1.h == 2 * $0.h || ($0.h == 1 && $1.h == 1) }, "\(kind)")
            #expect(zip(a, b).contains { $0.h == 1 && $1.h == 2 } && a.last! == b.last!, "\(kind)")
            let changed = zip(published.nodes, small.nodes).filter { $0.0 != $0.1 }.map(\.0.name)
            #expect(changed.count == 1, "\(kind): \(changed)")
        }
        #expect(ModelKind.all.filter { !$0.hasSmallImageVariant } == [.vgg16, .alexnet])
        // ShuffleNetV1's CIFAR form: no max pool either; stage 2 at the image's size, the last stage 4x4.
        let shuffle = ModelKind.shuffleNetV1(groups: 3)
        let published = try Architecture.make(shuffle, numClasses: 10), cifar = try Architecture.make(shuffle, numClasses: 10, stemStride: 1, stemPool: false)
        #expect(published.parameters().map(\.0) == cifar.parameters().map(\.0) && published.stemPool && !cifar.stemPool)
        #expect(published.node(named: "maxpool") != nil && cifar.node(named: "maxpool") == nil && cifar.nodes.count == published.nodes.count - 1)
        let sizes = try cifar.featureSizes(height: 32, width: 32)
        #expect(sizes[cifar.node(named: "stage2.0.conv1")!.id].h == 32 && sizes[cifar.node(named: "stage4.3.add")!.id].h == 4)
        #expect(try Architecture.make(shuffle, numClasses: 10, stemPool: false).featureSizes(height: 32, width: 32)[cifar.node(named: "stage4.3.add")!.id].h == 2)
        #expect(ModelKind.all.filter(\.hasStemPool) == ModelKind.shuffleNetV1Groups.map { .shuffleNetV1(groups: $0) })
        for kind in ModelKind.all where !kind.hasStemPool {
            expectError(.invalidArgument, "no max pool") { _ = try Architecture.make(kind, stemStride: kind.hasSmallImageVariant ? 1 : 2, stemPool: false) }
        }
        #expect(try Architecture.recordedVariant(["stem_stride": "1", "stem_pool": "false"]) == (1, false))
        #expect(try Architecture.recordedVariant(["model": "vgg16"]) == (nil, nil))
        #expect(try Architecture.recordedVariant(cifar.variantMetadata) == (1, false) && cifar.variantMetadata.count == 2)
        #expect(try Architecture.recordedVariant(Architecture.make(.mobileNetV2).variantMetadata) == (2, nil))
        // A value that is there but unreadable is an error, not the published form.
        expectError(.invalidFile, "stem_pool is '0'") { _ = try Architecture.recordedVariant(["stem_stride": "1", "stem_pool": "0"]) }
        expectError(.invalidFile, "stem_stride is '4'") { _ = try Architecture.recordedVariant(["stem_stride": "4"]) }
        expectError(.invalidArgument, "stem stride") { _ = try Architecture.make(.vgg16, stemStride: 1) }
        expectError(.invalidArgument, "stem stride") { _ = try Architecture.make(.alexnet, stemStride: 1) }
        expectError(.invalidArgument, "stem stride") { _ = try Architecture.make(.mobileNetV2, stemStride: 3) }
    }
}
