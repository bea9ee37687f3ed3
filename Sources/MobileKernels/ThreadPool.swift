internal import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pool of persistent worker threads that layers split their work over.
///
/// Results never depend on the thread count: every output element is computed by exactly one
/// thread in a fixed order. A pool with one thread runs everything on the caller's thread. Calls
/// from several threads into one pool are serialized; give each concurrent caller its own pool
/// to run in parallel.
public final class ThreadPool: @unchecked Sendable {
    let handle: OpaquePointer?

    /// The number of threads, the caller's included.
    public let threadCount: Int

    /// Creates a pool of `threads` threads (the calling thread counts as one); `nil` uses one
    /// thread per online CPU. Throws `.invalidArgument` for a count below 1 or above 1024.
    public init(threads: Int? = nil) throws {
        let count = threads ?? ThreadPool.processorCount
        guard count >= 1 else {
            throw MobileKernelsError(.invalidArgument, "ThreadPool(threads: \(count)): the count must be at least 1")
        }
        var pool: OpaquePointer?
        try check(mk_threadpool_create(count, &pool), "ThreadPool(threads: \(count))")
        handle = pool
        threadCount = Int(mk_threadpool_threads(pool))
    }

    deinit { mk_threadpool_destroy(handle) }

    /// The default pool: one thread per online CPU, created on first use.
    public static let shared: ThreadPool = {
        // Creating threads fails only when the system is out of resources; fall back to inline.
        (try? ThreadPool()) ?? ThreadPool(inline: ())
    }()

    /// A single-threaded pool: everything runs inline on the caller's thread.
    public static let serial: ThreadPool = ThreadPool(inline: ())

    private init(inline: Void) {
        handle = nil
        threadCount = 1
    }

    static var processorCount: Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return online > 0 ? online : 1
    }
}
