/// How long an inference plan keeps each node's output.
public enum ActivationLifetime: Hashable, Sendable {
    /// A buffer goes to a later node as soon as the last reader of its contents has run;
    /// squeeze-and-excitation scales in place and large expansions run in bands with their
    /// depthwise convolution (never whole): the least memory, for inference.
    case reuse
    /// Every node's output stays in its own buffer (or channel slice) until the end of
    /// `predict`: no reuse, nothing in place, no bands; what a backward pass needs. Fused
    /// producers (a residual convolution, a convolution with shuffled output) still write their
    /// consumer's output, which is kept.
    case keepAll
}

/// Where every node's output lives in a plan's buffers: placement (which node's buffer a node
/// writes into, at which channel), liveness (from the first writer to the last reader of each
/// buffer's contents, per `ActivationLifetime`) and the assignment of buffers (best fit from a
/// free list). Pure bookkeeping: nothing is allocated here.
struct BufferPlan {
    /// A node's output: `shape` at channel `channelOffset` of pixels `pixelStride` floats apart
    /// in buffer `buffer`.
    struct Location {
        var buffer: Int
        var shape: TensorShape
        var channelOffset: Int
        var pixelStride: Int
    }

    /// Floats of each buffer.
    let capacities: [Int]
    /// Per node; nil for an expansion that exists only band by band, in the bands' scratch.
    let locations: [Location?]
    /// The floats every node's output would take on its own (fused producers and bands included).
    let unplannedCount: Int
    /// Nodes whose output is their input's memory, unchanged (flatten, an adaptive pool to its
    /// input's own size): they run no step.
    let identities: Set<Int>

    /// - Parameters:
    ///   - shapes: every node's output shape.
    ///   - banded: the expansions that run in bands (no buffer), by the depthwise node that runs them.
    ///   - nodes, fusion: the network's (float or int8: the counts are elements, floats or bytes).
    init(_ nodes: [Node], _ fusion: Fusion, shapes: [TensorShape], banded: [Int: Int], lifetime: ActivationLifetime) {
        var consumers = fusion.consumers
        // A banded expansion runs in its depthwise node's step: its input is read there, so it
        // must live until then (else the depthwise output may be given the input's buffer, and
        // two threads' chunks then overwrite input rows the other has yet to read).
        for (depthwise, expansion) in banded { consumers[nodes[expansion].inputs[0]].append(depthwise) }

        // Placement: which node's buffer each node writes into (its root), and at which channel.
        var root = Array(0..<nodes.count)
        var offset = [Int](repeating: 0, count: nodes.count)
        var identities: Set<Int> = []
        for node in nodes {
            let id = node.id
            if let target = fusion.fusedInto[id] {
                if fusion.isConcatSlice(id, nodes) {
                    offset[id] = nodes[target].inputs.prefix { $0 != id }.reduce(0) { $0 + shapes[$1].c }
                }
                root[id] = target  // resolved below: targets come later in node order
                continue
            }
            switch node.operation {
            case .flatten:
                root[id] = root[node.inputs[0]]
                identities.insert(id)
            case .adaptiveAvgPool where shapes[node.inputs[0]] == shapes[id]:
                root[id] = root[node.inputs[0]]
                identities.insert(id)
            case .squeezeExcitation where lifetime == .reuse && consumers[node.inputs[0]] == [id]:  // in place
                root[id] = root[node.inputs[0]]
            default:
                break
            }
        }
        // Fused producers point at a later node: follow the chain to a node that owns a buffer.
        let roots = (0..<nodes.count).map { id in
            var r = id
            while root[r] != r { r = root[r] }
            return r
        }

        // Liveness, per root: from its first writer's step to its last reader's.
        var first = [Int](repeating: Int.max, count: nodes.count)
        var last = [Int](repeating: -1, count: nodes.count)
        for id in 0..<nodes.count {
            let r = roots[id]
            first[r] = min(first[r], id)
            last[r] = max(last[r], consumers[id].max() ?? id, id)
        }
        last[roots[nodes.count - 1]] = nodes.count  // the output lives to the end
        if lifetime == .keepAll { last = last.map { _ in nodes.count } }

        // Assignment: best fit from the free list at each root's first step, freed after its last.
        let bandedNodes = Set(banded.values)
        var capacities: [Int] = []
        var bufferOf = [Int](repeating: -1, count: nodes.count)
        var free: [Int] = []
        var unplanned = 0
        for step in 0..<nodes.count {
            for r in 0..<nodes.count where roots[r] == r && first[r] == step {
                let need = shapes[r].count
                unplanned += need
                if bandedNodes.contains(r) { continue }  // exists only band by band, in the scratch
                if let best = free.filter({ capacities[$0] >= need }).min(by: { capacities[$0] < capacities[$1] }) {
                    free.removeAll { $0 == best }
                    bufferOf[r] = best
                } else {
                    bufferOf[r] = capacities.count
                    capacities.append(need)
                }
            }
            for r in 0..<nodes.count where roots[r] == r && last[r] == step && !bandedNodes.contains(r) {
                free.append(bufferOf[r])
            }
        }
        self.capacities = capacities
        self.identities = identities
        unplannedCount = unplanned
        // An alias (flatten, identity pool, in-place SE) keeps its own shape on its root's
        // memory; a concat's input is a slice of the concat's pixels.
        locations = (0..<nodes.count).map { id in
            let r = roots[id]
            guard bufferOf[r] >= 0 else { return nil }
            return Location(buffer: bufferOf[r], shape: shapes[id], channelOffset: offset[id],
                            pixelStride: fusion.isConcatSlice(id, nodes) ? shapes[r].c : shapes[id].c)
        }
    }
}
