/// An array read from an IDX file (the format of MNIST and Fashion-MNIST): its dimensions and
/// its unsigned bytes in row-major order.
public struct IDXArray: Sendable, Equatable {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }
}

/// IDX files: two zero bytes, a type byte (0x08: unsigned bytes, the only type the data sets
/// use), a dimension count, each dimension as a big-endian 32-bit integer, then the data. Read
/// plain or gzip-compressed (as the data sets ship).
public enum IDX {
    /// Reads the IDX file at `path` (`.gz` or not: told by its first bytes).
    /// - Throws: `.invalidFile` for a file that cannot be read, corrupt or truncated gzip, a
    ///   wrong magic number, a type other than unsigned bytes, no or zero dimensions, or a data
    ///   size other than the dimensions' product (the message names the file).
    public static func read(_ path: String) throws -> IDXArray {
        var bytes = try WeightFileIO.read(path)
        if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, name: path) }
        return try parse(bytes, name: path)
    }

    /// Parses an uncompressed IDX file's bytes (see `read`).
    public static func parse(_ bytes: [UInt8], name: String = "IDX data") throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw MobileKernelsError(.invalidFile, "\(name): \(bytes.count) bytes, too short for an IDX header")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw MobileKernelsError(.invalidFile, "\(name): not an IDX file (magic number starts \(hex(bytes[0])) \(hex(bytes[1])), expected 00 00)")
        }
        guard bytes[2] == 0x08 else {
            let names: [UInt8: String] = [0x09: "signed bytes", 0x0B: "16-bit integers", 0x0C: "32-bit integers",
                                          0x0D: "float32", 0x0E: "float64"]
            throw MobileKernelsError(.invalidFile, "\(name): IDX data of type \(hex(bytes[2])) (\(names[bytes[2]] ?? "unknown")); only unsigned bytes (08), as MNIST and Fashion-MNIST use, are read")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw MobileKernelsError(.invalidFile, "\(name): IDX file with no dimensions") }
        let header = 4 + 4 * rank
        guard bytes.count >= header else {
            throw MobileKernelsError(.invalidFile, "\(name): truncated IDX header (\(bytes.count) bytes for \(rank) dimensions)")
        }
        var dimensions: [Int] = []
        var count = 1
        for d in 0..<rank {
            let at = 4 + 4 * d
            let value = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            guard value >= 1 else { throw MobileKernelsError(.invalidFile, "\(name): IDX dimension \(d) is 0") }
            let (product, overflow) = count.multipliedReportingOverflow(by: value)
            guard !overflow else { throw MobileKernelsError(.invalidFile, "\(name): IDX dimensions \(dimensions + [value]) overflow") }
            dimensions.append(value)
            count = product
        }
        guard bytes.count - header == count else {
            throw MobileKernelsError(.invalidFile, "\(name): IDX dimensions \(dimensions) need \(count) data bytes, the file has \(bytes.count - header)\(bytes.count - header < count ? " (truncated)" : "")")
        }
        return IDXArray(dimensions: dimensions, bytes: Array(bytes[header...]))
    }

    /// The bytes of an IDX file of unsigned bytes (for tests and tools that write data sets).
    public static func encode(_ array: IDXArray) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(array.dimensions.count)]
        for d in array.dimensions { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return out + array.bytes
    }

    private static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
