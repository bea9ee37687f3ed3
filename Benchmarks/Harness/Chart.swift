import MobileKernels

/// An SVG bar chart of the rows: one group of bars per case (GFLOP/s per variant, at the lowest
/// thread count measured), with the machine's measured FMA peak as a dashed line. Memory-bound
/// families are charted in GB/s against the measured copy bandwidth when no compute-bound rows
/// exist.
public func svgChart(_ rows: [Row], peak: MachinePeak?, title: String) -> String {
    let compute = rows.filter { !(Family(rawValue: $0.family)?.isMemoryBound ?? false) }
    let chartRows = compute.isEmpty ? rows : compute
    let memory = compute.isEmpty
    let threads = chartRows.map(\.threads).min() ?? 1
    let selected = chartRows.filter { $0.threads == threads }
    var groups: [String] = []
    var values: [String: [String: Double]] = [:]
    var labels: [String: String] = [:]
    for r in selected {
        let key = "\(r.family)|\(r.model ?? "")|\(r.layer)|\(r.shape)"
        if values[key] == nil {
            groups.append(key)
            labels[key] = r.shape + (r.model.map { " " + $0 } ?? "")
        }
        values[key, default: [:]][r.variant] = memory ? r.gbps : r.gflops
    }
    let order = ["reference", "copy", "scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "neon", "neondot", "blis"]
    let variants = order.filter { v in selected.contains { $0.variant == v } }
    let colors = ["reference": "#9e9e9e", "copy": "#e0e0e0", "scalar": "#8d6e63", "avx2": "#42a5f5", "avxvnni": "#26c6da",
                  "avx512": "#1565c0", "avx512vnni": "#6a1b9a", "neon": "#66bb6a", "neondot": "#2e7d32", "blis": "#ffa726"]
    // Only int8 rows: against the int8 peak (GOP/s).
    let int8 = !memory && selected.allSatisfy { Family(rawValue: $0.family)?.isInt8 ?? false }
    let roof = memory ? peak?.copy : int8 ? peak?.bestInt8Gops(threads: threads) : peak?.bestGflops(threads: threads)
    // A "nice" axis: steps of 1, 2 or 5 x 10^k, about five of them.
    let highest = max(roof ?? 0, selected.map { memory ? $0.gbps : $0.gflops }.max() ?? 1) * 1.05
    let raw = max(highest, 1e-9) / 5
    var magnitude = 1.0
    while magnitude * 10 <= raw { magnitude *= 10 }
    while magnitude > raw { magnitude /= 10 }
    let tickStep = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    let ticks = Int((highest / tickStep).rounded(.up))
    let top = Double(ticks) * tickStep
    let bar = 9.0, gap = 8.0
    let groupWidth = Double(variants.count) * bar + gap
    let left = 60.0, plotTop = 50.0, plotHeight = 320.0, bottom = 190.0
    let width = left + Double(groups.count) * groupWidth + 180
    let height = plotTop + plotHeight + bottom
    func y(_ v: Double) -> Double { plotTop + plotHeight * (1 - v / top) }
    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
    var svg = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">",
               "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
               "<text x=\"\(left)\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(esc(title))</text>",
               "<text x=\"\(left)\" y=\"38\" fill=\"#555\">\(memory ? "GB/s" : "GFLOP/s") per variant, \(threads) thread\(threads == 1 ? "" : "s"); \(esc(Machine.cpuName))</text>"]
    for i in 0...ticks {
        let v = tickStep * Double(i)
        svg.append("<line x1=\"\(left)\" y1=\"\(y(v))\" x2=\"\(width - 170)\" y2=\"\(y(v))\" stroke=\"#e0e0e0\"/>")
        svg.append("<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(format(v, 0))</text>")
    }
    for (g, key) in groups.enumerated() {
        let x0 = left + Double(g) * groupWidth + gap / 2
        for (i, variant) in variants.enumerated() {
            guard let v = values[key]?[variant] else { continue }
            let x = x0 + Double(i) * bar
            svg.append("<rect x=\"\(x)\" y=\"\(y(v))\" width=\"\(bar - 1)\" height=\"\(max(0, plotTop + plotHeight - y(v)))\" fill=\"\(colors[variant] ?? "#000")\"><title>\(esc(labels[key]!)) \(variant): \(format(v, 1))</title></rect>")
        }
        let lx = x0 + Double(variants.count) * bar / 2, ly = plotTop + plotHeight + 8
        svg.append("<text transform=\"translate(\(lx),\(ly)) rotate(60)\" font-size=\"9\">\(esc(labels[key]!))</text>")
    }
    if let roof {
        svg.append("<line x1=\"\(left)\" y1=\"\(y(roof))\" x2=\"\(width - 170)\" y2=\"\(y(roof))\" stroke=\"#c62828\" stroke-dasharray=\"6,4\" stroke-width=\"1.5\"/>")
        svg.append("<text x=\"\(width - 165)\" y=\"\(y(roof) + 4)\" fill=\"#c62828\">\(memory ? "copy" : int8 ? "int8 peak" : "FMA peak") \(format(roof, 0))</text>")
    }
    for (i, variant) in variants.enumerated() {
        let ly = plotTop + 60 + Double(i) * 18
        svg.append("<rect x=\"\(width - 165)\" y=\"\(ly)\" width=\"12\" height=\"12\" fill=\"\(colors[variant] ?? "#000")\"/>")
        svg.append("<text x=\"\(width - 148)\" y=\"\(ly + 10)\">\(variant == "reference" ? "naive Swift" : variant)</text>")
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
