import MobileKernels
import NetworkOracle
import Testing

// SGD (mk_sgd_f32 over a TrainingPlan's parameters) against torch.optim.SGD's update written out
// step by step in Swift (the same float32 operations in the same order, so the same bits):
// momentum with dampening, Nesterov, weight decay skipping BatchNorm parameters and biases,
// the momentum buffer starting from the first gradient; 1 and 2 threads alike; bad options.

private struct Reference {
    var buffers: [String: [Float]] = [:]

    mutating func step(_ p: inout [Float], _ g: [Float], name: String, lr: Float, momentum: Float, dampening: Float,
                       weightDecay: Float, nesterov: Bool) {
        let first = buffers[name] == nil
        var buf = buffers[name] ?? [Float](repeating: 0, count: p.count)
        for i in p.indices {
            var d = g[i]
            if weightDecay != 0 {
                let decay = weightDecay * p[i]
                d = d + decay
            }
            if momentum > 0 {
                let b: Float
                if first {
                    b = d
                } else {
                    let kept = momentum * buf[i], added = (1 - dampening) * d
                    b = kept + added
                }
                buf[i] = b
                if nesterov {
                    let look = momentum * b
                    d = d + look
                } else {
                    d = b
                }
            }
            let stepSize = lr * d
            p[i] = p[i] - stepSize
        }
        buffers[name] = buf
    }
}

@Suite("SGD")
struct SGDTests {
    @Test("updates match torch.optim.SGD's formula bit for bit; 1 and 2 threads agree", arguments: [false, true])
    func matchesFormula(nesterov: Bool) throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.5, numClasses: 5)
        let (n, size) = (2, 32)
        let images = try Tensor(shape: TensorShape(n: n, h: size, w: size, c: 3), nhwc: pseudoRandom(n * size * size * 3, seed: 8))
        let options = SGD.Options(learningRate: 0.05, momentum: 0.9, dampening: nesterov ? 0 : 0.1, weightDecay: 5e-4,
                                  nesterov: nesterov)
        var results: [[String: [Float]]] = []
        for threads in [1, 2] {
            let pool = try ThreadPool(threads: threads)
            let plan = try TrainingPlan(architecture, weights: .random(seed: 3), batch: n, height: size, width: size)
            let sgd = try SGD(plan: plan, options: options)
            var reference = Reference()
            var want = Dictionary(uniqueKeysWithValues: plan.gradientNames.map { ($0, plan.parameter($0)!) })
            for step in 0..<3 {
                let r = try plan.step(images: images, labels: [step % 5, 4], threadPool: pool)
                sgd.learningRate = options.learningRate / Float(step + 1)
                try sgd.step(threadPool: pool)
                for name in plan.gradientNames {
                    reference.step(&want[name]!, r.gradients[name]!, name: name, lr: sgd.learningRate, momentum: 0.9,
                                   dampening: options.dampening, weightDecay: sgd.decays(name) ? 5e-4 : 0, nesterov: nesterov)
                }
                let differ = plan.gradientNames.filter { plan.parameter($0)! != want[$0]! }
                #expect(differ.isEmpty, "step \(step), \(threads) thread(s): \(differ.count) tensors differ, e.g. \(differ.prefix(3))")
            }
            // Biases and BatchNorm parameters are not decayed; convolution weights are.
            #expect(!sgd.decays("features.0.1.weight") && !sgd.decays("features.0.1.bias") && !sgd.decays("classifier.0.bias"))
            #expect(sgd.decays("features.0.0.weight") && sgd.decays("classifier.0.weight"))
            results.append(Dictionary(uniqueKeysWithValues: plan.gradientNames.map { ($0, plan.parameter($0)!) }))
        }
        #expect(results[0] == results[1], "2 threads differ from 1")
    }

    @Test("bad options throw")
    func badOptions() throws {
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.5, numClasses: 5)
        let plan = try TrainingPlan(architecture, weights: .random(seed: 3), batch: 2, height: 32, width: 32)
        for o in [SGD.Options(learningRate: -1), SGD.Options(learningRate: .infinity), SGD.Options(learningRate: 0.1, dampening: 2),
                  SGD.Options(learningRate: 0.1, nesterov: true), SGD.Options(learningRate: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true),
                  SGD.Options(learningRate: 0.1, weightDecay: -1)] {
            #expect(throws: MobileKernelsError.self, "\(o)") { _ = try SGD(plan: plan, options: o) }
        }
    }
}
