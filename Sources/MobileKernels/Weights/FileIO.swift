#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// File I/O shared by the weight formats (safetensors, .npy): POSIX open/mmap/read/write.

/// Reading, mapping and writing whole files with the C library (errors are `.invalidFile`
/// naming the path and the system's reason).
enum WeightFileIO {
    /// The element count of `shape` (1 for `[]`), nil on overflow or when the bytes of F32 values
    /// could not be addressed.
    static func elementCount(_ shape: [Int]) -> Int? {
        var total = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            total = product
        }
        return total <= Int.max / 8 ? total : nil
    }

    private static func systemError(_ what: String, _ path: String) -> MobileKernelsError {
        MobileKernelsError(.invalidFile, "\(path): cannot \(what): \(String(cString: strerror(errno)))")
    }

    /// Opens a regular file for reading and returns its descriptor and size.
    private static func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw systemError("open", path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = systemError("stat", path)
            close(fd)
            throw error
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw MobileKernelsError(.invalidFile, "\(path): not a regular file")
        }
        return (fd, Int(info.st_size))
    }

    /// Maps the file read-only. Files shorter than 8 bytes are rejected here (a mapping cannot
    /// be empty; every weight format needs more).
    static func map(_ path: String) throws -> (UnsafeRawPointer, Int) {
        let (fd, size) = try openForReading(path)
        defer { close(fd) }
        guard size >= 8 else {
            throw MobileKernelsError(.invalidFile, "\(path): \(size) bytes is too short for a safetensors file (8-byte header length first)")
        }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              pointer != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw systemError("map", path)
        }
        return (UnsafeRawPointer(pointer), size)
    }

    /// The whole file.
    static func read(_ path: String) throws -> [UInt8] {
        let (fd, size) = try openForReading(path)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress! + done, size - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError("read", path)
            }
            if n == 0 { break }  // shrank meanwhile
            done += n
        }
        return done == size ? bytes : Array(bytes[..<done])
    }

    /// Writes the file at `path` atomically: `body` writes a new temporary file beside it, which
    /// is flushed to disk and renamed over `path` once `body` returns. On any error the temporary
    /// file is removed and whatever was at `path` is left as it was.
    static func writeAtomically(_ path: String, _ body: (Writer) throws -> Void) throws {
        let file = try Writer(replacing: path)
        try body(file)
        try file.commit()
    }

    /// A temporary file beside the path it will replace (`writeAtomically`); removed unless
    /// committed.
    final class Writer {
        private var fd: Int32 = -1
        private let path: String
        /// Until renamed over `path`: removed by deinit.
        private var temporaryPath: String?

        fileprivate init(replacing path: String) throws {
            self.path = path
            for _ in 0..<16 {
                let candidate = "\(path).tmp-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))"
                fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                if fd >= 0 { temporaryPath = candidate }
                if fd >= 0 || errno != EEXIST { break }
            }
            guard fd >= 0 else { throw WeightFileIO.systemError("create", path) }
        }

        deinit {
            if fd >= 0 { _ = sysClose(fd) }
            if let temporaryPath { unlink(temporaryPath) }
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = sysWrite(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WeightFileIO.systemError("write", path)
                }
                done += n
            }
        }

        func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        /// Floats as little-endian float32.
        func write(floats values: [Float]) throws {
            #if _endian(little)
            try values.withUnsafeBytes { try write($0) }
            #else
            try write(WeightFileIO.littleEndianBytes(values))
            #endif
        }

        /// Flushes the file to disk, closes it and renames it over `path`.
        fileprivate func commit() throws {
            guard fsync(fd) == 0 else { throw WeightFileIO.systemError("write", path) }
            let result = sysClose(fd)
            fd = -1
            guard result == 0 else { throw WeightFileIO.systemError("write", path) }
            guard rename(temporaryPath!, path) == 0 else { throw WeightFileIO.systemError("replace", path) }
            temporaryPath = nil
        }
    }

    /// `values` as little-endian float32 bytes.
    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        #if _endian(little)
        return values.withUnsafeBytes { Array($0) }
        #else
        return values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
        #endif
    }

    /// Little-endian float32 bytes as values (the inverse of `littleEndianBytes`); a trailing
    /// partial value is ignored.
    static func floats(littleEndian bytes: UnsafeRawBufferPointer) -> [Float] {
        let count = bytes.count / 4
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            #if _endian(little)
            if count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(4 * count)])) }
            #else
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
            initialized = count
        }
    }

    /// Checks that `count` values fill `shape`; errors start with `context`. Throws
    /// `.invalidArgument` for a negative dimension, `.sizeOverflow` when the element count does
    /// not fit in memory and `.shapeMismatch` when `count` is another number.
    static func checkShape(_ shape: [Int], count: Int, _ context: String) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw MobileKernelsError(.invalidArgument, "\(context): shape \(shape) has a negative dimension")
        }
        guard let expected = elementCount(shape) else {
            throw MobileKernelsError(.sizeOverflow, "\(context): shape \(shape) has more elements than memory can address")
        }
        guard expected == count else {
            throw MobileKernelsError(.shapeMismatch, "\(context): shape \(shape) needs \(expected) values, got \(count)")
        }
    }
}

// The C library's read, write and close, named apart from the methods above that shadow them.
@inline(__always) private func sysRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
@inline(__always) private func sysWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
@inline(__always) private func sysClose(_ fd: Int32) -> Int32 {
    close(fd)
}
