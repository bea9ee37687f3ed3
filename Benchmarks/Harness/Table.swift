/// An aligned text table: the first two columns left-aligned, the others right-aligned.
public struct Table {
    public var header: [String]
    public var rows: [[String]] = []

    public init(_ header: [String]) { self.header = header }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return i < 2 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

/// `value` with `digits` decimals ("-" for NaN or infinity).
public func format(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "-" }
    let scale = (0..<digits).reduce(1.0) { acc, _ in acc * 10 }
    var s = String(Int((abs(value) * scale).rounded()))
    if digits > 0 {
        while s.count <= digits { s = "0" + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    }
    return value < 0 && s.contains(where: { $0 != "0" && $0 != "." }) ? "-" + s : s
}

/// Milliseconds with three significant digits (at least three decimals).
public func formatMs(_ ms: Double) -> String {
    guard ms.isFinite, ms > 0 else { return format(ms, 3) }
    var digits = 3
    var scaled = ms
    while scaled < 1, digits < 6 {
        scaled *= 10
        digits += 1
    }
    return format(ms, max(3, digits - 1))
}
