import CKernels
import CPeak
import MobileKernels

/// One measured row: a case x variant x thread count (the JSON contract's `rows`).
public struct Row: Sendable {
    public init(family: String, model: String?, layer: String, shape: String, params: CaseParams, variant: String,
                threads: Int, medianMs: Double, minMs: Double, p90Ms: Double, flops: Double, bytes: Double,
                gflops: Double, gbps: Double, pctPeak: Double?, speedupVsReference: Double?, verified: Bool,
                failed: Bool, noisy: Bool) {
        (self.family, self.model, self.layer, self.shape, self.params, self.variant, self.threads) =
            (family, model, layer, shape, params, variant, threads)
        (self.medianMs, self.minMs, self.p90Ms, self.flops, self.bytes, self.gflops, self.gbps) =
            (medianMs, minMs, p90Ms, flops, bytes, gflops, gbps)
        (self.pctPeak, self.speedupVsReference, self.verified, self.failed, self.noisy) =
            (pctPeak, speedupVsReference, verified, failed, noisy)
    }

    public var family: String
    public var model: String?
    public var layer: String
    public var shape: String
    public var params: CaseParams
    /// "reference" for the naive Swift loop, else the variant's name.
    public var variant: String
    public var threads: Int
    public var medianMs: Double
    public var minMs: Double
    public var p90Ms: Double
    public var flops: Double
    public var bytes: Double
    public var gflops: Double
    public var gbps: Double
    /// Percent of the machine's measured FMA peak at this thread count (memory-bound families:
    /// of the measured copy bandwidth).
    public var pctPeak: Double?
    public var speedupVsReference: Double?
    /// True when the output matched the reference before timing.
    public var verified: Bool
    /// The output differed from the reference: the timing is reported, but as FAILED.
    public var failed: Bool
    public var noisy: Bool
    /// Model rows: the process's peak resident memory (MB, 10^6 bytes) from building the network
    /// and its plan through the timed runs (`VmHWM`, reset before; Linux), and its resident
    /// memory at that reset (what earlier cases and the harness left): the model's own cost is
    /// the difference.
    public var peakRSSMB: Double?
    public var baseRSSMB: Double?
}

/// What to run and how long.
public struct RunSettings: Sendable {
    public var threads: [Int] = [1, 2]
    public var minTime = 0.2
    public var repetitions = 10
    public var warmup = 3
    public var reference = true
    /// The variants to time; nil = every variant of each family that the CPU runs.
    public var variants: [Variant]?
    /// Rotate over several buffer sets for layers larger than L2 (as a model would see them);
    /// false times every call on the same buffers (warm caches, as single-layer tools do).
    public var rotate = true

    public init() {}
}

/// |got - want| <= 1e-5 * max(1, reduction) + 1e-4 * |want| (the tests' tolerance: inputs and
/// weights are in [-1, 1]).
public func outputsMatch(_ got: [Float], _ want: [Float], reduction: Int) -> Bool {
    guard got.count == want.count else { return false }
    let absolute = 1e-5 * Float(max(1, reduction))
    for i in 0..<got.count where !(abs(got[i] - want[i]) <= absolute + 1e-4 * abs(want[i])) { return false }
    return true
}

/// An int8 network's logits against the float32 reference's: every logit within 10% of the
/// reference's largest magnitude, and the same top-1 class for each image of `classes` logits
/// unless the reference's top two are within that margin.
public func int8LogitsAgree(_ got: [Float], _ want: [Float], classes: Int) -> Bool {
    guard got.count == want.count, classes > 0, want.count % classes == 0 else { return false }
    let margin = 0.1 * want.reduce(0) { max($0, abs($1)) }
    guard zip(got, want).allSatisfy({ abs($0 - $1) <= margin }) else { return false }
    for i in stride(from: 0, to: want.count, by: classes) {
        let w = Array(want[i..<(i + classes)]), g = Array(got[i..<(i + classes)])
        let top = w.indices.max { w[$0] < w[$1] }!, mine = g.indices.max { g[$0] < g[$1] }!
        if top != mine && w[top] - w[mine] > margin { return false }
    }
    return true
}

/// Runs every case: the reference once (timed on one thread) unless disabled, then each variant
/// at each thread count, checking its output against the reference before timing it.
/// `progress` receives a line per case (for standard error).
public func runCases(_ cases: [BenchmarkCase], settings: RunSettings, peak: MachinePeak?,
                     progress: (String) -> Void) throws -> [Row] {
    var rows: [Row] = []
    let start = now()
    let pools = try Dictionary(uniqueKeysWithValues: settings.threads.map { ($0, try ThreadPool(threads: $0)) })
    for (index, c) in cases.enumerated() {
        let elapsed = now() - start
        let remaining = index == 0 ? "?" : format(elapsed / Double(index) * Double(cases.count - index), 0) + "s"
        progress("[\(index + 1)/\(cases.count)] \(c.family.rawValue) \(c.shape) \(c.model ?? "")  elapsed \(format(elapsed, 0))s, remaining ~\(remaining)")

        // Memory-bound kernels are held against a copy of the same bytes at the same size (with
        // the same buffer rotation): the "copy" row, on one thread.
        var copyGbps: Double?
        if c.family.isMemoryBound {
            let t = timeCopy(bytes: Int(c.bytes), rotate: settings.rotate, settings: settings)
            copyGbps = c.bytes / t.median / 1e9
            rows.append(Row(family: c.family.rawValue, model: c.model, layer: c.layer, shape: c.shape, params: c.params,
                            variant: "copy", threads: 1, medianMs: t.median * 1e3, minMs: t.min * 1e3, p90Ms: t.p90 * 1e3,
                            flops: 0, bytes: c.bytes, gflops: 0, gbps: copyGbps!, pctPeak: 100, speedupVsReference: nil,
                            verified: true, failed: false, noisy: t.isNoisy))
        }

        func row(_ variant: String, _ threads: Int, _ t: Timing, verified: Bool, failed: Bool, reference: Double?) -> Row {
            let gflops = c.flops / t.median / 1e9, gbps = c.bytes / t.median / 1e9
            var pct: Double?
            if c.family.isMemoryBound {
                pct = copyGbps.map { 100 * gbps / $0 }
            } else if c.family.isInt8 {
                if let roof = peak?.bestInt8Gops(threads: threads), roof > 0 { pct = 100 * gflops / roof }
            } else if let roof = peak?.bestGflops(threads: threads), roof > 0 {
                pct = 100 * gflops / roof
            }
            return Row(family: c.family.rawValue, model: c.model, layer: c.layer, shape: c.shape, params: c.params,
                       variant: variant, threads: threads, medianMs: t.median * 1e3, minMs: t.min * 1e3,
                       p90Ms: t.p90 * 1e3, flops: c.flops, bytes: c.bytes, gflops: gflops, gbps: gbps, pctPeak: pct,
                       speedupVsReference: reference.map { $0 / t.median }, verified: verified, failed: failed,
                       noisy: t.isNoisy)
        }

        var expected: [Float]?
        var referenceMedian: Double?
        if settings.reference {
            let t = measure(warmup: 0, minRepetitions: c.isModel ? 1 : 3, minTime: c.isModel ? 0 : settings.minTime,
                            maxRepetitions: 20) { _ in
                expected = c.reference()
            }
            referenceMedian = t.median
            rows.append(row("reference", 1, t, verified: true, failed: false, reference: t.median))
        }
        let variants = (settings.variants ?? c.variants).filter { c.variants.contains($0) && $0.isAvailable }
        for threads in settings.threads {
            for variant in variants {
                let measuresMemory = c.isModel && ResidentMemory.resetPeak()
                let baseRSS = measuresMemory ? ResidentMemory.currentMB() : nil
                let runner = try c.makeRunner(variant, pools[threads]!, settings.rotate)
                try runner.run(0)
                var verified = false, failed = false
                if let expected {
                    verified = c.family == .qs8Model
                        ? int8LogitsAgree(runner.output(), expected, classes: c.params.cout ?? 1)
                        : outputsMatch(runner.output(), expected, reduction: c.reduction)
                    failed = !verified
                }
                let t = try measure(warmup: settings.warmup, minRepetitions: settings.repetitions,
                                    minTime: settings.minTime, runner.run)
                var r = row(variant.rawValue, threads, t, verified: verified, failed: failed, reference: referenceMedian)
                if measuresMemory { (r.peakRSSMB, r.baseRSSMB) = (ResidentMemory.peakMB(), baseRSS) }
                rows.append(r)
            }
        }
    }
    return rows
}

/// Times copying `bytes` / 2 bytes (a kernel that reads and writes `bytes` in all) with the
/// widest vector loads and stores, rotating buffer sets like the kernels' runners.
func timeCopy(bytes: Int, rotate: Bool, settings: RunSettings) -> Timing {
    let count = max(1, bytes / 8)
    let sets = rotate ? rotationCount(footprintBytes: bytes) : 1
    let sources = (0..<sets).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: count) }
    let destinations = (0..<sets).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: count) }
    for p in sources + destinations { p.initialize(repeating: 1, count: count) }
    defer { for p in sources + destinations { p.deallocate() } }
    return measure(warmup: settings.warmup, minRepetitions: settings.repetitions, minTime: settings.minTime) { i in
        mk_peak_copy(destinations[i % sets], sources[i % sets], count, 1)
    }
}
