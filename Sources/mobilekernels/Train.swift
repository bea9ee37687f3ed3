import ArgumentParser
import Foundation
import MobileKernels

/// The data sets `train` and `eval` read.
struct DataOptions: ParsableArguments {
    @Option(help: "fashion-mnist, mnist or cifar10.")
    var data: String = "fashion-mnist"

    @Option(help: "The data set's directory (default for fashion-mnist: Debian's /usr/share/datasets/fashion-mnist).")
    var dataDir: String?

    func load(_ split: ImageDataset.Split) throws -> ImageDataset {
        switch data {
        case "fashion-mnist": return try ImageDataset.fashionMNIST(split, directory: dataDir ?? ImageDataset.fashionMNISTDirectory)
        case "mnist":
            guard let dataDir else { throw ValidationError("--data mnist needs --data-dir (the IDX files, .gz or plain)") }
            return try ImageDataset.mnist(split, directory: dataDir)
        case "cifar10":
            guard let dataDir else { throw ValidationError("--data cifar10 needs --data-dir (data_batch_1.bin ... test_batch.bin)") }
            return try ImageDataset.cifar10(split, directory: dataDir)
        default:
            throw ValidationError("--data must be fashion-mnist, mnist or cifar10, not \(data)")
        }
    }

    /// Digits are not mirrored in training.
    var flips: Bool { data != "mnist" }
}

/// The mean and std a checkpoint's metadata records (what training normalized with), when they
/// have one value per channel.
func checkpointNormalization(_ file: SafeTensorsFile, channels: Int) -> (mean: [Float], std: [Float])? {
    let parse = { (key: String) in file.metadata[key].map { $0.split(separator: ",").compactMap { Float(String($0)) } } }
    guard let mean = parse("mean"), let std = parse("std"), mean.count == channels, std.count == channels else { return nil }
    return (mean, std)
}

func defaultSize(_ kind: ModelKind) -> Int { kind == .alexnet ? 64 : 32 }

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on Fashion-MNIST, MNIST or CIFAR-10 with SGD, writing a PyTorch-loadable safetensors checkpoint every epoch.")

    @Option(help: "The model: \(modelNames.joined(separator: ", ")).")
    var model: String

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Epochs.")
    var epochs: Int = 10

    @Option(help: "Batch size.")
    var batch: Int = 128

    @Option(help: "Base learning rate.")
    var lr: Float = 0.05

    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9

    @Option(help: "Weight decay (not on BatchNorm parameters and biases).")
    var weightDecay: Float = 5e-4

    @Flag(help: "Nesterov momentum.")
    var nesterov = false

    @Option(help: "Learning-rate schedule: cosine, step or constant.")
    var schedule: String = "cosine"

    @Option(help: "The step schedule: epochs between decays.")
    var stepEvery: Int = 3

    @Option(help: "The step schedule: the factor per decay.")
    var gamma: Float = 0.1

    @Option(help: "Epochs of linear learning-rate warm-up.")
    var warmup: Int = 0

    @Option(help: "Input size (default 32; AlexNet 64).")
    var size: Int?

    @OptionGroup var architectureOptions: ArchitectureOptions

    @Flag(help: "No random crop and flip.")
    var noAugment = false

    @Option(help: "Threads (the weights do not depend on it).")
    var threads: Int?

    @Option(help: "Seed of the shuffles, augmentation, dropout and (without --weights) the initial weights.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo,
          help: "Without --weights: start each residual branch's last BatchNorm scale at 0, so each residual unit starts as the identity (default: on for ShuffleNetV1, off for the torchvision models).")
    var zeroInitResidual: Bool?

    @Option(help: "Start from these weights (.safetensors, e.g. torchvision's converted or a checkpoint) instead of random ones.")
    var weights: String?

    @Option(help: "Continue the run that wrote this checkpoint (its weights, running statistics, momentum and epoch; the same options otherwise) up to --epochs.")
    var resume: String?

    @Option(help: "Write the checkpoint here (.safetensors; the optimizer state beside it).")
    var output: String

    @Option(help: "Write the per-epoch figures here as JSON (for `mobilekernels plot`).")
    var log: String?

    func run() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        let kind = try modelKind(model)
        let trainSet = try dataOptions.load(.train), testSet = try dataOptions.load(.test)
        if resume != nil && weights != nil { throw ValidationError("--resume takes the checkpoint's weights: give --resume or --weights, not both") }
        if zeroInitResidual != nil && (resume ?? weights) != nil {
            throw ValidationError("--zero-init-residual and --no-zero-init-residual choose the initial weights: not with --weights or --resume")
        }
        let architecture = try architectureOptions.make(kind, numClasses: max(trainSet.classes, 10),
                                                        checkpoint: (resume ?? weights).map { try SafeTensorsFile(path: $0) })
        if zeroInitResidual == true && architecture.residualBranchBatchNorms().isEmpty {
            throw ValidationError("--zero-init-residual: \(model) has no residual sums (only the MobileNetV2/V3s and ShuffleNetV1 do)")
        }
        let s: Trainer.Schedule
        switch schedule {
        case "cosine": s = .cosine
        case "constant": s = .constant
        case "step": s = .step(every: stepEvery, gamma: gamma)
        default: throw ValidationError("--schedule must be cosine, step or constant, not \(schedule)")
        }
        let options = Trainer.Options(epochs: epochs, batch: batch,
                                      sgd: .init(learningRate: lr, momentum: momentum, weightDecay: weightDecay, nesterov: nesterov),
                                      schedule: s, warmupEpochs: warmup, cropPadding: noAugment ? 0 : 4,
                                      horizontalFlip: !noAugment && dataOptions.flips, seed: seed)
        let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
        let source: WeightSource = try (resume ?? weights).map { try .safetensors(path: $0) } ?? .initialization(seed: seed, zeroResidualBranches: zeroInitResidual)
        let trainer = try Trainer(architecture, weights: source, data: trainSet, size: size ?? defaultSize(kind), options: options,
                                  threadPool: pool)
        var record = TrainingLog(framework: "mobilekernels", model: model, data: dataOptions.data, size: size ?? defaultSize(kind),
                                 batch: batch, threads: pool.threadCount, lr: Double(lr), layout: "nhwc", stem_stride: architecture.stemStride,
                                 stem_pool: kind.hasStemPool ? architecture.stemPool : nil,
                                 zero_init_residual: (resume ?? weights) == nil ? (zeroInitResidual ?? kind.zeroesResidualBranches) : nil, epochs: [])
        if let resume {
            try trainer.resume(from: resume)
            if let log, FileManager.default.fileExists(atPath: log) { record = try TrainingLog.read(log) }
            record.epochs.removeAll { $0.epoch > trainer.epoch }
            guard trainer.epoch < epochs else { throw ValidationError("\(resume) is at epoch \(trainer.epoch) of \(epochs): nothing to do") }
        }
        print("\(model) on \(trainSet.name) (\(trainSet.count) images) and \(testSet.name) (\(testSet.count)), \(size ?? defaultSize(kind))x\(size ?? defaultSize(kind)), batch \(batch), \(pool.threadCount) thread(s), \(epochs) epochs, SGD lr \(lr) \(schedule)")
        let interactive = isatty(STDOUT_FILENO) != 0
        for e in (trainer.epoch + 1)...epochs {
            let start = Date()
            let result = try trainer.trainEpoch { done, of, loss in
                guard interactive || done == of else { return }
                let elapsed = Date().timeIntervalSince(start)
                let width = 30, filled = width * done / of
                let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
                let rate = Double(done * batch) / max(elapsed, 1e-9)
                print(String(format: "\repoch %d/%d [%@] %d/%d  %.0f images/s  loss %.4f  ETA %@", e, epochs, bar, done, of, rate, loss,
                             formatDuration(elapsed / Double(done) * Double(of - done))), terminator: interactive ? "" : "\n")
                fflush(nil)
            }
            let accuracy = try trainer.evaluate(testSet)
            if interactive { print("") }
            print(String(format: "epoch %d/%d: train loss %.4f, train accuracy %.2f%%, test accuracy %.2f%%, %.0f images/s (%.1f s)", e, epochs,
                         result.loss, 100 * result.accuracy, 100 * accuracy, result.imagesPerSecond, result.seconds))
            fflush(nil)
            record.epochs.append(.init(epoch: e, train_loss: result.loss, train_accuracy: result.accuracy, test_accuracy: accuracy,
                                       images_per_s: result.imagesPerSecond, seconds: result.seconds,
                                       elapsed_s: (record.epochs.last?.elapsed_s ?? 0) + result.seconds))
            try trainer.save(output, metadata: ["data": dataOptions.data, "test_accuracy": String(accuracy)])
            if let log { try record.write(to: log) }
        }
        print("wrote \(output) (and \(output).optimizer.safetensors)")
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The test accuracy of a checkpoint on Fashion-MNIST, MNIST or CIFAR-10.")

    @Option(help: "The model: \(modelNames.joined(separator: ", ")).")
    var model: String

    @Option(help: "The checkpoint (.safetensors).")
    var weights: String

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Input size (default: the checkpoint's, else 32; AlexNet 64).")
    var size: Int?

    @OptionGroup var architectureOptions: ArchitectureOptions

    @Option(help: "Batch size.")
    var batch: Int = 100

    @Option(help: "Threads.")
    var threads: Int?

    @Option(help: "Also evaluate this int8 model of the checkpoint (from `mobilekernels quantize`): its accuracy and its top-1 agreement with the float network.")
    var int8: String?

    func run() throws {
        let kind = try modelKind(model)
        let file = try SafeTensorsFile(path: weights)
        guard !QuantizedModel.isQuantized(file) else {
            throw ValidationError("\(weights) is an int8 model: pass the float checkpoint as --weights and the int8 model as --int8")
        }
        let testSet = try dataOptions.load(.test)
        // The normalization training used (the checkpoint's metadata), else the training set's.
        let stats = try checkpointNormalization(file, channels: testSet.channels) ?? dataOptions.load(.train).statistics()
        let inputSize = size ?? file.metadata["size"].flatMap { Int($0) } ?? defaultSize(kind)
        let architecture = try architectureOptions.make(kind, numClasses: max(testSet.classes, 10), checkpoint: file)
        let network = try Network(architecture: architecture, weights: .safetensors(file))
        let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
        let transform = ImageTransform(size: inputSize, mean: stats.mean, std: stats.std)
        if let int8 {
            let quantized = try QuantizedNetwork(QuantizedModel(contentsOf: int8, architecture: architecture))
            let r = try Trainer.evaluate(quantized, float: network, data: testSet, transform: transform, batch: batch, threadPool: pool)
            print(String(format: "%@ on %@ (%d images, %dx%d): test accuracy float32 %.2f%%, int8 %.2f%% (%+.2f points); top-1 agreement %.2f%%",
                         model, testSet.name, testSet.count, inputSize, inputSize, 100 * r.floatAccuracy!, 100 * r.accuracy,
                         100 * (r.accuracy - r.floatAccuracy!), 100 * r.agreement!))
            return
        }
        let accuracy = try Trainer.evaluate(network, data: testSet, transform: transform, batch: batch, threadPool: pool)
        print(String(format: "%@ on %@ (%d images, %dx%d): test accuracy %.2f%%", model, testSet.name, testSet.count, inputSize, inputSize,
                     100 * accuracy))
    }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Post-training int8 quantization of a checkpoint: per-channel int8 weights (BatchNorm folded), activation ranges from calibration images.",
        discussion: """
            The calibration images are an .npy file (float32, normalized as for inference, [N, 3, H, W]) \
            or, without --calibration, the first --calibration-images training images of the data set \
            (normalized with the checkpoint's mean and std, at its size). The output is safetensors: \
            int8 weights under the float names, `<weight>_scale`, folded biases, `quantization.<node>`. \
            Run it with `infer --int8 --weights OUT` or `eval --weights CHECKPOINT --int8 OUT`.
            """)

    @Option(help: "The model: \(modelNames.joined(separator: ", ")).")
    var model: String

    @Option(help: "The float checkpoint (.safetensors).")
    var weights: String

    @Option(help: "Calibration images: float32 .npy, [N, 3, H, W] (or [N, H, W, 3] with --layout nhwc).")
    var calibration: String?

    @Option(help: "nchw (PyTorch's order) or nhwc, for --calibration.")
    var layout: String = "nchw"

    @Option(help: "Without --calibration: how many training images calibrate.")
    var calibrationImages: Int = 500

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Input size for the data set's images (default: the checkpoint's, else 32; AlexNet 64).")
    var size: Int?

    @Option(help: "Number of classes (default: the checkpoint's classifier).")
    var classes: Int?

    @OptionGroup var architectureOptions: ArchitectureOptions

    @Option(help: "Write the int8 model here (.safetensors).")
    var output: String

    @Option(help: "Threads.")
    var threads: Int?

    func run() throws {
        let kind = try modelKind(model)
        let file = try SafeTensorsFile(path: weights)
        guard !QuantizedModel.isQuantized(file) else { throw ValidationError("\(weights) is already an int8 model") }
        guard layout == "nchw" || layout == "nhwc" else { throw ValidationError("--layout is nchw or nhwc") }
        let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
        // The classifier's rows in the checkpoint give the class count.
        let numClasses = try classes ?? {
            let probe = try Architecture.make(kind)
            guard case let .linear(spec) = probe.nodes.last!.operation,
                  let info = file.tensors.first(where: { $0.name == spec.weightKey }), info.shape.count == 2 else { return 1000 }
            return info.shape[0]
        }()
        let architecture = try architectureOptions.make(kind, numClasses: numClasses, checkpoint: file)
        let images: Tensor
        var metadata = file.metadata
        if let calibration {
            let (shape, values) = try Npy.read(path: calibration)
            guard shape.count == 4 else { throw ValidationError("\(calibration): expected a 4-D array, got shape \(shape)") }
            let (n, c, h, w) = layout == "nchw" ? (shape[0], shape[1], shape[2], shape[3]) : (shape[0], shape[3], shape[1], shape[2])
            guard c == 3, n >= 1 else { throw ValidationError("\(calibration): expected [N >= 1] images of 3 channels, got shape \(shape) (\(layout))") }
            let tensorShape = try TensorShape(n: n, h: h, w: w, c: 3)
            images = layout == "nchw" ? try Tensor(shape: tensorShape, nchw: values) : try Tensor(shape: tensorShape, nhwc: values)
        } else {
            guard calibrationImages >= 1 else { throw ValidationError("--calibration-images must be at least 1") }
            let trainSet = try dataOptions.load(.train)
            let stats: (mean: [Float], std: [Float])
            if let recorded = checkpointNormalization(file, channels: trainSet.channels) {
                stats = recorded
            } else {
                stats = trainSet.statistics()
                metadata["mean"] = stats.mean.map { String($0) }.joined(separator: ",")
                metadata["std"] = stats.std.map { String($0) }.joined(separator: ",")
            }
            let inputSize = size ?? file.metadata["size"].flatMap { Int($0) } ?? defaultSize(kind)
            metadata["size"] = String(inputSize)
            let count = min(calibrationImages, trainSet.count)
            let loader = try BatchLoader(dataset: trainSet, batch: count, transform: ImageTransform(size: inputSize, mean: stats.mean, std: stats.std),
                                         shuffle: false, dropLast: true)
            struct FirstBatch: Error { let images: Tensor }
            do {
                try loader.forEachBatch(epoch: 0) { _, batch, _ in throw FirstBatch(images: batch) }
                throw ValidationError("no calibration images")
            } catch let first as FirstBatch {
                images = first.images
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let quantized = try QuantizedModel.calibrate(architecture: architecture, weights: .safetensors(file), images: images,
                                                     metadata: metadata, threadPool: pool)
        try quantized.save(to: output)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(String(format: "%@: int8 model of %@ calibrated on %d images of %dx%d in %.1f s, wrote %@", model, weights,
                     images.shape.n, images.shape.h, images.shape.w, seconds, output))
    }
}
