import ArgumentParser
import BenchmarkHarness
import Foundation
import MobileKernels
import NetworkOracle
import ReferenceKernels

/// `benchmarks train`: one SGD step (the training-mode forward with dropout, the loss, the
/// backward, the running statistics, the SGD update and the repack) per model, at a training
/// batch of 32x32 images (AlexNet 64x64), on 1 and 2 threads: rows `family: "train"` with the
/// model, threads, `params.n` (batch), `params.h` (size), the step's median (and of it the SGD
/// update with the repack, `update_ms`) and images/s; `--stem-stride 1` times the small-image
/// variant of the MobileNets and ShuffleNetV1 (VGG16 and AlexNet have none: their published
/// form is timed, and the rows say `stem_stride` 2); `--no-stem-pool` also drops ShuffleNetV1's
/// max pool after the first convolution (its CIFAR form; rows `stem_pool` false); with
/// `--reference`, the naive Swift training oracle's step once per model (one thread; minutes
/// for VGG16 at batch 128) and the speedup over it.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "One SGD step per model (forward, loss, backward, update) at batch 128 of 32x32 (AlexNet 64x64) images, 1 and 2 threads: median ms and images/s.")

    @Option(help: "Comma-separated models (spec names); default all seven.")
    var models: String = ModelKind.specified.map(\.specName).joined(separator: ",")

    @Option(help: "Batch.")
    var batch = 128

    @Option(help: "Comma-separated thread counts.")
    var threads: String = "1,2"

    @Option(help: "Seconds of steps per measurement (at least 3 steps).")
    var minTime: Double = 3

    @Option(help: "The first convolution's stride: 2 as published, 1 for the small-image variant of the MobileNets and ShuffleNetV1 (VGG16 and AlexNet keep 2).")
    var stemStride = 2

    @Flag(help: "ShuffleNetV1 without the max pool after the first convolution (with --stem-stride 1 its CIFAR form; the other models have none).")
    var noStemPool = false

    @Flag(help: "Also time the naive Swift training oracle's step (once, one thread).")
    var reference = false

    @Flag(help: "Batch 4, one timed step, MobileNetV3-Small and ShuffleNetV1 only (unless --models): checks the command runs.")
    var quick = false

    @Option(help: "Write the rows as JSON here.")
    var json: String?

    func run() throws {
        try requireRelease()
        let counts = threads.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
        let n = quick ? 4 : batch
        guard n >= 2 else { throw ValidationError("--batch must be at least 2 (BatchNorm needs two values per channel)") }
        guard stemStride == 1 || stemStride == 2 else { throw ValidationError("--stem-stride is 1 or 2") }
        var rows: [[String: Any]] = []
        print("model                threads  batch  size   step ms (median)  of it update   images/s   vs naive")
        let chosen = quick && models == ModelKind.specified.map(\.specName).joined(separator: ",")
            ? ["mobilenet_v3_small", "shufflenet_v1_g3"] : models.split(separator: ",").map(String.init)
        for name in chosen {
            guard let kind = ModelKind(specName: name) else { throw ValidationError("unknown model \(name)") }
            let size = kind == .alexnet ? 64 : 32
            let stem = kind.hasSmallImageVariant ? stemStride : 2
            let architecture = try Architecture.make(kind, numClasses: 10, stemStride: stem, stemPool: !(noStemPool && kind.hasStemPool))
            let images = try Tensor(shape: TensorShape(n: n, h: size, w: size, c: 3), nhwc: pseudoRandom(n * size * size * 3, seed: 3))
            let labels = (0..<n).map { $0 % 10 }
            var referenceMs: Double?
            if reference {
                let parameters = try WeightSource.random(seed: 1).parameters(of: architecture)
                let start = DispatchTime.now().uptimeNanoseconds
                _ = referenceTrainingStep(architecture, parameters: parameters,
                                          input: RefTensorOf(n: n, h: size, w: size, c: 3, data: images.toArray()), labels: labels)
                referenceMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            }
            for t in counts {
                let pool = try ThreadPool(threads: t)
                let plan = try TrainingPlan(architecture, weights: .random(seed: 1), batch: n, height: size, width: size)
                let sgd = try SGD(plan: plan, options: .init(learningRate: 1e-4, momentum: 0.9, weightDecay: 5e-4))
                var step = 0
                var updates: [Double] = []
                func once() throws {
                    _ = try plan.run(images: images, labels: labels, dropoutSeed: UInt64(step), threadPool: pool)
                    try plan.updateRunningStatistics()
                    let start = DispatchTime.now().uptimeNanoseconds
                    try sgd.step(threadPool: pool)
                    updates.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                    step += 1
                }
                try once()  // warm-up: first-touch of the planned buffers
                updates.removeAll()
                var times: [Double] = []
                let begin = DispatchTime.now().uptimeNanoseconds
                repeat {
                    let start = DispatchTime.now().uptimeNanoseconds
                    try once()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                } while !quick && (times.count < 3 || Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9 < minTime)
                let median = times.sorted()[times.count / 2], update = updates.sorted()[updates.count / 2]
                let perSecond = Double(n) / (median / 1000)
                let speedup = referenceMs.map { $0 / median }
                print(name.padding(toLength: 21, withPad: " ", startingAt: 0) + String(format: "%7d  %5d  %4d  %17.2f  %11.2f  %9.0f   %@", t, n, size,
                                                                                          median, update, perSecond,
                                                                                          speedup.map { String(format: "%.0fx", $0) } ?? "-"))
                rows.append(["family": "train", "model": name, "threads": t, "params": ["n": n, "h": size, "w": size, "stem_stride": stem, "stem_pool": architecture.stemPool],
                             "median_ms": median, "min_ms": times.min()!, "update_ms": update, "steps": times.count, "images_per_s": perSecond,
                             "reference_ms": referenceMs ?? NSNull(), "speedup_vs_reference": speedup ?? NSNull()])
            }
        }
        if let json {
            let machine = MachineInfo(peak: nil)
            let m: [String: Any] = ["cpu": machine.cpu, "isa": machine.isa, "cores": machine.cores, "swift": machine.swift]
            let data = try JSONSerialization.data(withJSONObject: ["machine": m, "rows": rows], options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }
}
