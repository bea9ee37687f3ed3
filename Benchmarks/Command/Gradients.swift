import ArgumentParser
import Foundation
import MobileKernels
import NetworkOracle
import ReferenceKernels

/// `benchmarks gradients`: a whole network's gradients on our kernels (`TrainingPlan.step`)
/// against the naive float32 training oracle (`referenceTrainingStep`), as the test suite's
/// TrainingPlanTests do for the MobileNets and ShuffleNet, for the models too large for a debug
/// test build: VGG16 and AlexNet by default. Every parameter's gradient within 1e-3 of the
/// oracle's (max |ours - ref| / max |ref| per tensor), the loss within 1e-5, the same names, and
/// 1 and 2 threads bit for bit. Random weights with the classifier scaled by 1e-3 (logits of
/// order 1). Exits 1 on any miss.
struct Gradients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Whole-network gradients on our kernels against the naive Swift training oracle (default: VGG16 at 32x32 and AlexNet at 64x64, batch 2); exits 1 on a miss.")

    @Option(help: "Comma-separated models (spec names).")
    var models: String = "vgg16,alexnet"

    @Option(help: "Batch.")
    var batch = 2

    @Option(help: "Weight seed.")
    var seed: UInt64 = 11

    func run() throws {
        try requireRelease()
        var failures = 0
        let two = try ThreadPool(threads: 2)
        for name in models.split(separator: ",").map(String.init) {
            guard let kind = ModelKind(specName: name) else { throw ValidationError("unknown model \(name)") }
            let size = kind == .alexnet ? 64 : 32
            let architecture = try Architecture.make(kind, numClasses: 10)
            var parameters = try WeightSource.random(seed: seed).parameters(of: architecture)
            if case let .linear(classifier) = architecture.nodes.last!.operation {
                parameters[classifier.weightKey] = parameters[classifier.weightKey]!.map { $0 * 1e-3 }
            }
            let source = WeightSource.tensors(Dictionary(uniqueKeysWithValues: architecture.parameters().map {
                ($0.name, (shape: $0.shape, values: parameters[$0.name]!))
            }))
            let images = pseudoRandom(batch * size * size * 3, seed: seed &+ 10)
            let labels = (0..<batch).map { ($0 * 3 + 1) % 10 }
            let start = Date()
            let want = referenceTrainingStep(architecture, parameters: try source.parameters(of: architecture),
                                             input: RefTensorOf(n: batch, h: size, w: size, c: 3, data: images), labels: labels)
            let oracleSeconds = Date().timeIntervalSince(start)
            let plan = try TrainingPlan(architecture, weights: source, batch: batch, height: size, width: size)
            let input = try Tensor(shape: TensorShape(n: batch, h: size, w: size, c: 3), nhwc: images)
            let one = try plan.step(images: input, labels: labels, threadPool: .serial)
            let twoThreads = try plan.step(images: input, labels: labels, threadPool: two)
            var worst = (name: "-", error: Float(0))
            var problems: [String] = []
            if Set(one.gradients.keys) != Set(want.gradients.keys) { problems.append("gradient names differ") }
            for (key, ref) in want.gradients {
                guard let got = one.gradients[key], got.count == ref.count else { continue }
                let scale = ref.map(abs).max() ?? 0
                let diff = zip(got, ref).map { abs($0 - $1) }.max() ?? 0
                let error = scale > 1e-6 ? diff / scale : diff
                if error > worst.error { worst = (key, error) }
            }
            let lossError = abs(one.loss - want.loss) / max(abs(want.loss), .leastNormalMagnitude)
            if worst.error > 1e-3 { problems.append("\(worst.name) off by \(worst.error)") }
            if lossError > 1e-5 { problems.append("loss \(one.loss) vs \(want.loss)") }
            if one.gradients != twoThreads.gradients || one.loss != twoThreads.loss { problems.append("2 threads differ from 1") }
            print("\(name) \(size)x\(size) batch \(batch): loss \(one.loss) (oracle \(want.loss), rel. \(String(format: "%.1e", lossError))), "
                  + "worst tensor \(worst.name) \(String(format: "%.1e", worst.error)), \(one.gradients.count) tensors, "
                  + "1 = 2 threads: \(one.gradients == twoThreads.gradients); oracle \(String(format: "%.1f", oracleSeconds)) s"
                  + (problems.isEmpty ? "" : "  FAILED: " + problems.joined(separator: "; ")))
            failures += problems.isEmpty ? 0 : 1
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
