internal import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The shape of an NHWC tensor: batch, height, width, channels (channels vary fastest).
public struct TensorShape: Hashable, Sendable, CustomStringConvertible {
    public let n: Int
    public let h: Int
    public let w: Int
    public let c: Int

    /// The number of elements, n * h * w * c.
    public let count: Int

    /// Throws `.invalidArgument` for a dimension below 1 and `.sizeOverflow` when the tensor
    /// could not be addressed (more than Int.max / 4 bytes).
    public init(n: Int = 1, h: Int, w: Int, c: Int) throws {
        guard n >= 1, h >= 1, w >= 1, c >= 1 else {
            throw MobileKernelsError(.invalidArgument, "tensor shape [\(n), \(h), \(w), \(c)] (NHWC): every dimension must be at least 1")
        }
        // Three products, not a loop over [h, w, c]: an array per shape, and shapes are made on
        // every training step.
        let (nh, o1) = n.multipliedReportingOverflow(by: h)
        let (nhw, o2) = nh.multipliedReportingOverflow(by: w)
        let (total, o3) = nhw.multipliedReportingOverflow(by: c)
        guard !o1, !o2, !o3, total <= Int.max / MemoryLayout<Float>.stride else {
            throw MobileKernelsError(.sizeOverflow, "tensor shape [\(n), \(h), \(w), \(c)] (NHWC) has more elements than memory can address")
        }
        self.n = n
        self.h = h
        self.w = w
        self.c = c
        self.count = total
    }

    /// Pixels per batch item times batch: the number of rows of `c` channels.
    public var pixels: Int { count / c }

    public var description: String { "[\(n), \(h), \(w), \(c)]" }
}

/// 64-byte-aligned float storage shared by tensors until one of them writes (copy on write).
final class TensorStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int, shape: TensorShape) throws {
        guard let raw = mk_aligned_alloc(count * MemoryLayout<Float>.stride) else {
            throw MobileKernelsError(.outOfMemory, "tensor \(shape) (\(count * MemoryLayout<Float>.stride) bytes)")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: count)
        self.count = count
    }

    func copy(shape: TensorShape) throws -> TensorStorage {
        let new = try TensorStorage(count: count, shape: shape)
        new.pointer.update(from: pointer, count: count)
        return new
    }

    deinit { mk_aligned_free(pointer) }
}

/// An NHWC float32 tensor with 64-byte-aligned storage and value semantics (copy on write).
///
/// PyTorch users: `Tensor(shape:nchw:)` takes data in PyTorch's [N, C, H, W] order and
/// `toNCHW()` returns it; the kernels work on channels-last data.
public struct Tensor: Sendable, CustomStringConvertible {
    public let shape: TensorShape
    var storage: TensorStorage

    /// A tensor filled with `value`.
    public init(shape: TensorShape, repeating value: Float = 0) throws {
        self.shape = shape
        storage = try TensorStorage(count: shape.count, shape: shape)
        storage.pointer.initialize(repeating: value, count: shape.count)
    }

    /// A tensor from NHWC-ordered values; throws `.shapeMismatch` when the count differs.
    public init(shape: TensorShape, nhwc values: [Float]) throws {
        guard values.count == shape.count else {
            throw MobileKernelsError(.shapeMismatch, "tensor \(shape) (NHWC) needs \(shape.count) values, got \(values.count)")
        }
        self.shape = shape
        storage = try TensorStorage(count: shape.count, shape: shape)
        values.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: shape.count) }
    }

    /// A tensor from values in PyTorch's NCHW order (converted to NHWC).
    public init(shape: TensorShape, nchw values: [Float]) throws {
        guard values.count == shape.count else {
            throw MobileKernelsError(.shapeMismatch, "tensor \(shape) (given as NCHW [\(shape.n), \(shape.c), \(shape.h), \(shape.w)]) needs \(shape.count) values, got \(values.count)")
        }
        self.shape = shape
        storage = try TensorStorage(count: shape.count, shape: shape)
        let (n, h, w, c) = (shape.n, shape.h, shape.w, shape.c)
        let out = storage.pointer
        values.withUnsafeBufferPointer { src in
            for b in 0..<n {
                for ch in 0..<c {
                    for y in 0..<h {
                        let srcRow = ((b * c + ch) * h + y) * w
                        let dstRow = (b * h + y) * w
                        for x in 0..<w { (out + (dstRow + x) * c + ch).initialize(to: src[srcRow + x]) }
                    }
                }
            }
        }
    }

    /// The values in NHWC order.
    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: shape.count))
    }

    /// The values in PyTorch's NCHW order.
    public func toNCHW() -> [Float] {
        let (n, h, w, c) = (shape.n, shape.h, shape.w, shape.c)
        let src = storage.pointer
        return [Float](unsafeUninitializedCapacity: shape.count) { out, initialized in
            for b in 0..<n {
                for ch in 0..<c {
                    for y in 0..<h {
                        let dstRow = ((b * c + ch) * h + y) * w
                        let srcRow = (b * h + y) * w
                        for x in 0..<w { out[dstRow + x] = src[(srcRow + x) * c + ch] }
                    }
                }
            }
            initialized = shape.count
        }
    }

    /// The element at batch `n`, row `y`, column `x`, channel `c` (bounds-checked).
    public subscript(n n: Int, y y: Int, x x: Int, c c: Int) -> Float {
        get { storage.pointer[index(n, y, x, c)] }
        set {
            let i = index(n, y, x, c)
            makeUnique()
            storage.pointer[i] = newValue
        }
    }

    private func index(_ b: Int, _ y: Int, _ x: Int, _ ch: Int) -> Int {
        precondition(b >= 0 && b < shape.n && y >= 0 && y < shape.h && x >= 0 && x < shape.w && ch >= 0 && ch < shape.c,
                     "index [\(b), \(y), \(x), \(ch)] is outside tensor \(shape)")
        return ((b * shape.h + y) * shape.w + x) * shape.c + ch
    }

    /// Calls `body` with the NHWC values; the pointer must not escape `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: shape.count))
    }

    /// Calls `body` with the NHWC values for writing (copies first if the storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: shape.count))
    }

    /// Whether two tensors share storage (for tests of copy on write).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            // The shape was allocated once already, so only a true out-of-memory can fail here.
            guard let copy = try? storage.copy(shape: shape) else {
                fatalError("out of memory copying tensor \(shape)")
            }
            storage = copy
        }
    }

    public var description: String { "Tensor\(shape)" }
}
