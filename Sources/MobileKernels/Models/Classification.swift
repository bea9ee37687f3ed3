import Foundation

/// Softmax over the last dimension of logits `[n, 1, 1, classes]` (in Double, stable).
public func softmax(_ logits: Tensor) -> [[Float]] {
    let classes = logits.shape.c
    let values = logits.toArray()
    return (0..<logits.shape.pixels).map { i in
        let row = values[(i * classes)..<((i + 1) * classes)]
        let top = Double(row.max() ?? 0)
        let e = row.map { Foundation.exp(Double($0) - top) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }
}

/// The `k` largest entries of each row of logits `[n, 1, 1, classes]`: (class, value), best first
/// (ties: lower class first).
public func topK(_ logits: Tensor, k: Int) -> [[(index: Int, value: Float)]] {
    let classes = logits.shape.c
    let values = logits.toArray()
    return (0..<logits.shape.pixels).map { i in
        let row = Array(values[(i * classes)..<((i + 1) * classes)].enumerated())
        return row.sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
            .prefix(max(0, k)).map { ($0.offset, $0.element) }
    }
}
