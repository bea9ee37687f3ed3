import ArgumentParser
import BenchmarkHarness
import Foundation
import MobileKernels

@main
struct Benchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmarks",
        abstract: "Measures MobileKernels against naive Swift and this machine's own limits.",
        discussion: """
            Every timed kernel's output is first checked against the naive Swift reference (a wrong \
            kernel is reported as FAILED, not as fast). Weights are packed and buffers allocated \
            outside the timed region. Run it from a release build: swift run -c release benchmarks
            """,
        subcommands: [DefaultRun.self, Peak.self, Kernels.self, Models.self, Compare.self, Allocations.self, Gradients.self, TrainBench.self, Memory.self],
        defaultSubcommand: DefaultRun.self)
}

/// Options every measuring subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "Only cases whose family, model, layer or shape, or the line \"<family> <model> <layer> <shape>\", matches this regular expression (e.g. \"^conv1x1 mobilenet_v2 \").")
    var filter: String?

    @Option(help: "Comma-separated thread counts, e.g. 1,2.")
    var threads: String = "1,2"

    @Option(help: "Minimum timed seconds per case, variant and thread count.")
    var minTime: Double = 0.2

    @Option(help: "Minimum timed repetitions per case, variant and thread count.")
    var repetitions: Int = 10

    @Option(help: "Untimed warm-up runs before timing.")
    var warmup: Int = 3

    @Flag(help: "Tiny shapes and short timings: a smoke test that finishes in seconds.")
    var quick = false

    @Option(help: "Write every row with all fields as JSON to this file.")
    var json: String?

    @Option(help: "Write every row with all fields as CSV to this file.")
    var csv: String?

    @Option(help: "Write an SVG chart (GFLOP/s per layer and variant, with the FMA peak) to this file.")
    var svg: String?

    @Flag(help: "Skip the naive Swift reference: no baseline and no verification (rows are 'unverified').")
    var noReference = false

    @Flag(help: "Time every call on the same buffers (warm caches, as single-layer tools such as ONNX Runtime's do). By default layers larger than L2 rotate over several buffer sets, as a model would see them.")
    var noRotate = false

    func threadCounts() throws -> [Int] {
        try threads.split(separator: ",").map { part in
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n >= 1, n <= 1024 else {
                throw ValidationError("--threads takes comma-separated counts from 1 to 1024, got '\(threads)'")
            }
            return n
        }
    }

    func settings(variants: [Variant]? = nil) throws -> RunSettings {
        var s = RunSettings()
        s.threads = try threadCounts()
        s.minTime = quick ? min(minTime, 0.02) : minTime
        s.repetitions = quick ? min(repetitions, 3) : repetitions
        s.warmup = quick ? min(warmup, 1) : warmup
        s.reference = !noReference
        s.variants = variants
        s.rotate = !noRotate
        return s
    }

    func select(_ cases: [BenchmarkCase]) throws -> [BenchmarkCase] {
        guard let filter else { return cases }
        let regex: Regex<AnyRegexOutput>
        do { regex = try Regex(filter) } catch { throw ValidationError("--filter: not a regular expression: \(filter)") }
        return cases.filter { c in
            let fields = [c.family.rawValue, c.model ?? "-", c.layer, c.shape]
            return fields.contains { $0.contains(regex) } || fields.joined(separator: " ").contains(regex)
        }
    }
}

/// Refuses to time a debug build (its C kernels are compiled at -O0).
func requireRelease() throws {
    #if DEBUG
    FileHandle.standardError.write(Data("""
        benchmarks: this is a debug build (C kernels at -O0); its timings would be meaningless.
        Run: swift run -c release benchmarks

        """.utf8))
    throw ExitCode(2)
    #endif
}

func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Measures the peak, runs the cases, prints the table and writes the requested files.
@discardableResult
func report(cases: [BenchmarkCase], options: CommonOptions, variants: [Variant]? = nil, title: String) throws -> [Row] {
    let settings = try options.settings(variants: variants)
    progress("measuring the machine's peak...")
    let peak = try measurePeak(threadCounts: settings.threads, quick: options.quick)
    let machine = MachineInfo(peak: peak)
    print(machine.headerLines.joined(separator: "\n"))
    print("")
    let rows = try runCases(cases, settings: settings, peak: peak, progress: progress)
    print(renderTable(rows))
    let failed = rows.filter(\.failed)
    if !failed.isEmpty {
        print("\nFAILED: \(failed.count) rows gave a wrong answer: \(Set(failed.map { "\($0.variant) \($0.shape)" }).sorted().joined(separator: "; "))")
    }
    if let path = options.json { try jsonReport(rows, machine: machine).write(to: URL(fileURLWithPath: path)) }
    if let path = options.csv { try csvReport(rows).write(toFile: path, atomically: true, encoding: .utf8) }
    if let path = options.svg { try svgChart(rows, peak: peak, title: title).write(toFile: path, atomically: true, encoding: .utf8) }
    if !failed.isEmpty { throw ExitCode(1) }
    return rows
}

struct DefaultRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "default",
        abstract: "The short default run: the machine's peak, representative kernels and MobileNetV2 end to end (under two minutes).")

    @OptionGroup var options: CommonOptions

    func run() throws {
        try requireRelease()
        var cases = try benchmarkCases(families: [.activation], quick: options.quick).filter { $0.layer.contains("hardswish") }
        let resolution = options.quick ? 64 : 224
        let mobileNetV2 = try convLayers(of: [.mobileNetV2], resolution: resolution) { $0.isDepthwise }
        cases += try mobileNetV2.prefix(4).map(depthwiseCase)
        cases += try convLayers(of: [.mobileNetV2], resolution: resolution) { $0.isPointwise }.prefix(4).map { try convCase($0) }
        cases.append(try modelCase(.mobileNetV2, resolution: resolution))
        try report(cases: options.select(cases), options: options, title: "MobileKernels: representative kernels")
    }
}

struct Peak: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measures this machine's limits: FP32 FMA throughput per ISA and thread count, read and copy bandwidth from L1-, L2- and DRAM-sized buffers.")

    @Option(help: "Comma-separated thread counts.")
    var threads: String = "1,2"

    @Flag(help: "Short measurements.")
    var quick = false

    func run() throws {
        try requireRelease()
        let counts = threads.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
        let peak = try measurePeak(threadCounts: counts.isEmpty ? [1] : counts, quick: quick)
        print(MachineInfo(peak: peak).headerLines.joined(separator: "\n"))
    }
}

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every operator family on the real layer shapes of the models (derived from their architectures), for every variant this CPU runs, against the naive Swift reference.")

    @OptionGroup var options: CommonOptions

    func run() throws {
        try requireRelease()
        let cases = try benchmarkCases(families: Set(implementedFamilies), quick: options.quick)
        try report(cases: options.select(cases), options: options, title: "MobileKernels: kernels on model layer shapes")
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The chosen variants side by side over the same cases ('vs auto' compares each with the variant auto picks).")

    @Option(help: "Comma-separated variants: scalar, avx2, avx512, neon, blis.")
    var variants: String = "avx512,avx2,scalar"

    @OptionGroup var options: CommonOptions

    func run() throws {
        try requireRelease()
        let chosen = try variants.split(separator: ",").map { name -> Variant in
            guard let v = Variant(rawValue: String(name)), v != .auto else {
                throw ValidationError("unknown variant '\(name)'; choose from scalar, avx2, avx512, neon, blis")
            }
            guard v.isAvailable else { throw ValidationError("variant \(v) is not available on this CPU (it runs \(Variant.available.map(\.rawValue).joined(separator: ", ")))") }
            return v
        }
        let cases = try benchmarkCases(families: Set(implementedFamilies), quick: options.quick)
        try report(cases: options.select(cases), options: options, variants: chosen, title: "MobileKernels: \(variants)")
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Whole networks end to end (224x224, batch 1, random weights): auto, avx2, scalar and BLIS-backed 1x1, and int8 (qs8) MobileNetV1, V2, V3-Large, V3-Small and ShuffleNetV1 g3 on every int8 variant, against the naive Swift reference network (float32).")

    @OptionGroup var options: CommonOptions

    func run() throws {
        try requireRelease()
        let cases = try options.select(modelCases(quick: options.quick))
        let rows = try report(cases: cases, options: options, title: "MobileKernels: whole networks")
        print("\nimages/s (batch 1):")
        for r in rows where r.variant != "copy" {
            let kind = r.family == Family.qs8Model.rawValue ? "int8 " : ""
            print("  \(r.model ?? "-") \(kind)\(r.variant == "reference" ? "naive swift" : r.variant) \(r.threads)t: \(format(1000 / r.medianMs, 1))")
        }
        // int8 against float32: the best int8 variant's median over float auto's, per model and threads.
        for r in rows where r.family == Family.model.rawValue && r.variant == "auto" {
            let int8 = rows.filter { $0.family == Family.qs8Model.rawValue && $0.model == r.model && $0.threads == r.threads }
            guard let best = int8.min(by: { $0.medianMs < $1.medianMs }) else { continue }
            print("  \(r.model ?? "-") \(r.threads)t: int8 (\(best.variant)) \(format(r.medianMs / best.medianMs, 2))x float32 (auto)")
        }
    }
}

