import Foundation

/// Trains a network on an image data set with our kernels: a `TrainingPlan` for the batch, a
/// `BatchLoader` assembling shuffled, augmented batches on a background thread, `SGD` with a
/// learning-rate schedule, BatchNorm running statistics updated every step, and evaluation on
/// an `InferencePlan` made from the current state_dict (BatchNorm on its running statistics, as
/// PyTorch's `model.eval()`). The same seed gives the same weights bit for bit on any thread
/// count.
public final class Trainer: @unchecked Sendable {
    public enum Schedule: Sendable, Equatable {
        /// The base learning rate throughout.
        case constant
        /// Times `gamma` every `every` epochs.
        case step(every: Int, gamma: Float)
        /// Cosine from the base rate to 0 over the run (per step).
        case cosine
    }

    public struct Options: Sendable, Equatable {
        public var epochs: Int
        public var batch: Int
        public var sgd: SGD.Options
        public var schedule: Schedule
        /// Epochs of linear warm-up from 0 to the base rate (per step), before the schedule.
        public var warmupEpochs: Int
        /// Random crop (4-pixel padding) and horizontal flip (off for digits).
        public var cropPadding: Int, horizontalFlip: Bool
        public var seed: UInt64
        /// Apply the architecture's Dropouts (VGG16, AlexNet, the MobileNets' classifiers).
        public var dropout: Bool

        public init(epochs: Int, batch: Int = 128, sgd: SGD.Options = .init(learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4),
                    schedule: Schedule = .cosine, warmupEpochs: Int = 0, cropPadding: Int = 4, horizontalFlip: Bool = true,
                    seed: UInt64 = 0, dropout: Bool = true) {
            (self.epochs, self.batch, self.sgd, self.schedule, self.warmupEpochs) = (epochs, batch, sgd, schedule, warmupEpochs)
            (self.cropPadding, self.horizontalFlip, self.seed, self.dropout) = (cropPadding, horizontalFlip, seed, dropout)
        }
    }

    /// One epoch's figures.
    public struct EpochResult: Sendable {
        public var epoch: Int
        public var loss: Double, accuracy: Double
        public var images: Int
        public var seconds: Double
        public var imagesPerSecond: Double { Double(images) / seconds }
    }

    public let plan: TrainingPlan
    public let optimizer: SGD
    public let loader: BatchLoader
    public let options: Options
    public let threadPool: ThreadPool
    /// Epochs completed.
    public private(set) var epoch = 0

    /// - Parameters:
    ///   - size: the square input size (32; AlexNet needs at least 63).
    ///   - normalization: per data-set channel mean and std (default: the training set's own).
    /// - Throws: the errors of `TrainingPlan`, `BatchLoader` and `SGD`; `.invalidArgument` for
    ///   epochs below 1 or a data set with more classes than the architecture.
    public init(_ architecture: Architecture, weights: WeightSource, data: ImageDataset, size: Int = 32, options: Options,
                normalization: (mean: [Float], std: [Float])? = nil, threadPool: ThreadPool = .shared) throws {
        guard options.epochs >= 1, options.warmupEpochs >= 0 else {
            throw MobileKernelsError(.invalidArgument, "Trainer: epochs must be at least 1 and warm-up epochs at least 0")
        }
        guard data.classes <= architecture.numClasses else {
            throw MobileKernelsError(.invalidArgument, "Trainer: \(data.name) has \(data.classes) classes, the network \(architecture.numClasses)")
        }
        if case let .step(every, gamma) = options.schedule, every < 1 || !(gamma > 0) {
            throw MobileKernelsError(.invalidArgument, "Trainer: a step schedule needs every >= 1 and gamma > 0")
        }
        let stats = normalization ?? data.statistics()
        loader = try BatchLoader(dataset: data, batch: options.batch,
                                 transform: ImageTransform(size: size, mean: stats.mean, std: stats.std, cropPadding: options.cropPadding,
                                                           horizontalFlip: options.horizontalFlip),
                                 shuffle: true, seed: options.seed)
        plan = try TrainingPlan(architecture, weights: weights, batch: options.batch, height: size, width: size)
        optimizer = try SGD(plan: plan, options: options.sgd)
        (self.options, self.threadPool) = (options, threadPool)
    }

    /// The learning rate of step `step` (0-based over the whole run).
    public func learningRate(step: Int) -> Float {
        let perEpoch = loader.batchesPerEpoch, total = options.epochs * perEpoch, warm = options.warmupEpochs * perEpoch
        let base = options.sgd.learningRate
        if step < warm { return base * Float(step + 1) / Float(warm) }
        switch options.schedule {
        case .constant:
            return base
        case let .step(every, gamma):
            return base * Float(pow(Double(gamma), Double((step / perEpoch) / every)))
        case .cosine:
            let t = Double(step - warm) / Double(max(total - warm, 1))
            return base * Float(0.5 * (1 + cos(Double.pi * t)))
        }
    }

    /// Trains one epoch; `progress` is called after every batch with (batches done, batches,
    /// running mean loss).
    public func trainEpoch(progress: (_ done: Int, _ of: Int, _ loss: Double) -> Void = { _, _, _ in }) throws -> EpochResult {
        let e = epoch
        let start = Date()
        var lossSum = 0.0, correct = 0, seen = 0
        let classes = plan.architecture.numClasses
        try loader.forEachBatch(epoch: e) { index, images, labels in
            let step = e * loader.batchesPerEpoch + index
            let loss = try plan.run(images: images, labels: labels,
                                    dropoutSeed: options.dropout ? BatchLoader.mix(options.seed ^ 0xD50, UInt64(step)) : nil,
                                    threadPool: threadPool)
            try plan.updateRunningStatistics()
            optimizer.learningRate = learningRate(step: step)
            try optimizer.step(threadPool: threadPool)
            plan.withLogits { z in
                for (b, label) in labels.enumerated() {
                    var best = 0
                    for j in 1..<classes where z[b * classes + j] > z[b * classes + best] { best = j }
                    if best == label { correct += 1 }
                }
            }
            lossSum += Double(loss) * Double(labels.count)
            seen += labels.count
            progress(index + 1, loader.batchesPerEpoch, lossSum / Double(seen))
        }
        epoch += 1
        return EpochResult(epoch: epoch, loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen), images: seen,
                           seconds: Date().timeIntervalSince(start))
    }

    /// Continues a run from the checkpoint `path` that `save` wrote (the trainer made with
    /// `weights: .safetensors(path:)` and the same options): the optimizer's momentum and step
    /// count from `<path>.optimizer.safetensors`, and the epochs done. The running statistics
    /// came with the weights; the next epoch's shuffle, augmentation and learning rate are the
    /// ones the uninterrupted run would have had, so its weights are the same bit for bit.
    /// - Throws: `.invalidFile` for a missing or malformed file; `.invalidArgument` when the
    ///   optimizer file is not the checkpoint's (another epoch: a run stopped between the two
    ///   writes), the checkpoint is of another model or stem stride or stem pool than the trainer's, or the
    ///   run's options (epochs, batch, optimizer, schedule, augmentation, seed, input size)
    ///   differ from the trainer's: the schedule and the batches would not be the run's.
    public func resume(from path: String) throws {
        let weights = try SafeTensorsFile(path: path)
        let file = try SafeTensorsFile(path: path + ".optimizer.safetensors")
        guard let e = file.metadata["epoch"].flatMap({ Int($0) }), let steps = file.metadata["steps"].flatMap({ Int($0) }),
              e >= 0, e <= options.epochs, steps == e * loader.batchesPerEpoch else {
            throw MobileKernelsError(.invalidArgument, "Trainer.resume: \(path).optimizer.safetensors records epoch \(file.metadata["epoch"] ?? "none") and \(file.metadata["steps"] ?? "no") steps; expected an epoch in 0...\(options.epochs) of \(loader.batchesPerEpoch) steps each")
        }
        guard weights.metadata["epoch"] == String(e) else {
            throw MobileKernelsError(.invalidArgument, "Trainer.resume: \(path) is at epoch \(weights.metadata["epoch"] ?? "none"), its optimizer file at \(e)")
        }
        let architecture = plan.architecture
        let recorded = try Architecture.recordedVariant(weights.metadata)
        guard weights.metadata["model"] == architecture.kind.specName, recorded.stemStride == architecture.stemStride,
              (recorded.stemPool ?? true) == architecture.stemPool else {
            func describe(_ model: String, _ stride: String, _ pool: Bool) -> String {
                "\(model) with stem stride \(stride)\(pool ? "" : " and no stem pool")"
            }
            throw MobileKernelsError(.invalidArgument, "Trainer.resume: \(path) is \(describe(weights.metadata["model"] ?? "no model", weights.metadata["stem_stride"] ?? "none", recorded.stemPool ?? true)), the trainer \(describe(architecture.kind.specName, String(architecture.stemStride), architecture.stemPool))")
        }
        guard file.metadata["run"] == runDescription else {
            throw MobileKernelsError(.invalidArgument, "Trainer.resume: the run's options were \(file.metadata["run"] ?? "not recorded"), now \(runDescription)")
        }
        try optimizer.restore(momentum: { name in
            guard let info = file.info(name) else { return nil }
            guard info.shape.reduce(1, *) == self.plan.parameterRange(name)?.count else { return nil }
            return try file.floats(name)
        }, steps: steps)
        epoch = e
    }

    /// The options a resumed run must share with the one it continues (in the optimizer file).
    var runDescription: String {
        let o = options, t = loader.transform
        return "epochs \(o.epochs), batch \(o.batch), \(o.sgd), \(o.schedule), warm-up \(o.warmupEpochs), crop \(o.cropPadding), flip \(o.horizontalFlip), seed \(o.seed), dropout \(o.dropout), size \(t.size), width \(plan.architecture.widthMultiplier)"
    }

    /// The network as it stands, for inference (BatchNorm on the running statistics).
    public func network() throws -> Network {
        try Network(architecture: plan.architecture, weights: .tensors(Dictionary(uniqueKeysWithValues: plan.stateDict().map {
            ($0.name, (shape: $0.shape, values: $0.values))
        })))
    }

    /// Top-1 accuracy on `data` (its images transformed as the training set's, without augmentation).
    public func evaluate(_ data: ImageDataset, batch: Int = 100) throws -> Double {
        try Trainer.evaluate(network(), data: data, transform: loader.transform.evaluation, batch: batch, threadPool: threadPool)
    }

    /// Top-1 accuracy of `network` on `data` through an `InferencePlan` of `batch` images.
    public static func evaluate(_ network: Network, data: ImageDataset, transform: ImageTransform, batch: Int = 100,
                                threadPool: ThreadPool = .shared) throws -> Double {
        let b = min(batch, data.count)
        let loader = try BatchLoader(dataset: data, batch: b, transform: transform, shuffle: false, dropLast: false)
        let plan = try network.plan(batch: b, height: transform.size, width: transform.size)
        var output = try Tensor(shape: plan.outputShape)
        let classes = plan.outputShape.c
        var correct = 0
        try loader.forEachBatch(epoch: 0) { _, images, labels in
            try plan.predict(images, into: &output, threadPool: threadPool)
            output.withUnsafeBufferPointer { z in
                for (i, label) in labels.enumerated() {
                    var best = 0
                    for j in 1..<classes where z[i * classes + j] > z[i * classes + best] { best = j }
                    if best == label { correct += 1 }
                }
            }
        }
        return Double(correct) / Double(data.count)
    }

    /// Writes the state_dict (every tensor under its PyTorch name and shape, running statistics
    /// and num_batches_tracked included) as a safetensors checkpoint, and the optimizer's
    /// momentum beside it (`<path>.optimizer.safetensors`: one tensor per parameter, plus the
    /// epoch and step counts in the metadata).
    /// The metadata also records the input transform (`size`, `mean`, `std`, comma-separated) so
    /// that evaluation normalizes as training did, plus `extra`.
    public func save(_ path: String, metadata extra: [String: String] = [:]) throws {
        let t = loader.transform
        var metadata = extra
        metadata["model"] = plan.architecture.kind.specName
        metadata.merge(plan.architecture.variantMetadata) { $1 }
        metadata["epoch"] = String(epoch)
        metadata["size"] = String(t.size)
        metadata["mean"] = t.mean.map { String($0) }.joined(separator: ",")
        metadata["std"] = t.std.map { String($0) }.joined(separator: ",")
        let state = plan.stateDict()
        try SafeTensorsFile.write(state, metadata: metadata,
                                  int64: Set(state.map(\.name).filter { $0.hasSuffix(".num_batches_tracked") }), to: path)
        let momentum: [(name: String, shape: [Int], values: [Float])] = optimizer.withMomentum { buffer in
            plan.gradientNames.map { name in
                let range = plan.parameterRange(name)!
                return (name, [range.count], Array(buffer[range]))
            }
        }
        try SafeTensorsFile.write(momentum, metadata: ["epoch": String(epoch), "steps": String(optimizer.steps), "run": runDescription],
                                  to: path + ".optimizer.safetensors")
    }
}
