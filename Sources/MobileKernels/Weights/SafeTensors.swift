#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor listed in a safetensors header.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The key in the header ("features.0.0.weight").
    public let name: String
    /// The dtype string as written: "F32", "F16" and "BF16" load with `floats`, "I64", "I32",
    /// "I16", "I8" and "U8" with `integers`; the other safetensors dtypes ("F64", "U32", ...)
    /// and unknown strings are listed only.
    public let dtype: String
    /// The dimensions; `[]` is a scalar (one element), a 0 anywhere means no elements.
    public let shape: [Int]
    /// Where the tensor's bytes are, as absolute offsets in the file.
    public let byteRange: Range<Int>
}

/// A safetensors file: 8-byte little-endian header length N, N bytes of JSON naming every tensor
/// ({"dtype", "shape", "data_offsets": [begin, end]} relative to the data section, plus an
/// optional "__metadata__" object of strings), then the data section.
///
/// `init(path:)` maps the file read-only and validates the whole header up front, so `floats`
/// only reads bytes inside the mapping. Every malformed file throws `.invalidFile` with a message
/// naming the file and the tensor. Gaps between tensors and trailing bytes are allowed;
/// overlapping tensors are not. (As with any mapping, a file truncated by another process while
/// it is mapped makes reads of the lost pages fault.) `write` and `encode` make F32 files, with
/// the tensors they are asked to write as I64 (BatchNorm's num_batches_tracked) in I64.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The tensors in the order of their bytes in the file (empty tensors at the same offset in
    /// the header's order): for files made by `write`, the order they were written in.
    public let tensors: [SafeTensorInfo]
    /// The "__metadata__" entry (strings to strings), empty if absent.
    public let metadata: [String: String]

    private let base: UnsafeRawPointer
    private let byteCount: Int
    private let isMapped: Bool
    let source: String
    private let index: [String: Int]

    /// Maps the file at `path` (mmap, read-only) and validates its header and offsets.
    public init(path: String) throws {
        let (pointer, count) = try WeightFileIO.map(path)
        let header: ParsedSafeTensorsHeader
        do {
            header = try ParsedSafeTensorsHeader(UnsafeRawBufferPointer(start: pointer, count: count), source: path)
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: pointer), count)
            throw error
        }
        base = pointer
        byteCount = count
        isMapped = true
        source = path
        tensors = header.tensors
        metadata = header.metadata
        index = header.index
    }

    /// Validates `data` as a safetensors file and keeps a copy of it.
    public init(data: [UInt8]) throws {
        let name = "safetensors data (\(data.count) bytes)"
        let header = try data.withUnsafeBytes { try ParsedSafeTensorsHeader($0, source: name) }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        base = UnsafeRawPointer(copy)
        byteCount = data.count
        isMapped = false
        source = name
        tensors = header.tensors
        metadata = header.metadata
        index = header.index
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// The tensor named `name`, or nil.
    public func info(_ name: String) -> SafeTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// Tensor `name` and its bytes in the file; `.invalidFile` when there is no such tensor.
    private func data(_ name: String) throws -> (SafeTensorInfo, UnsafeRawBufferPointer) {
        guard let tensor = info(name) else {
            throw MobileKernelsError(.invalidFile, "\(source): no tensor named '\(name)' (the file has \(tensors.count) tensors)")
        }
        let range = tensor.byteRange
        // Checked once more so a bug in validation can never read outside the bytes.
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount, "tensor '\(name)' lies outside the file")
        return (tensor, UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// The values of tensor `name` as floats (F32, F16 and BF16, little-endian, in the file's
    /// row-major order). Throws `.invalidFile` when there is no such tensor or its dtype is another.
    public func floats(_ name: String) throws -> [Float] {
        let (tensor, bytes) = try data(name)
        let range = tensor.byteRange
        switch tensor.dtype {
        case "F32":
            return WeightFileIO.floats(littleEndian: bytes)
        case "F16":
            let count = range.count / 2
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    out[i] = floatFromHalf(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
                initialized = count
            }
        case "BF16":
            let count = range.count / 2
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
                initialized = count
            }
        default:
            throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' has dtype \(tensor.dtype); only F32, F16 and BF16 load as floats")
        }
    }

    /// Tensor `name`'s F32 values where they lie in the file, without a copy: valid while this
    /// file object lives. Nil when the tensor is not F32, not 4-byte aligned in the file, empty,
    /// or the host is big-endian (then `floats` converts).
    func borrowedFloats(_ name: String) throws -> UnsafeBufferPointer<Float>? {
        let (tensor, bytes) = try data(name)
        guard tensor.dtype == "F32", 1.littleEndian == 1, bytes.count >= MemoryLayout<Float>.size,
              let start = bytes.baseAddress, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: start.assumingMemoryBound(to: Float.self), count: bytes.count / MemoryLayout<Float>.size)
    }

    /// Gives back the resident pages of tensor `name`'s bytes once its values are copied or
    /// packed elsewhere (`madvise(MADV_DONTNEED)` on a mapped file, Linux; the pages it shares
    /// with a neighbour included: a later read faults them in again from the page cache, the
    /// mapping being private and never written). Nothing for a file held in memory.
    ///
    /// `elements` (of an F32 tensor) gives back those elements' pages only.
    func releasePages(_ name: String, elements: Range<Int>? = nil) {
        #if os(Linux)
        guard isMapped, let tensor = info(name), !tensor.byteRange.isEmpty else { return }
        var range = tensor.byteRange
        if let elements {
            let size = MemoryLayout<Float>.size
            guard tensor.dtype == "F32", elements.lowerBound >= 0, elements.upperBound * size <= range.count,
                  !elements.isEmpty else { return }
            range = (range.lowerBound + elements.lowerBound * size)..<(range.lowerBound + elements.upperBound * size)
        }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = range.lowerBound / page * page
        let end = min((range.upperBound + page - 1) / page * page, (byteCount + page - 1) / page * page)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
        #endif
    }

    /// The values of integer tensor `name` (I64, I32, I16, I8 or U8, little-endian, in the file's
    /// row-major order), e.g. PyTorch's num_batches_tracked (I64). Throws `.invalidFile` when
    /// there is no such tensor or its dtype is another.
    public func integers(_ name: String) throws -> [Int64] {
        let (tensor, bytes) = try data(name)
        let range = tensor.byteRange
        func load<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
            let size = MemoryLayout<T>.size
            return (0..<(range.count / size)).map { Int64(T(littleEndian: bytes.loadUnaligned(fromByteOffset: size * $0, as: T.self))) }
        }
        switch tensor.dtype {
        case "I64": return load(Int64.self)
        case "I32": return load(Int32.self)
        case "I16": return load(Int16.self)
        case "I8": return load(Int8.self)
        case "U8": return load(UInt8.self)
        default:
            throw MobileKernelsError(.invalidFile, "\(source): tensor '\(name)' has dtype \(tensor.dtype); only I64, I32, I16, I8 and U8 load as integers")
        }
    }

    /// Writes `tensors` as an F32 safetensors file at `path`, atomically (a temporary file beside
    /// `path`, renamed over it once complete). The header lists the tensors in the given order
    /// and their bytes follow, contiguous, in the same order (what `tensors` reads back);
    /// `metadata`, when not empty, is written as "__metadata__" (keys sorted) before them. The
    /// header is compact JSON padded with spaces to a multiple of 8 bytes. The tensors named in
    /// `int64` are written as I64 instead (PyTorch's dtype for num_batches_tracked); their values
    /// must be whole numbers of at most 2^53 in magnitude. The tensors named in `int8` are written
    /// as I8 (an int8 model's weights); their values must be whole numbers in [-128, 127].
    ///
    /// Throws `.invalidArgument` for a duplicate name, the reserved name "__metadata__", a
    /// negative dimension, a value of an I64 tensor that is not a whole number, or a header over
    /// the readers' 100 MB limit, `.sizeOverflow` for a shape
    /// with more elements than memory can address, `.shapeMismatch` when a tensor's values do
    /// not fill its shape, and `.invalidFile` when the file cannot be written (`path` is then
    /// left as it was).
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:],
                             int64: Set<String> = [], int8: Set<String> = [], to path: String) throws {
        let header = try encodeHeader(tensors, metadata: metadata, int64: int64, int8: int8, context: path)
        try WeightFileIO.writeAtomically(path) { file in
            try file.write(header)
            for t in tensors {
                if int64.contains(t.name) {
                    try file.write(int64Bytes(t.values))
                } else if int8.contains(t.name) {
                    try file.write(t.values.map { UInt8(bitPattern: Int8($0)) })
                } else {
                    try file.write(floats: t.values)
                }
            }
        }
    }

    /// The bytes `write` puts in a file, in memory (for `init(data:)`, tests and transport).
    /// Throws as `write` does, except `.invalidFile`.
    public static func encode(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:],
                              int64: Set<String> = [], int8: Set<String> = []) throws -> [UInt8] {
        var bytes = try encodeHeader(tensors, metadata: metadata, int64: int64, int8: int8, context: "safetensors encode")
        for t in tensors {
            bytes += int64.contains(t.name) ? int64Bytes(t.values)
                : int8.contains(t.name) ? t.values.map { UInt8(bitPattern: Int8($0)) }
                : WeightFileIO.littleEndianBytes(t.values)
        }
        return bytes
    }

    /// Whole-number `values` as little-endian int64 bytes (checked by `encodeHeader`).
    private static func int64Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } }
    }

    /// The 8-byte length and the padded JSON header of `tensors`, contiguous in order: F32, or
    /// I64 for the names in `int64`, I8 for those in `int8`.
    private static func encodeHeader(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String],
                                     int64: Set<String>, int8: Set<String>, context: String) throws -> [UInt8] {
        var entries: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            entries.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var seen = Set<String>()
        var offset = 0
        for t in tensors {
            guard t.name != "__metadata__" else {
                throw MobileKernelsError(.invalidArgument, "\(context): '__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(t.name).inserted else {
                throw MobileKernelsError(.invalidArgument, "\(context): two tensors are named '\(t.name)'")
            }
            try WeightFileIO.checkShape(t.shape, count: t.values.count, "\(context): tensor '\(t.name)'")
            let isInteger = int64.contains(t.name), isByte = int8.contains(t.name)
            guard !(isInteger && isByte) else {
                throw MobileKernelsError(.invalidArgument, "\(context): tensor '\(t.name)' is named as both I64 and I8")
            }
            if isInteger, let bad = t.values.first(where: { !($0.rounded() == $0 && abs($0) <= 0x1p53) }) {
                throw MobileKernelsError(.invalidArgument, "\(context): tensor '\(t.name)' is to be written as I64 but holds \(bad)")
            }
            if isByte, let bad = t.values.first(where: { !($0.rounded() == $0 && $0 >= -128 && $0 <= 127) }) {
                throw MobileKernelsError(.invalidArgument, "\(context): tensor '\(t.name)' is to be written as I8 but holds \(bad)")
            }
            let end = offset + (isInteger ? 8 : isByte ? 1 : 4) * t.values.count
            entries.append((t.name, .object([
                ("dtype", .string(isInteger ? "I64" : isByte ? "I8" : "F32")),
                ("shape", .array(t.shape.map { .number(String($0)) })),
                ("data_offsets", .array([.number(String(offset)), .number(String(end))])),
            ])))
            offset = end
        }
        var header = Array(JSONValue.object(entries).json.utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        guard header.count <= ParsedSafeTensorsHeader.maxHeaderLength else {
            throw MobileKernelsError(.invalidArgument, "\(context): the header would be \(header.count) bytes, over the \(ParsedSafeTensorsHeader.maxHeaderLength) bytes readers accept")
        }
        return (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header
    }
}

/// The validated contents of a safetensors header.
private struct ParsedSafeTensorsHeader {
    var tensors: [SafeTensorInfo] = []
    var metadata: [String: String] = [:]
    var index: [String: Int] = [:]

    /// Bytes per element times 8 of the safetensors dtypes (sub-byte types pack bits).
    static let dtypeBits: [String: Int] = [
        "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
        "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32,
        "I64": 64, "U64": 64, "F64": 64, "C64": 64,
        "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    ]

    /// The largest header accepted (the reference implementation's limit).
    static let maxHeaderLength = 100_000_000

    init(_ file: UnsafeRawBufferPointer, source: String) throws {
        func fail(_ message: String) -> MobileKernelsError {
            MobileKernelsError(.invalidFile, "\(source): \(message)")
        }
        guard file.count >= 8 else {
            throw fail("\(file.count) bytes is too short for a safetensors file (8-byte header length first)")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(file[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(Self.maxHeaderLength) else {
            throw fail("header length \(n) is absurd (over \(Self.maxHeaderLength) bytes): not a safetensors file")
        }
        guard n <= UInt64(file.count - 8) else {
            throw fail("header length \(n) runs past the end of the file (\(file.count) bytes)")
        }
        let headerEnd = 8 + Int(n)
        let dataSize = file.count - headerEnd
        var parser = StrictJSONParser(UnsafeRawBufferPointer(rebasing: file[8..<headerEnd]), source: source)
        guard case .object(let entries) = try parser.parseDocument() else {
            throw fail("the header is not a JSON object")
        }

        var occupied: [(range: Range<Int>, name: String)] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                switch value {
                case .null: continue
                case .object(let pairs):
                    for (key, v) in pairs {
                        guard case .string(let s) = v else {
                            throw fail("__metadata__ value for '\(key)' must be a string, got \(v.brief)")
                        }
                        metadata[key] = s
                    }
                    continue
                default:
                    throw fail("__metadata__ must be an object of strings, got \(value.brief)")
                }
            }
            func bad(_ message: String) -> MobileKernelsError { fail("tensor '\(name)': \(message)") }
            guard case .object(let fields) = value else {
                throw bad("entry must be an object with dtype, shape and data_offsets, got \(value.brief)")
            }
            func field(_ key: String) throws -> JSONValue {
                guard let v = fields.first(where: { $0.key == key })?.value else { throw bad("missing \"\(key)\"") }
                return v
            }
            guard case .string(let dtype) = try field("dtype") else {
                throw bad("dtype must be a string, got \(try field("dtype").brief)")
            }
            guard case .array(let dims) = try field("shape") else {
                throw bad("shape must be an array of integers, got \(try field("shape").brief)")
            }
            var shape: [Int] = []
            for d in dims {
                guard let v = d.integer else { throw bad("shape must be an array of integers, got \(try field("shape").brief)") }
                guard v >= 0 else { throw bad("shape \(try field("shape").brief) has a negative dimension") }
                shape.append(v)
            }
            guard let count = WeightFileIO.elementCount(shape) else { throw bad("shape \(shape) has more elements than memory can address") }
            guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2,
                  let begin = offsets[0].integer, let end = offsets[1].integer else {
                throw bad("data_offsets must be two integers [begin, end], got \(try field("data_offsets").brief)")
            }
            guard begin >= 0 else { throw bad("data_offsets [\(begin), \(end)] begins before the data section") }
            guard begin <= end else { throw bad("data_offsets [\(begin), \(end)] begin after end") }
            guard end <= dataSize else {
                throw bad("data_offsets [\(begin), \(end)] end past the data section (\(dataSize) bytes)")
            }
            if let bits = Self.dtypeBits[dtype] {
                let (totalBits, overflow) = count.multipliedReportingOverflow(by: bits)
                guard !overflow, totalBits % 8 == 0, totalBits / 8 == end - begin else {
                    throw bad("\(end - begin) bytes at data_offsets [\(begin), \(end)] do not hold shape \(shape) of \(dtype) (\(overflow ? "too many" : totalBits % 8 == 0 ? String(totalBits / 8) : "a fractional number of") bytes)")
                }
            }
            let range = (headerEnd + begin)..<(headerEnd + end)
            tensors.append(SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: range))
            if !range.isEmpty { occupied.append((range, name)) }
        }

        occupied.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        for (a, b) in zip(occupied, occupied.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap (bytes \(a.range) and \(b.range))")
        }

        // By offset; ties (empty tensors at one offset) in the header's order.
        tensors = tensors.enumerated().sorted {
            ($0.element.byteRange.lowerBound, $0.element.byteRange.upperBound, $0.offset) < ($1.element.byteRange.lowerBound, $1.element.byteRange.upperBound, $1.offset)
        }.map(\.element)
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }
}

/// IEEE 754 binary16 bits to Float, exactly (subnormals, infinities, NaN payloads kept).
@inline(__always)
private func floatFromHalf(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa * 2^-24, exact in Float.
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: magnitude.bitPattern | sign)
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
