import ArgumentParser
import CAllocCount
import Foundation
import MobileKernels

/// `benchmarks allocations`: the heap allocations of one planned step after a first one (the
/// brief: hot paths do not allocate), counted by this executable's malloc wrapper on the calling
/// thread (where every Swift part of a step runs; the C kernels take their workspaces from the
/// plan): `TrainingPlan.run` with dropout on and the running statistics' update, `TrainingPlan.repackParameters`, `SGD.step` (the
/// update and the repack) and `InferencePlan.predict`, every specified model,
/// 1 and 2 threads. Exits 1 when any count is not 0.
struct Allocations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Heap allocations of one training step (TrainingPlan.run) and one inference (InferencePlan.predict) per model after a first one (and QuantizedInferencePlan.predict for the models with an int8 form); exits 1 unless all are 0.")

    @Option(help: "Training batch.")
    var batch = 2

    @Option(help: "Comma-separated thread counts.")
    var threads: String = "1,2"

    func run() throws {
        try requireRelease()
        guard mk_alloc_counting() else {
            print("allocations: this build cannot count allocations (AddressSanitizer or a C library other than glibc)")
            return
        }
        // The counter itself: an array of a size the optimizer cannot know must count.
        mk_alloc_count(true)
        let probe = [Int](repeating: 1, count: CommandLine.arguments.count + 100)
        mk_alloc_count(false)
        guard mk_alloc_counted() >= 1, probe.count > 100 else {
            print("allocations: the malloc wrapper counted nothing for a new array: it is not in effect")
            throw ExitCode(1)
        }
        let counts = threads.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
        let pools = try counts.map { try ThreadPool(threads: $0) }
        var failures = 0
        print("model                 step                                      threads  allocations")
        for kind in ModelKind.specified {
            let architecture = try Architecture.make(kind, numClasses: 10)
            let weights = WeightSource.random(seed: 3)
            // Training: the image size the training issue uses (AlexNet needs 63).
            let size = kind == .alexnet ? 64 : 32
            let plan = try TrainingPlan(architecture, weights: weights, batch: batch, height: size, width: size)
            let images = try Tensor(shape: TensorShape(n: batch, h: size, w: size, c: 3),
                                    nhwc: (0..<(batch * size * size * 3)).map { Float(($0 * 7919) % 255) / 255 - 0.5 })
            let labels = (0..<batch).map { $0 % 10 }
            // Inference at 224x224, batch 1.
            let network = try Network(architecture: architecture, weights: weights)
            let inference = try network.plan()
            let input = try Tensor(shape: inference.inputShape, repeating: 0.25)
            var output = try Tensor(shape: inference.outputShape)
            // int8 inference (the models with an int8 form), calibrated on the input.
            let int8 = try QuantizedModel.unsupportedReason(architecture) == nil
                ? QuantizedNetwork(QuantizedModel.calibrate(architecture: architecture, weights: weights, images: input)).plan() : nil
            for pool in pools {
                _ = try plan.run(images: images, labels: labels, dropoutSeed: 1, threadPool: pool)
                try plan.updateRunningStatistics()
                mk_alloc_count(true)
                _ = try plan.run(images: images, labels: labels, dropoutSeed: 2, threadPool: pool)
                try plan.updateRunningStatistics()
                mk_alloc_count(false)
                let train = mk_alloc_counted()
                try plan.repackParameters(threadPool: pool)
                mk_alloc_count(true)
                try plan.repackParameters(threadPool: pool)
                mk_alloc_count(false)
                let repack = mk_alloc_counted()
                let sgd = try SGD(plan: plan, options: SGD.Options(learningRate: 1e-3, momentum: 0.9, weightDecay: 5e-4, nesterov: true))
                try sgd.step(threadPool: pool)
                mk_alloc_count(true)
                try sgd.step(threadPool: pool)
                mk_alloc_count(false)
                let update = mk_alloc_counted()
                try inference.predict(input, into: &output, threadPool: pool)
                mk_alloc_count(true)
                try inference.predict(input, into: &output, threadPool: pool)
                mk_alloc_count(false)
                let infer = mk_alloc_counted()
                var steps: [(String, Int)] = []
                if let int8 {
                    try int8.predict(input, into: &output, threadPool: pool)
                    mk_alloc_count(true)
                    try int8.predict(input, into: &output, threadPool: pool)
                    mk_alloc_count(false)
                    steps.append(("QuantizedInferencePlan.predict 1x224x224", mk_alloc_counted()))
                }
                for (what, count) in steps + [("TrainingPlan.run + running stats \(batch)x\(size)", train), ("TrainingPlan.repackParameters", repack),
                                      ("SGD.step (Nesterov, decay)", update),
                                      ("InferencePlan.predict 1x224x224", infer)] {
                    print("\(kind.specName.padding(toLength: 22, withPad: " ", startingAt: 0))\(what.padding(toLength: 42, withPad: " ", startingAt: 0))\(String(pool.threadCount).padding(toLength: 9, withPad: " ", startingAt: 0))\(count)")
                    if count != 0 { failures += 1 }
                }
            }
        }
        if failures > 0 {
            print("allocations: \(failures) step(s) allocate (MK_ALLOC_TRACE=N prints the first N call stacks)")
            throw ExitCode(1)
        }
        print("allocations: none")
    }
}
