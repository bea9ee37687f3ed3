internal import CKernels

/// Stochastic gradient descent over a `TrainingPlan`'s parameters, as `torch.optim.SGD` computes
/// it (`mk_sgd_f32`: momentum, dampening, weight decay, Nesterov), then the plan's layers
/// repacked. Weight decay skips BatchNorm parameters and biases unless `decayNormAndBias` (the
/// usual recipe; PyTorch's SGD decays every tensor it is given). Every buffer is planned: a step
/// allocates nothing, and its bits do not depend on the thread count.
public final class SGD: @unchecked Sendable {
    public struct Options: Sendable, Equatable {
        public var learningRate: Float
        public var momentum: Float
        public var dampening: Float
        public var weightDecay: Float
        public var nesterov: Bool
        /// Whether BatchNorm weights and biases and every bias are decayed too.
        public var decayNormAndBias: Bool

        public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
                    nesterov: Bool = false, decayNormAndBias: Bool = false) {
            (self.learningRate, self.momentum, self.dampening, self.weightDecay) = (learningRate, momentum, dampening, weightDecay)
            (self.nesterov, self.decayNormAndBias) = (nesterov, decayNormAndBias)
        }
    }

    public let plan: TrainingPlan
    public let options: Options
    /// The learning rate of the next step (a schedule sets it; `options.learningRate` at first).
    public var learningRate: Float
    /// Steps taken (the momentum buffers start from the first step's gradients).
    public private(set) var steps = 0
    private let tensors: [(range: Range<Int>, decay: Bool)]
    private let momentumBuffer: UnsafeMutableBufferPointer<Float>

    /// - Throws: `.invalidArgument` for hyperparameters `mk_sgd_f32` rejects (negative or
    ///   non-finite ones, dampening outside [0, 1], Nesterov without momentum or with dampening).
    public init(plan: TrainingPlan, options: Options) throws {
        let o = options
        guard o.learningRate >= 0, o.momentum >= 0, o.weightDecay >= 0, o.learningRate.isFinite, o.momentum.isFinite,
              o.weightDecay.isFinite, (0...1).contains(o.dampening), !o.nesterov || (o.momentum > 0 && o.dampening == 0) else {
            throw MobileKernelsError(.invalidArgument, "SGD: learning rate, momentum and weight decay must be finite and >= 0, dampening in [0, 1], and Nesterov needs momentum > 0 and no dampening (\(o))")
        }
        self.plan = plan
        self.options = options
        learningRate = options.learningRate
        var normKeys = Set<String>()
        for node in plan.architecture.nodes {
            if case let .conv(c) = node.operation, let bn = c.batchNorm { normKeys.formUnion([bn.weightKey, bn.biasKey]) }
        }
        tensors = plan.gradientNames.map { name in
            (plan.parameterRange(name)!, options.decayNormAndBias || !(normKeys.contains(name) || name.hasSuffix(".bias")))
        }
        let total = tensors.last.map(\.range.upperBound) ?? 0
        momentumBuffer = .allocate(capacity: max(total, 1))
        momentumBuffer.initialize(repeating: 0)
    }

    deinit { momentumBuffer.deallocate() }

    /// Whether parameter `name` is weight-decayed.
    public func decays(_ name: String) -> Bool {
        guard let range = plan.parameterRange(name) else { return false }
        return tensors.first { $0.range == range }?.decay ?? false
    }

    /// Updates every parameter from the gradients of the plan's last `run` or `step`, then
    /// repacks the plan's layers.
    public func step(threadPool: ThreadPool = .shared) throws {
        let first = steps == 0
        var status = MK_STATUS_OK
        plan.withParameters { parameters, gradients in
            for t in tensors where status == MK_STATUS_OK {
                var h = mk_sgd_params(learning_rate: learningRate, momentum: options.momentum, dampening: options.dampening,
                                      weight_decay: t.decay ? options.weightDecay : 0, nesterov: options.nesterov)
                status = mk_sgd_f32(t.range.count, parameters.baseAddress! + t.range.lowerBound,
                                    gradients.baseAddress! + t.range.lowerBound, momentumBuffer.baseAddress! + t.range.lowerBound,
                                    &h, first, threadPool.handle)
            }
        }
        try check(status, "SGD step \(steps + 1) (learning rate \(learningRate))")
        try plan.repackParameters(threadPool: threadPool)
        steps += 1
    }

    /// Continues from a saved state: the momentum of every parameter (the plan's names and
    /// counts, as `Trainer.save` writes them) and the steps taken.
    /// - Throws: `.invalidArgument` for a missing or misshaped tensor, or negative steps.
    public func restore(momentum: (String) throws -> [Float]?, steps: Int) throws {
        guard steps >= 0 else { throw MobileKernelsError(.invalidArgument, "SGD.restore: steps \(steps)") }
        // Every tensor checked before any is copied: an error leaves the optimizer as it was.
        let all = try plan.gradientNames.map { name -> [Float] in
            let range = plan.parameterRange(name)!
            guard let values = try momentum(name), values.count == range.count, values.allSatisfy(\.isFinite) else {
                throw MobileKernelsError(.invalidArgument, "SGD.restore: the momentum of \(name) is missing, not \(range.count) values, or not finite")
            }
            return values
        }
        for (name, values) in zip(plan.gradientNames, all) {
            _ = UnsafeMutableBufferPointer(rebasing: momentumBuffer[plan.parameterRange(name)!]).update(fromContentsOf: values)
        }
        self.steps = steps
    }

    /// The momentum buffers (the parameters' layout), e.g. to save beside a checkpoint.
    public func withMomentum<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(momentumBuffer)
    }
}
