#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Summary of repeated timings, in seconds.
struct Timing {
    let samples: [Double]
    var median: Double { Timing.percentile(samples, 0.5) }
    var min: Double { samples.min() ?? 0 }
    var p90: Double { Timing.percentile(samples, 0.9) }
    /// (p90 - min) / median: above 0.1 the run is flagged as noisy.
    var spread: Double { median > 0 ? (p90 - min) / median : 0 }

    /// Linear interpolation between closest ranks (numpy's default "linear" method).
    static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = Int(position.rounded(.up))
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}

/// Times `body`: `warmup` untimed calls, then timed calls until both `minRepetitions` calls and
/// `minTime` seconds are done (at most `maxRepetitions`).
func measure(warmup: Int, minRepetitions: Int, minTime: Double, maxRepetitions: Int = 100_000,
             _ body: () throws -> Void) rethrows -> Timing {
    for _ in 0..<warmup { try body() }
    var samples: [Double] = []
    samples.reserveCapacity(minRepetitions)
    let start = now()
    while samples.count < maxRepetitions && (samples.count < minRepetitions || now() - start < minTime) {
        let t0 = now()
        try body()
        samples.append(now() - t0)
    }
    return Timing(samples: samples)
}
