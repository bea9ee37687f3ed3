import CKernels
import CPeak
import MobileKernels

/// The machine's limits, measured in-process: FP32 FMA throughput per ISA and thread count, and
/// read / copy bandwidth from buffers sized for L1, L2 and DRAM (one thread).
public struct MachinePeak: Sendable {
    /// GFLOP/s by ISA name ("scalar", "avx2", "avx512", "neon") and thread count.
    public var fmaGflops: [String: [Int: Double]] = [:]
    /// GB/s: reads from a 16 KiB (L1), 512 KiB (L2) and 256 MiB (DRAM) buffer; copy of a 64 MiB
    /// buffer counting bytes read and written.
    public var l1: Double = 0, l2: Double = 0, dram: Double = 0, copy: Double = 0
    /// int8 GOP/s (2 per multiply-accumulate) of each int8 GEMM instruction ("avx512vnni":
    /// vpdpbusd zmm, "avxvnni", "avx2": vpmaddwd + vpaddd, "neondot", "neon", "scalar") by
    /// thread count: the roof of the qs8 rows.
    public var int8Gops: [String: [Int: Double]] = [:]

    public init() {}

    /// The best int8 throughput of any variant at `threads` threads.
    public func bestInt8Gops(threads: Int) -> Double? {
        int8Gops.values.compactMap { $0[threads] }.max()
    }

    /// The best FMA throughput of any ISA at `threads` threads (the machine's compute roof).
    public func bestGflops(threads: Int) -> Double? {
        fmaGflops.values.compactMap { $0[threads] }.max()
    }

    /// The ISA with the highest single-thread FMA throughput.
    public var bestISA: String {
        fmaGflops.max { ($0.value[1] ?? 0) < ($1.value[1] ?? 0) }?.key ?? "scalar"
    }
}

/// Context of the per-thread FMA loop.
private struct FMAJob {
    var variant: mk_variant
    var iterations: UInt64
    var flops: UnsafeMutablePointer<UInt64>
}

private let fmaTask: mk_task_1d = { context, thread, _, _ in
    let job = context!.assumingMemoryBound(to: FMAJob.self).pointee
    job.flops[thread] = mk_peak_fma(job.variant, job.iterations)
}

private let int8Task: mk_task_1d = { context, thread, _, _ in
    let job = context!.assumingMemoryBound(to: FMAJob.self).pointee
    job.flops[thread] = mk_peak_int8(job.variant, job.iterations)
}

/// Measures the FMA peak of every SIMD variant this CPU runs at each of `threadCounts`, and the
/// bandwidth figures. `quick` shortens every measurement (for smoke tests).
public func measurePeak(threadCounts: [Int], quick: Bool) throws -> MachinePeak {
    var peak = MachinePeak()
    let variants: [(String, mk_variant)] = [("scalar", MK_VARIANT_SCALAR), ("avx2", MK_VARIANT_AVX2),
                                            ("avx512", MK_VARIANT_AVX512), ("neon", MK_VARIANT_NEON)]
    let iterations: UInt64 = quick ? 200_000 : 2_000_000
    let rounds = quick ? 2 : 5
    for threads in Set(threadCounts).sorted() {
        var pool: OpaquePointer?
        guard mk_threadpool_create(threads, &pool) == MK_STATUS_OK else {
            throw HarnessError("could not start \(threads) threads for the peak measurement")
        }
        defer { mk_threadpool_destroy(pool) }
        let flops = UnsafeMutablePointer<UInt64>.allocate(capacity: threads)
        defer { flops.deallocate() }
        for (name, variant) in variants where mk_variant_available(variant) {
            var job = FMAJob(variant: variant, iterations: name == "scalar" ? iterations / 4 : iterations, flops: flops)
            var best = 0.0
            for _ in 0..<rounds {
                flops.initialize(repeating: 0, count: threads)
                let t0 = now()
                _ = mk_threadpool_parallelize_1d(pool, fmaTask, &job, threads, 1)
                let seconds = now() - t0
                let total = (0..<threads).reduce(0.0) { $0 + Double(flops[$1]) }
                best = max(best, total / seconds / 1e9)
            }
            peak.fmaGflops[name, default: [:]][threads] = best
        }
        let int8Variants: [(String, mk_variant)] = [
            ("scalar", MK_VARIANT_SCALAR), ("avx2", MK_VARIANT_AVX2), ("avxvnni", MK_VARIANT_AVXVNNI),
            ("avx512vnni", MK_VARIANT_AVX512VNNI), ("neon", MK_VARIANT_NEON), ("neondot", MK_VARIANT_NEONDOT)]
        for (name, variant) in int8Variants where mk_variant_available(variant) {
            var job = FMAJob(variant: variant, iterations: name == "scalar" ? iterations / 4 : iterations, flops: flops)
            var best = 0.0
            for _ in 0..<rounds {
                flops.initialize(repeating: 0, count: threads)
                let t0 = now()
                _ = mk_threadpool_parallelize_1d(pool, int8Task, &job, threads, 1)
                let seconds = now() - t0
                let total = (0..<threads).reduce(0.0) { $0 + Double(flops[$1]) }
                best = max(best, total / seconds / 1e9)
            }
            peak.int8Gops[name, default: [:]][threads] = best
        }
    }

    func bandwidth(bytes: Int, copy: Bool) -> Double {
        let count = bytes / 4
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        a.initialize(repeating: 1, count: count)
        b.initialize(repeating: 0, count: count)
        defer { a.deallocate(); b.deallocate() }
        let target = quick ? 32 << 20 : 512 << 20  // bytes moved per measurement
        let repeats = max(1, target / bytes)
        var best = 0.0
        for _ in 0..<(quick ? 2 : 4) {
            let t0 = now()
            if copy { mk_peak_copy(b, a, count, repeats) } else { _ = mk_peak_read(a, count, repeats) }
            let seconds = now() - t0
            best = max(best, Double(bytes * repeats * (copy ? 2 : 1)) / seconds / 1e9)
        }
        return best
    }
    peak.l1 = bandwidth(bytes: 16 << 10, copy: false)
    peak.l2 = bandwidth(bytes: 512 << 10, copy: false)
    peak.dram = bandwidth(bytes: quick ? 64 << 20 : 256 << 20, copy: false)
    peak.copy = bandwidth(bytes: 64 << 20, copy: true)
    return peak
}

/// An error of the harness itself (bad options, a case that cannot be built).
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
