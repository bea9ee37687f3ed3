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

    func run() throws {
        let kind = try modelKind(model)
        let file = try SafeTensorsFile(path: weights)
        let testSet = try dataOptions.load(.test)
        // The normalization training used (the checkpoint's metadata), else the training set's.
        let mean = file.metadata["mean"].map { $0.split(separator: ",").compactMap { Float(String($0)) } }
        let std = file.metadata["std"].map { $0.split(separator: ",").compactMap { Float(String($0)) } }
        let stats: (mean: [Float], std: [Float])
        if let mean, let std, mean.count == testSet.channels, std.count == testSet.channels {
            stats = (mean, std)
        } else {
            stats = try dataOptions.load(.train).statistics()
        }
        let inputSize = size ?? file.metadata["size"].flatMap { Int($0) } ?? defaultSize(kind)
        let architecture = try architectureOptions.make(kind, numClasses: max(testSet.classes, 10), checkpoint: file)
        let network = try Network(architecture: architecture, weights: .safetensors(file))
        let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
        let accuracy = try Trainer.evaluate(network, data: testSet, transform: ImageTransform(size: inputSize, mean: stats.mean, std: stats.std),
                                            batch: batch, threadPool: pool)
        print(String(format: "%@ on %@ (%d images, %dx%d): test accuracy %.2f%%", model, testSet.name, testSet.count, inputSize, inputSize,
                     100 * accuracy))
    }
}
