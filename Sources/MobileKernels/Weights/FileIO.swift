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

    /// A file created (or truncated) for writing; `close()` reports a failed final flush.
    final class Writer {
        private var fd: Int32
        private let path: String

        init(path: String) throws {
            self.path = path
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw WeightFileIO.systemError("create", path) }
        }

        deinit { if fd >= 0 { _ = sysClose(fd) } }

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
            try write(values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern.littleEndian >> (8 * $0)) } })
            #endif
        }

        func close() throws {
            let result = sysClose(fd)
            fd = -1
            guard result == 0 else { throw WeightFileIO.systemError("write", path) }
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
