/// Which nodes of an architecture run fused with another: decided here and nowhere else. The
/// structural fusions are fixed when a `Network` is compiled (they change the layers it
/// creates); which expansions run in bands with their depthwise convolution depends on the input
/// size and is chosen per plan (`bands`).
///
/// - A convolution (not depthwise, no activation of its own) whose only consumer is a residual
///   add, and whose other input comes earlier, adds that input in its store and takes the add's
///   activation: the add runs no step.
/// - The inputs of a channel concat that only the concat reads write straight into their channel
///   slice of its output: a convolution (not depthwise; no activation, or the concat's) takes the
///   concat's activation, an average pool is given it; other inputs are copied into their slice.
/// - The convolution before a channel shuffle with its own group count (at most 32, not
///   depthwise), read by nothing else, writes its output in shuffled order: the shuffle runs no
///   step.
struct Fusion {
    /// For a node fused into its consumer: that consumer's id (an add or a concat) or, for a
    /// convolution that writes shuffled output, the shuffle node's id.
    let fusedInto: [Int?]
    /// Convolution id -> its activation after fusion (the add's or the concat's).
    let finalActivation: [Int: Activation]
    /// Convolution id -> the node whose output it adds in its store (residual fusion).
    let residualOf: [Int: Int]
    /// Convolutions that write their output in channel-shuffled order.
    let shuffled: Set<Int>
    /// The readers of each node.
    let consumers: [[Int]]

    /// `shuffles`: whether convolutions may write shuffled output (the int8 convolution cannot:
    /// its network runs the shuffle as a step).
    init(_ architecture: Architecture, shuffles: Bool = true) {
        let nodes = architecture.nodes
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for node in nodes { for i in node.inputs { consumers[i].append(node.id) } }
        func conv(_ id: Int) -> ConvSpec? {
            if case let .conv(c) = nodes[id].operation { return c }
            return nil
        }
        var fused = [Int?](repeating: nil, count: nodes.count)
        var finalActivation: [Int: Activation] = [:]
        var residualOf: [Int: Int] = [:]
        var shuffled: Set<Int> = []
        for node in nodes {
            switch node.operation {
            case let .add(activation):
                let (x, y) = (node.inputs[0], node.inputs[1])
                for (c, other) in [(y, x), (x, y)] where fused[node.id] == nil {
                    guard let spec = conv(c), !spec.isDepthwise, spec.activation == .none, consumers[c] == [node.id],
                          other < c, fused[c] == nil else { continue }
                    fused[c] = node.id
                    finalActivation[c] = activation
                    residualOf[c] = other
                    break
                }
            case let .concat(activation):
                for input in node.inputs where consumers[input] == [node.id] {
                    if let spec = conv(input), !spec.isDepthwise, spec.activation == .none || spec.activation == activation {
                        fused[input] = node.id
                        finalActivation[input] = activation
                    } else if case .avgPool = nodes[input].operation {
                        fused[input] = node.id
                        finalActivation[input] = activation
                    }
                }
            case let .channelShuffle(groups):
                let source = node.inputs[0]
                if shuffles, let spec = conv(source), spec.groups == groups, groups > 1, groups <= 32, !spec.isDepthwise,
                   consumers[source] == [node.id], fused[source] == nil {
                    fused[source] = node.id
                    shuffled.insert(source)
                }
            default:
                break
            }
        }
        fusedInto = fused
        self.finalActivation = finalActivation
        self.residualOf = residualOf
        self.shuffled = shuffled
        self.consumers = consumers
    }

    /// Whether node `id` is fused into a concat (it writes a channel slice of the concat's output).
    func isConcatSlice(_ id: Int, _ nodes: [Node]) -> Bool {
        guard let target = fusedInto[id], case .concat = nodes[target].operation else { return false }
        return true
    }

    /// Whether node `id` runs no step of its own: a producer fused into it did its work (an add
    /// with a residual convolution, a shuffle after a shuffled-output convolution).
    func isDoneByProducer(_ id: Int, _ nodes: [Node]) -> Bool {
        switch nodes[id].operation {
        case .add, .channelShuffle: nodes[id].inputs.contains { fusedInto[$0] == id }
        default: false
        }
    }

    /// Depthwise node -> the expansion (node id) run with it band by band, and the bands, for
    /// the node output shapes `shapes`: a plain 1x1 convolution read only by a depthwise convolution
    /// (`ExpandDepthwiseBands.fits`), neither of them nor the expansion's input fused into
    /// another node, and an expanded tensor of at least `minimumBytes`.
    func bands(_ network: Network, shapes: [TensorShape], minimumBytes: Int,
               bandBytes: Int) throws -> [Int: (expansion: Int, bands: ExpandDepthwiseBands)] {
        var result: [Int: (expansion: Int, bands: ExpandDepthwiseBands)] = [:]
        let nodes = network.architecture.nodes
        for node in nodes {
            guard case let .depthwise(depthwise) = network.compiled[node.id], let a = node.inputs.first,
                  case let .conv(expand) = network.compiled[a], ExpandDepthwiseBands.fits(expand, depthwise),
                  consumers[a] == [node.id], fusedInto[a] == nil, fusedInto[node.id] == nil,
                  let source = nodes[a].inputs.first, fusedInto[source] == nil else { continue }
            let expanded = shapes[a]
            guard expanded.count * MemoryLayout<Float>.stride >= minimumBytes else { continue }
            result[node.id] = (a, ExpandDepthwiseBands(expand: expand, depthwise: depthwise, height: expanded.h,
                                                       width: expanded.w, targetBytes: bandBytes))
        }
        return result
    }
}
