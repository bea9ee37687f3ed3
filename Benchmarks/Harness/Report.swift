import Foundation
import MobileKernels

/// The machine header of a report (the JSON `machine` object).
public struct MachineInfo: Sendable {
    public var cpu = Machine.cpuName
    public var isa = Machine.features
    public var cores = Machine.processorCount
    public var swift = MachineInfo.swiftVersion
    public var config = MachineInfo.buildConfiguration
    public var blis = Machine.blisKernelSet
    public var peak: MachinePeak?

    public init(peak: MachinePeak?) { self.peak = peak }

    public static var swiftVersion: String {
        #if compiler(>=6.4)
        "6.4+"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #elseif compiler(>=6.1)
        "6.1"
        #else
        "6.0"
        #endif
    }

    public static var buildConfiguration: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    public var headerLines: [String] {
        var lines = ["CPU: \(cpu), \(cores) cores; \(isa.joined(separator: " "))",
                     "Swift \(swift), \(config) build; variants: \(Variant.available.map(\.rawValue).joined(separator: ", ")); BLIS kernels: \(blis)"]
        if let peak {
            let fma = peak.fmaGflops.keys.sorted().map { isa in
                isa + " " + peak.fmaGflops[isa]!.keys.sorted().map { "\(format(peak.fmaGflops[isa]![$0]!, 1)) (\($0)t)" }.joined(separator: " ")
            }
            lines.append("FMA peak GFLOP/s: " + fma.joined(separator: "; "))
            let int8 = peak.int8Gops.keys.sorted().map { isa in
                isa + " " + peak.int8Gops[isa]!.keys.sorted().map { "\(format(peak.int8Gops[isa]![$0]!, 1)) (\($0)t)" }.joined(separator: " ")
            }
            if !int8.isEmpty { lines.append("int8 peak GOP/s: " + int8.joined(separator: "; ")) }
            lines.append("bandwidth GB/s: L1 \(format(peak.l1, 1)), L2 \(format(peak.l2, 1)), DRAM \(format(peak.dram, 1)), copy \(format(peak.copy, 1))")
        }
        return lines
    }
}

/// The rows as an aligned table: speedups against the naive Swift reference and against the
/// variant `auto` picks, and a check column (ok, FAILED, unverified; "noisy" when the spread of
/// the timings exceeds 10%).
public func renderTable(_ rows: [Row]) -> String {
    var table = Table(["case", "shape", "model", "variant", "thr", "median ms", "min ms", "GFLOP/s", "GB/s", "% peak", "vs naive", "vs auto", "check"])
    let best = Variant.best.rawValue
    func key(_ r: Row) -> String { "\(r.family)|\(r.model ?? "")|\(r.layer)|\(r.shape)|\(r.threads)" }
    var autoMedian: [String: Double] = [:]
    for r in rows where r.variant == best || r.variant == "auto" { autoMedian[key(r)] = r.medianMs }
    for r in rows {
        let check = r.variant == "reference" || r.variant == "copy" ? "-" : (r.failed ? "FAILED" : (r.verified ? "ok" : "unverified"))
        table.add([r.family == "dwconv" || r.family == "activation" ? r.layer : r.family, r.shape, r.model ?? "-",
                   r.variant == "reference" ? "naive swift" : r.variant, String(r.threads),
                   formatMs(r.medianMs), formatMs(r.minMs), format(r.gflops, 1), format(r.gbps, 1),
                   r.pctPeak.map { format($0, 0) } ?? "-", r.speedupVsReference.map { format($0, 1) } ?? "-",
                   r.variant == "reference" || r.variant == "copy" ? "-" : autoMedian[key(r)].map { format($0 / r.medianMs, 2) } ?? "-",
                   check + (r.noisy ? " noisy" : "")])
    }
    return table.render()
}

private func jsonNumber(_ x: Double?) -> Any {
    guard let x, x.isFinite else { return NSNull() }
    return x
}

/// The JSON contract: {"machine": {...}, "rows": [...]} (names stable: other tools read them).
public func jsonReport(_ rows: [Row], machine: MachineInfo) throws -> Data {
    var m: [String: Any] = ["cpu": machine.cpu, "isa": machine.isa, "cores": machine.cores, "swift": machine.swift,
                            "config": machine.config, "blis": machine.blis]
    if let peak = machine.peak {
        m["peak_gflops"] = peak.fmaGflops.mapValues { byThreads in
            Dictionary(uniqueKeysWithValues: byThreads.map { (String($0.key), $0.value) })
        }
        m["bandwidth_gbps"] = ["l1": peak.l1, "l2": peak.l2, "dram": peak.dram, "copy": peak.copy]
        m["peak_int8_gops"] = peak.int8Gops.mapValues { byThreads in
            Dictionary(uniqueKeysWithValues: byThreads.map { (String($0.key), $0.value) })
        }
    }
    let list: [[String: Any]] = rows.map { r in
        [
            "family": r.family, "model": r.model ?? NSNull(), "layer": r.layer, "shape": r.shape,
            "params": Dictionary(uniqueKeysWithValues: r.params.fields),
            "variant": r.variant, "threads": r.threads,
            "median_ms": r.medianMs, "min_ms": r.minMs, "p90_ms": r.p90Ms,
            "flops": r.flops, "bytes": r.bytes, "gflops": r.gflops, "gbps": r.gbps,
            "pct_peak": jsonNumber(r.pctPeak), "speedup_vs_reference": jsonNumber(r.speedupVsReference),
            "verified": r.verified, "noisy": r.noisy,
        ].merging(r.peakRSSMB.map { ["peak_rss_mb": $0, "base_rss_mb": jsonNumber(r.baseRSSMB)] } ?? [:]) { a, _ in a }
    }
    return try JSONSerialization.data(withJSONObject: ["machine": m, "rows": list], options: [.prettyPrinted, .sortedKeys])
}

/// Every row with every field, one line each (RFC 4180 quoting).
public func csvReport(_ rows: [Row]) -> String {
    let header = ["family", "model", "layer", "shape", "n", "h", "w", "cin", "cout", "kh", "kw", "stride", "groups",
                  "variant", "threads", "median_ms", "min_ms", "p90_ms", "flops", "bytes", "gflops", "gbps",
                  "pct_peak", "speedup_vs_reference", "verified", "noisy"]
    func quote(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    func number(_ x: Double?) -> String { x.map { String($0) } ?? "" }
    func int(_ x: Int?) -> String { x.map(String.init) ?? "" }
    var lines = [header.joined(separator: ",")]
    for r in rows {
        let p = r.params
        let cells = [r.family, r.model ?? "", r.layer, r.shape, int(p.n), int(p.h), int(p.w), int(p.cin), int(p.cout),
                     int(p.kh), int(p.kw), int(p.stride), int(p.groups), r.variant, String(r.threads),
                     number(r.medianMs), number(r.minMs), number(r.p90Ms), number(r.flops), number(r.bytes),
                     number(r.gflops), number(r.gbps), number(r.pctPeak), number(r.speedupVsReference),
                     String(r.verified), String(r.noisy)]
        lines.append(cells.map(quote).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
}
