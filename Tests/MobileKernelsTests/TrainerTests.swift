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
        for t in state { #expect(try file.floats(t.name) == t.values && file.info(t.name)!.shape == t.shape, "\(t.name)") }
        #expect(file.metadata["size"] == "32" && file.metadata["data"] == "halves" && file.metadata["epoch"] == "1")
        let mean = file.metadata["mean"]!.split(separator: ",").map { Float(String($0))! }
        #expect(mean == trainer.loader.transform.mean)
        let momentum = try SafeTensorsFile(path: path + ".optimizer.safetensors")
        #expect(momentum.tensors.count == trainer.plan.gradientNames.count && momentum.metadata["steps"] == "2")
        let network = try Network(architecture: architecture, weights: .safetensors(file))
        let accuracy = try Trainer.evaluate(network, data: test, transform: trainer.loader.transform.evaluation, batch: 20)
        #expect(accuracy == (try trainer.evaluate(test, batch: 20)))
    }
}
