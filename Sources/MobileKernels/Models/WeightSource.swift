import Foundation

/// Where a network's parameters come from: a PyTorch `state_dict` by torchvision's names
/// (`specs/<model>.json`), as a safetensors file, a dictionary, or random values for benchmarks.
public struct WeightSource: Sendable {
    /// The tensor named `name` as (shape, values), or nil when the source has no such tensor.
    let lookup: @Sendable (String) throws -> (shape: [Int], values: [Float])?
    /// Every tensor name the source has (for reporting extra tensors), or nil when it cannot list
    /// them (random weights).
    let names: [String]?

    /// Tensors by name, e.g. from your own loader: `[name: (shape, values)]`.
    public static func tensors(_ tensors: [String: (shape: [Int], values: [Float])]) -> WeightSource {
        WeightSource(lookup: { tensors[$0] }, names: Array(tensors.keys))
    }

    /// A safetensors file written by `safetensors.torch.save_file(model.state_dict(), path)`
    /// (F32, F16 or BF16; memory-mapped, converted to Float as each tensor is loaded). Integer
    /// tensors (num_batches_tracked is I64) load as floats when every value is exact in Float;
    /// one that is not (an odd number above 2^24, say) throws `.invalidFile`.
    ///
    /// A `Network` packs each F32 tensor straight from the mapping where it can (a large Linear
    /// layer slice by slice) and gives the pages it read back to the system as it goes, so the
    /// weights are resident once; it keeps nothing of the file.
    public static func safetensors(_ file: SafeTensorsFile) -> WeightSource {
        WeightSource(lookup: { name in
            defer { file.releasePages(name) }  // copied: the mapping's pages are not needed
            guard let info = file.info(name) else { return nil }
            switch info.dtype {
            case "I64", "I32", "I16", "I8", "U8":
                let values = try file.integers(name)
                if let big = values.first(where: { Int64(exactly: Float($0)) != $0 }) {
                    throw MobileKernelsError(.invalidFile, "weights: integer tensor \(name) holds \(big), not exact as a float")
                }
                return (info.shape, values.map { Float($0) })
            default:
                return (info.shape, try file.floats(name))
            }
        }, names: file.tensors.map(\.name), borrow: { name in
            guard let info = file.info(name), let values = try file.borrowedFloats(name) else { return nil }
            return BorrowedTensor(shape: info.shape, values: values, owner: file)
        }, release: { file.releasePages($0, elements: $1) })
    }

    /// The safetensors file at `path`.
    public static func safetensors(path: String) throws -> WeightSource {
        .safetensors(try SafeTensorsFile(path: path))
    }

    /// Deterministic pseudo-random parameters for benchmarks and tests: convolution and linear
    /// weights uniform in +-sqrt(3 / fan_in) (unit variance through the layer), biases small,
    /// BatchNorm scale near 1, shift near 0, running mean near 0 and variance near 1.
    public static func random(seed: UInt64 = 1) -> WeightSource {
        WeightSource(lookup: { _ in nil }, names: nil, randomSeed: seed)
    }

    /// The initial weights of training from scratch, as torchvision initializes MobileNetV2/V3
    /// and VGG: convolution weights normal with standard deviation sqrt(2 / fan_out) (Kaiming,
    /// fan_out = output channels x kernel area), linear weights N(0, 0.01), biases 0, BatchNorm
    /// scale 1 and shift 0, running mean 0 and variance 1. Deterministic in `seed` and each
    /// tensor's name. `Benchmarks/training/torch_train.py` initializes PyTorch's models the same way.
    ///
    /// `zeroResidualBranches: true` also sets to 0 the BatchNorm scale that ends each residual
    /// branch (the branch of every `.add` node: ShuffleNetV1's stride-1 `bn3`, the MobileNets'
    /// projection BatchNorm), so each residual unit starts as the identity, as torchvision's
    /// ResNet does with `zero_init_residual=True` (Goyal et al. 2017). `nil`, the default, is
    /// `true` for ShuffleNetV1, whose sum is followed by a ReLU and grows unit by unit without it
    /// (its first 50 steps at lr 0.05 average a loss of 14.5 in PyTorch, 1.2 with it), and
    /// `false` for the torchvision models, as torchvision initializes them.
    public static func initialization(seed: UInt64 = 0, zeroResidualBranches: Bool? = nil) -> WeightSource {
        WeightSource(lookup: { _ in nil }, names: nil, randomSeed: seed, training: true, zeroResidualBranches: zeroResidualBranches)
    }

    init(lookup: @escaping @Sendable (String) throws -> (shape: [Int], values: [Float])?, names: [String]?,
         borrow: (@Sendable (String) throws -> BorrowedTensor?)? = nil,
         release: (@Sendable (String, Range<Int>?) -> Void)? = nil,
         randomSeed: UInt64? = nil, training: Bool = false, zeroResidualBranches: Bool? = nil) {
        self.lookup = lookup
        self.names = names
        self.borrow = borrow
        self.release = release
        self.randomSeed = randomSeed
        self.trainingInitialization = training
        self.zeroResidualBranches = zeroResidualBranches
    }

    /// The tensor's F32 values in place in the source's storage (a mapped file), or nil.
    private let borrow: (@Sendable (String) throws -> BorrowedTensor?)?
    /// Gives back the source's resident copy of a tensor's elements (nil: all) once packed elsewhere.
    private let release: (@Sendable (String, Range<Int>?) -> Void)?
    let randomSeed: UInt64?
    let trainingInitialization: Bool
    let zeroResidualBranches: Bool?

    /// The tensor `name` of `shape`: from the source, checked, or generated.
    func tensor(_ name: String, shape: [Int], role: ParameterRole) throws -> [Float] {
        let count = shape.reduce(1, *)
        if let seed = randomSeed, trainingInitialization {
            return initialValues(count, seed: seed ^ UInt64(truncatingIfNeeded: name.hashValueStable), role: role, shape: shape)
        }
        if let seed = randomSeed {
            return randomValues(count, seed: seed ^ UInt64(truncatingIfNeeded: name.hashValueStable), role: role, fanIn: shape.dropFirst().reduce(1, *))
        }
        guard let found = try lookup(name) else {
            throw MobileKernelsError(.invalidArgument, "weights: tensor \(name) \(shape) is missing")
        }
        guard found.shape == shape, found.values.count == count else {
            throw MobileKernelsError(.shapeMismatch, "weights: tensor \(name) has shape \(found.shape), expected \(shape)")
        }
        return found.values
    }

    /// Tensor `name`'s values in place, without a copy, when the source can lend them (the F32
    /// tensors of a mapped safetensors file), checked against `shape`; nil otherwise (`tensor`
    /// then gives a copy).
    func borrowed(_ name: String, shape: [Int]) throws -> BorrowedTensor? {
        guard randomSeed == nil, let borrow, let found = try borrow(name) else { return nil }
        guard found.shape == shape, found.values.count == shape.reduce(1, *) else {
            throw MobileKernelsError(.shapeMismatch, "weights: tensor \(name) has shape \(found.shape), expected \(shape)")
        }
        return found
    }

    /// Tells the source that tensor `name`'s values (or `elements` of them) were packed and will
    /// not be read again (a mapped file gives their pages back).
    func released(_ name: String, elements: Range<Int>? = nil) { release?(name, elements) }

    private func randomValues(_ count: Int, seed: UInt64, role: ParameterRole, fanIn: Int) -> [Float] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        func next() -> Float {  // [-1, 1)
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        switch role {
        case .weight: let scale = (3 / Float(max(fanIn, 1))).squareRoot(); return (0..<count).map { _ in next() * scale }
        case .bias: return (0..<count).map { _ in next() * 0.1 }
        case .bnScale, .zero: return (0..<count).map { _ in 1 + next() * 0.2 }
        case .bnShift: return (0..<count).map { _ in next() * 0.1 }
        case .bnMean: return (0..<count).map { _ in next() * 0.1 }
        case .bnVariance: return (0..<count).map { _ in 1 + next() * 0.2 }
        }
    }
}

extension WeightSource {
    /// `initialization`'s values: Kaiming normal (fan_out) for 4-D weights, N(0, 0.01) for
    /// linear ones (Box-Muller on the same generator as `randomValues`).
    fileprivate func initialValues(_ count: Int, seed: UInt64, role: ParameterRole, shape: [Int]) -> [Float] {
        switch role {
        case .bias, .bnShift, .bnMean, .zero: return [Float](repeating: 0, count: count)
        case .bnScale, .bnVariance: return [Float](repeating: 1, count: count)
        case .weight:
            var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            func uniform() -> Double {  // (0, 1]
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Double(state >> 11) + 1) / 9_007_199_254_740_992
            }
            let fanOut = shape.count == 4 ? shape[0] * shape[2] * shape[3] : 0
            let std = fanOut > 0 ? (2 / Double(fanOut)).squareRoot() : 0.01
            var values = [Float](repeating: 0, count: count)
            var i = 0
            while i < count {
                let r = (-2 * Foundation.log(uniform())).squareRoot(), theta = 2 * Double.pi * uniform()
                values[i] = Float(r * Foundation.cos(theta) * std)
                if i + 1 < count { values[i + 1] = Float(r * Foundation.sin(theta) * std) }
                i += 2
            }
            return values
        }
    }
}

/// A tensor's F32 values where its source keeps them (a mapped file), valid while `owner` lives
/// (the network packs them while it is made, and keeps nothing).
struct BorrowedTensor: @unchecked Sendable {
    let shape: [Int]
    let values: UnsafeBufferPointer<Float>
    let owner: AnyObject
}

/// `.zero`: a BatchNorm scale that training's initialization sets to 0 (the end of a residual
/// branch with `zeroResidualBranches`); elsewhere a `.bnScale`.
enum ParameterRole { case weight, bias, bnScale, bnShift, bnMean, bnVariance, zero }

extension WeightSource {
    /// A training initialization as the tensors `parameters(of:)` gives for `architecture` (its
    /// values depend on the architecture: the zeroed residual scales), so that a `Network` built
    /// from it has the training plan's weights; any other source as it is.
    func materialized(for architecture: Architecture) throws -> WeightSource {
        guard randomSeed != nil, trainingInitialization else { return self }
        let values = try parameters(of: architecture)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, shape) in architecture.parameters() { tensors[name] = (shape, values[name] ?? []) }
        return .tensors(tensors)
    }
}

extension ModelKind {
    /// `WeightSource.initialization`'s default for `zeroResidualBranches`: ShuffleNetV1 only.
    public var zeroesResidualBranches: Bool {
        if case .shuffleNetV1 = self { return true }
        return false
    }
}

extension Architecture {
    /// The BatchNorm weight keys that end a residual branch: for each `.add` node, the input that
    /// descends from the other input (the branch, not the skip), when it is a convolution with a
    /// BatchNorm.
    public func residualBranchBatchNorms() -> Set<String> {
        var ancestors: [Set<Int>] = []
        ancestors.reserveCapacity(nodes.count)
        for node in nodes {  // topological order: inputs come first
            var set: Set<Int> = []
            for i in node.inputs { set.insert(i); set.formUnion(ancestors[i]) }
            ancestors.append(set)
        }
        var keys: Set<String> = []
        for node in nodes {
            guard case .add = node.operation, node.inputs.count == 2 else { continue }
            for (branch, skip) in [(node.inputs[1], node.inputs[0]), (node.inputs[0], node.inputs[1])]
            where ancestors[branch].contains(skip) {
                if case let .conv(c) = nodes[branch].operation, let bn = c.batchNorm { keys.insert(bn.weightKey) }
            }
        }
        return keys
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs (Swift's hashValue is seeded per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

extension WeightSource {
    /// Every parameter of `architecture` by name, checked against the spec (random sources
    /// generate them): what the naive reference network and tools need.
    public func parameters(of architecture: Architecture) throws -> [String: [Float]] {
        try Network.checkNames(architecture, self)
        var roles: [String: ParameterRole] = [:]
        let zeroResidual = trainingInitialization && (zeroResidualBranches ?? architecture.kind.zeroesResidualBranches)
        let residualEnds = zeroResidual ? architecture.residualBranchBatchNorms() : []
        for node in architecture.nodes {
            switch node.operation {
            case let .conv(c):
                roles[c.weightKey] = .weight
                if let b = c.biasKey { roles[b] = .bias }
                if let bn = c.batchNorm {
                    roles[bn.weightKey] = residualEnds.contains(bn.weightKey) ? .zero : .bnScale
                    roles[bn.biasKey] = .bnShift
                    roles[bn.runningMeanKey] = .bnMean
                    roles[bn.runningVarKey] = .bnVariance
                }
            case let .linear(l):
                roles[l.weightKey] = .weight
                if let b = l.biasKey { roles[b] = .bias }
            case let .squeezeExcitation(se):
                roles[se.fc1WeightKey] = .weight
                roles[se.fc2WeightKey] = .weight
                roles[se.fc1BiasKey] = .bias
                roles[se.fc2BiasKey] = .bias
            default:
                break
            }
        }
        var result: [String: [Float]] = [:]
        for (name, shape) in architecture.parameters() {
            result[name] = try tensor(name, shape: shape, role: roles[name] ?? .weight)
        }
        return result
    }
}

