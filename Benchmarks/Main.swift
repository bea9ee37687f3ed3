import ArgumentParser
import MobileKernels

#if canImport(Glibc)
import Glibc
#endif

@main
struct Benchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmarks",
        abstract: "Times MobileKernels' kernels for every variant this CPU runs against the naive Swift reference.",
        discussion: "Run it from a release build: swift run -c release benchmarks")

    @Option(help: "Only cases whose family, name or shape matches this regular expression.")
    var filter: String?

    @Option(help: "Comma-separated thread counts to time each case with.")
    var threads: String = "1,2"

    @Option(help: "Minimum timed seconds per case and variant.")
    var minTime: Double = 0.2

    @Option(help: "Minimum timed repetitions per case and variant.")
    var repetitions: Int = 10

    @Option(help: "Untimed warm-up runs before timing.")
    var warmup: Int = 3

    @Flag(help: "Skip the naive Swift reference (no baseline, no verification).")
    var noReference = false

    func run() throws {
        #if DEBUG
        print("benchmarks: this is a debug build (C kernels at -O0); timings would be meaningless.\n"
            + "Run: swift run -c release benchmarks")
        throw ExitCode(2)
        #else
        let threadCounts = try threads.split(separator: ",").map { part -> Int in
            guard let n = Int(part.filter { $0 != " " }), n >= 1 else {
                throw ValidationError("--threads takes comma-separated counts >= 1, got '\(threads)'")
            }
            return n
        }
        let regex = try filter.map { try Regex($0) }
        var cases = try activationCases()
        if let regex {
            cases = cases.filter { c in
                [c.family, c.name, c.shape].contains { $0.contains(regex) }
            }
        }
        print("CPU: \(Machine.cpuName) (\(Machine.processorCount) cores; \(Machine.features.joined(separator: " ")))")
        print("variants: \(Variant.available.map(\.rawValue).joined(separator: ", ")); BLIS kernel set: \(Machine.blisKernelSet)")
        print("")

        var table = Table(["case", "shape", "variant", "threads", "median ms", "min ms", "GB/s", "vs naive", "check"])
        let variants = Variant.available.filter { $0 != .blis }
        for (index, c) in cases.enumerated() {
            FileHandleStderr.write("[\(index + 1)/\(cases.count)] \(c.name) \(c.shape)\n")
            var referenceMedian: Double?
            var expected: [Float]?
            if !noReference {
                expected = c.reference()
                let t = measure(warmup: 0, minRepetitions: 3, minTime: minTime) { _ = c.reference() }
                referenceMedian = t.median
                table.add([c.name, c.shape, "naive swift", "1", format(t.median * 1e3, 3), format(t.min * 1e3, 3),
                           format(c.bytes / t.median / 1e9, 1), "1.0", "-"])
            }
            if c.family == "activation" {
                // The memory bound of an out-of-place pass: copying the same bytes (memcpy).
                let count = Int(c.bytes) / 8
                let source = UnsafeMutablePointer<Float>.allocate(capacity: count)
                source.initialize(repeating: 1, count: count)
                let destination = UnsafeMutablePointer<Float>.allocate(capacity: count)
                destination.initialize(repeating: 0, count: count)
                defer { source.deallocate(); destination.deallocate() }
                let t = measure(warmup: warmup, minRepetitions: repetitions, minTime: minTime) {
                    memcpy(destination, source, count * 4)
                }
                let speedup = referenceMedian.map { format($0 / t.median, 1) } ?? "-"
                table.add([c.name, c.shape, "memcpy", "1", format(t.median * 1e3, 3), format(t.min * 1e3, 3),
                           format(c.bytes / t.median / 1e9, 1), speedup, "bound"])
            }
            for t in threadCounts {
                let pool = try ThreadPool(threads: t)
                for variant in variants {
                    let runner = try c.makeRunner(variant, pool)
                    try runner.run()
                    var verdict = "-"
                    if let expected {
                        verdict = matches(runner.output(), expected) ? "ok" : "FAILED"
                    }
                    let timing = try measure(warmup: warmup, minRepetitions: repetitions, minTime: minTime, runner.run)
                    let speedup = referenceMedian.map { format($0 / timing.median, 1) } ?? "-"
                    table.add([c.name, c.shape, variant.rawValue, String(t), format(timing.median * 1e3, 3),
                               format(timing.min * 1e3, 3), format(c.bytes / timing.median / 1e9, 1), speedup,
                               verdict + (timing.spread > 0.1 ? " noisy" : "")])
                }
            }
        }
        print(table.render())
        #endif
    }
}

/// Relative 1e-5 (the bias + activation kernels differ from the reference by at most one ulp).
func matches(_ got: [Float], _ want: [Float]) -> Bool {
    guard got.count == want.count else { return false }
    for i in 0..<got.count where abs(got[i] - want[i]) > 1e-5 * max(1, abs(want[i])) { return false }
    return true
}

enum FileHandleStderr {
    /// Progress goes to standard error (file descriptor 2), the table to standard output.
    static func write(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
