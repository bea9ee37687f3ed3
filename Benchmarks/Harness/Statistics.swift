#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock.
public func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Summary of repeated timings, in seconds.
public struct Timing: Sendable {
    public let samples: [Double]

    public init(samples: [Double]) { self.samples = samples }

    public var median: Double { Timing.percentile(samples, 0.5) }
    public var min: Double { samples.min() ?? 0 }
    public var p10: Double { Timing.percentile(samples, 0.1) }
    public var p90: Double { Timing.percentile(samples, 0.9) }
    /// (p90 - p10) / median: the spread of the middle 80% of samples. Above 0.1 a row is flagged
    /// as noisy (the machine was busy, or the case is too short for the clock).
    public var spread: Double { median > 0 ? (p90 - p10) / median : 0 }
    public var isNoisy: Bool { spread > 0.1 }

    /// Linear interpolation between closest ranks (NumPy's default "linear" method):
    /// position q * (n - 1) in the sorted samples.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let position = Swift.min(Swift.max(q, 0), 1) * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = Int(position.rounded(.up))
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}

/// Times `body`: `warmup` untimed calls, then timed calls until both `minRepetitions` calls and
/// `minTime` seconds are done (at most `maxRepetitions`). `body` gets the call's index, for
/// rotating buffers.
public func measure(warmup: Int, minRepetitions: Int, minTime: Double, maxRepetitions: Int = 100_000,
                    _ body: (Int) throws -> Void) rethrows -> Timing {
    var call = 0
    for _ in 0..<warmup {
        try body(call)
        call += 1
    }
    var samples: [Double] = []
    samples.reserveCapacity(Swift.max(minRepetitions, 16))
    let start = now()
    while samples.count < maxRepetitions && (samples.count < minRepetitions || now() - start < minTime) {
        let t0 = now()
        try body(call)
        samples.append(now() - t0)
        call += 1
    }
    return Timing(samples: samples)
}
