import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Context of the counting tasks: one counter per item and the pool's thread count.
private struct Counting {
    var counts: UnsafeMutablePointer<Int32>
    var columns: Int
    var threads: Int
    var badThread: UnsafeMutablePointer<Int32>
}

private let count1D: mk_task_1d = { context, thread, start, count in
    let c = context!.assumingMemoryBound(to: Counting.self).pointee
    if thread >= c.threads { c.badThread.pointee = 1 }
    for i in start..<(start + count) { c.counts[i] += 1 }
}

private let count2D: mk_task_2d = { context, thread, i, j, ci, cj in
    let c = context!.assumingMemoryBound(to: Counting.self).pointee
    if thread >= c.threads { c.badThread.pointee = 1 }
    for a in i..<(i + ci) { for b in j..<(j + cj) { c.counts[a * c.columns + b] += 1 } }
}

/// Runs a 1D parallel-for over `range` and returns how often each item ran.
private func coverage1D(_ pool: OpaquePointer?, range: Int, tile: Int) -> (counts: [Int32], badThread: Bool) {
    var counts = [Int32](repeating: 0, count: max(range, 1))
    var bad: Int32 = 0
    counts.withUnsafeMutableBufferPointer { buffer in
        withUnsafeMutablePointer(to: &bad) { badPointer in
            var context = Counting(counts: buffer.baseAddress!, columns: 1, threads: mk_threadpool_threads(pool), badThread: badPointer)
            let status = mk_threadpool_parallelize_1d(pool, count1D, &context, range, tile)
            #expect(status == MK_STATUS_OK)
        }
    }
    return (Array(counts.prefix(range)), bad != 0)
}

@Suite("mk_threadpool")
struct ThreadPoolTests {
    @Test("1D: every index runs exactly once", arguments: [1, 2, 3, 4])
    func cover1D(threads: Int) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(threads, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        #expect(mk_threadpool_threads(pool) == threads)
        for range in [0, 1, 2, 7, 63, 64, 65, 1000, 4097] {
            for tile in [0, 1, 3, 16, 64, 1000, 5000] {
                let (counts, bad) = coverage1D(pool, range: range, tile: tile)
                #expect(counts.allSatisfy { $0 == 1 }, "threads \(threads) range \(range) tile \(tile)")
                #expect(!bad)
            }
        }
    }

    @Test("2D: every (i, j) runs exactly once", arguments: [1, 2, 3])
    func cover2D(threads: Int) throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(threads, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for (rows, columns) in [(0, 5), (5, 0), (1, 1), (7, 9), (33, 17), (100, 3)] {
            for (ti, tj) in [(1, 1), (2, 3), (8, 8), (0, 4), (100, 100)] {
                var counts = [Int32](repeating: 0, count: max(rows * columns, 1))
                var bad: Int32 = 0
                counts.withUnsafeMutableBufferPointer { buffer in
                    withUnsafeMutablePointer(to: &bad) { badPointer in
                        var context = Counting(counts: buffer.baseAddress!, columns: columns, threads: threads, badThread: badPointer)
                        #expect(mk_threadpool_parallelize_2d(pool, count2D, &context, rows, columns, ti, tj) == MK_STATUS_OK)
                    }
                }
                #expect(counts.prefix(rows * columns).allSatisfy { $0 == 1 }, "\(rows)x\(columns) tiles \(ti)x\(tj)")
                #expect(bad == 0)
            }
        }
    }

    @Test("a NULL pool runs inline")
    func nullPool() {
        let (counts, bad) = coverage1D(nil, range: 100, tile: 7)
        #expect(counts.allSatisfy { $0 == 1 })
        #expect(!bad)
    }

    @Test("many parallel-fors in a row on one pool (the spin and sleep paths)")
    func manyCalls() throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        for round in 0..<2000 {
            let range = 1 + round % 37
            let (counts, _) = coverage1D(pool, range: range, tile: 1 + round % 5)
            if !counts.allSatisfy({ $0 == 1 }) {
                Issue.record("round \(round) covered \(counts)")
                break
            }
            if round % 500 == 0 { usleep(3000) }  // let the workers fall asleep now and then
        }
    }

    @Test("two callers submitting to one pool at once are serialized and both complete")
    func concurrentSubmitters() throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        let shared = UnsafeSendable(pool)
        let results = UnsafeMutablePointer<Bool>.allocate(capacity: 4)
        results.initialize(repeating: false, count: 4)
        defer { results.deallocate() }
        let resultsBox = UnsafeSendable(results)
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            var ok = true
            for round in 0..<200 {
                let (counts, bad) = coverage1D(shared.value, range: 50 + caller + round % 13, tile: 3)
                ok = ok && counts.allSatisfy { $0 == 1 } && !bad
            }
            resultsBox.value[caller] = ok
        }
        for caller in 0..<4 { #expect(results[caller]) }
    }

    @Test("a parallel-for inside a task runs inline")
    func nested() throws {
        var pool: OpaquePointer?
        try #require(mk_threadpool_create(2, &pool) == MK_STATUS_OK)
        defer { mk_threadpool_destroy(pool) }
        struct Nested { var pool: OpaquePointer?; var counts: UnsafeMutablePointer<Int32>; var bad: UnsafeMutablePointer<Int32> }
        let outer: mk_task_1d = { context, _, start, count in
            let n = context!.assumingMemoryBound(to: Nested.self).pointee
            for i in start..<(start + count) {
                var inner = Counting(counts: n.counts + i * 10, columns: 1, threads: 1, badThread: n.bad)
                // Inline: the inner tasks run on this thread, as thread 0.
                _ = mk_threadpool_parallelize_1d(n.pool, count1D, &inner, 10, 2)
            }
        }
        var counts = [Int32](repeating: 0, count: 80)
        var bad: Int32 = 0
        counts.withUnsafeMutableBufferPointer { buffer in
            withUnsafeMutablePointer(to: &bad) { badPointer in
                var context = Nested(pool: pool, counts: buffer.baseAddress!, bad: badPointer)
                #expect(mk_threadpool_parallelize_1d(pool, outer, &context, 8, 1) == MK_STATUS_OK)
            }
        }
        #expect(counts.allSatisfy { $0 == 1 })
        #expect(bad == 0)
    }

    @Test("create and destroy many pools")
    func lifecycle() throws {
        for threads in [1, 2, 3, 8] {
            for _ in 0..<20 {
                var pool: OpaquePointer?
                try #require(mk_threadpool_create(threads, &pool) == MK_STATUS_OK)
                let (counts, _) = coverage1D(pool, range: 10, tile: 1)
                #expect(counts.allSatisfy { $0 == 1 })
                mk_threadpool_destroy(pool)
            }
        }
    }
}

/// Moves a pointer into a `@Sendable` closure (the test synchronizes through the pool).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
