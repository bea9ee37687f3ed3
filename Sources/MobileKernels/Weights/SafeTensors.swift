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
    /// The dtype string as written: "F32", "F16" and "BF16" load with `floats`; the other
    /// safetensors dtypes ("I64", "U8", "F64", ...) and unknown strings are listed only.
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
/// it is mapped makes reads of the lost pages fault.)
public final class SafeTensorsFile: @unchecked Sendable {
    /// The tensors in the order of their bytes in the file.
    public let tensors: [SafeTensorInfo]
    /// The "__metadata__" entry (strings to strings), empty if absent.
    public let metadata: [String: String]

    private let base: UnsafeRawPointer
    private let byteCount: Int
    private let isMapped: Bool
    private let source: String
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

    /// The values of tensor `name` as floats (F32, F16 and BF16, little-endian, in the file's
    /// row-major order). Throws `.invalidFile` when there is no such tensor or its dtype is another.
    public func floats(_ name: String) throws -> [Float] {
        guard let tensor = info(name) else {
            throw MobileKernelsError(.invalidFile, "\(source): no tensor named '\(name)' (the file has \(tensors.count) tensors)")
        }
        let range = tensor.byteRange
        // Checked once more so a bug in validation can never read outside the bytes.
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount, "tensor '\(name)' lies outside the file")
        let bytes = UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
        switch tensor.dtype {
        case "F32":
            let count = range.count / 4
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                #if _endian(little)
                if count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: bytes) }
                #else
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
                #endif
                initialized = count
            }
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

    /// Writes an F32 safetensors file: tensors in sorted-name order, contiguous, header keys
    /// sorted ("__metadata__" first when not empty), header padded with spaces to a multiple of
    /// 8 bytes. Throws `.shapeMismatch` when a tensor's values do not fill its shape,
    /// `.invalidArgument` for a negative dimension or a duplicate or reserved name, and
    /// `.invalidFile` when the file cannot be written.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:], to path: String) throws {
        var seen = Set<String>()
        for t in tensors {
            guard t.name != "__metadata__" else {
                throw MobileKernelsError(.invalidArgument, "\(path): '__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(t.name).inserted else {
                throw MobileKernelsError(.invalidArgument, "\(path): two tensors are named '\(t.name)'")
            }
            guard t.shape.allSatisfy({ $0 >= 0 }) else {
                throw MobileKernelsError(.invalidArgument, "\(path): tensor '\(t.name)' has a negative dimension in shape \(t.shape)")
            }
            guard let count = WeightFileIO.elementCount(t.shape), count == t.values.count else {
                throw MobileKernelsError(.shapeMismatch, "\(path): tensor '\(t.name)' of shape \(t.shape) needs \(WeightFileIO.elementCount(t.shape).map(String.init) ?? "too many") values, got \(t.values.count)")
            }
        }
        let sorted = tensors.sorted { $0.name < $1.name }
        var header = "{"
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for t in sorted {
            let end = offset + 4 * t.values.count
            entries.append("\(jsonString(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
        var prefix = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: UInt64(headerBytes.count) >> (8 * UInt64(i))) }

        let file = try WeightFileIO.Writer(path: path)
        try file.write(prefix)
        try file.write(headerBytes)
        for t in sorted { try file.write(floats: t.values) }
        try file.close()
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
    static let maxHeaderLength: UInt64 = 100_000_000

    init(_ file: UnsafeRawBufferPointer, source: String) throws {
        func fail(_ message: String) -> MobileKernelsError {
            MobileKernelsError(.invalidFile, "\(source): \(message)")
        }
        guard file.count >= 8 else {
            throw fail("\(file.count) bytes is too short for a safetensors file (8-byte header length first)")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(file[i]) << (8 * UInt64(i)) }
        guard n <= Self.maxHeaderLength else {
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
            index[name] = tensors.count
            tensors.append(SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: range))
            if !range.isEmpty { occupied.append((range, name)) }
        }

        occupied.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        for (a, b) in zip(occupied, occupied.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap (bytes \(a.range) and \(b.range))")
        }

        tensors.sort {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name)
        }
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

/// `s` as a JSON string literal.
private func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

// MARK: - JSON

/// A JSON value; numbers keep their literal text so integers are read exactly.
enum JSONValue {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// The value as an Int: only a literal without fraction or exponent that fits in Int.
    var integer: Int? {
        guard case .number(let text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int(text)
    }

    /// Compact JSON text for error messages, cut at 80 characters.
    var brief: String {
        let text = self.text
        return text.count <= 80 ? text : String(text.prefix(77)) + "..."
    }

    private var text: String {
        switch self {
        case .object(let pairs): "{" + pairs.prefix(8).map { "\(jsonString($0.key)): \($0.value.text)" }.joined(separator: ", ") + (pairs.count > 8 ? ", ...}" : "}")
        case .array(let items): "[" + items.prefix(16).map(\.text).joined(separator: ", ") + (items.count > 16 ? ", ...]" : "]")
        case .string(let s): jsonString(s)
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }
}

/// An RFC 8259 JSON parser over bytes: no extensions, duplicate keys rejected, nesting limited,
/// strings must be valid UTF-8.
struct StrictJSONParser {
    private let bytes: UnsafeRawBufferPointer
    private let source: String
    private var position = 0
    private var depth = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// One value, surrounded only by whitespace.
    mutating func parseDocument() throws -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected \(describeNext) after the JSON value") }
        return value
    }

    private func error(_ message: String) -> MobileKernelsError {
        MobileKernelsError(.invalidFile, "\(source): header is not valid JSON: \(message) at header byte \(position)")
    }

    private var describeNext: String {
        guard position < bytes.count else { return "end of header" }
        let b = bytes[position]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))', found \(describeNext)") }
        position += 1
    }

    private mutating func parseValue() throws -> JSONValue {
        switch peek {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case let b? where b == UInt8(ascii: "-") || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")):
            return .number(try parseNumber())
        default: throw error("expected a value, found \(describeNext)")
        }
    }

    private mutating func literal(_ word: String) throws {
        for b in word.utf8 {
            guard peek == b else { throw error("expected '\(word)'") }
            position += 1
        }
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
    }

    private mutating func parseObject() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position += 1
        var pairs: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            position += 1
            return .object(pairs)
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string key, found \(describeNext)") }
            let keyStart = position
            let key = try parseString()
            guard keys.insert(key).inserted else {
                position = keyStart
                throw error("duplicate key \(jsonString(key))")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            pairs.append((key, try parseValue()))
            skipWhitespace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"))
            return .object(pairs)
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"))
            return .array(items)
        }
    }

    private mutating func parseNumber() throws -> String {
        let start = position
        func digits() -> Int {
            let from = position
            while let b = peek, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { position += 1 }
            return position - from
        }
        if peek == UInt8(ascii: "-") { position += 1 }
        if peek == UInt8(ascii: "0") {
            position += 1
        } else if digits() == 0 {
            throw error("malformed number")
        }
        if peek == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw error("malformed number") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw error("malformed number") }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    private mutating func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let b = peek else { throw error("truncated \\u escape") }
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw error("bad hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func parseString() throws -> String {
        position += 1
        var utf8: [UInt8] = []
        while true {
            guard let b = peek else { throw error("unterminated string") }
            position += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: utf8, as: UTF8.self) else {
                    throw error("string is not valid UTF-8")
                }
                return s
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw error("unterminated string") }
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard peek == UInt8(ascii: "\\") else { throw error("unpaired surrogate in \\u escape") }
                        position += 1
                        guard peek == UInt8(ascii: "u") else { throw error("unpaired surrogate in \\u escape") }
                        position += 1
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("unpaired surrogate in \\u escape") }
                    utf8.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    position -= 1
                    throw error("invalid escape \\\(Character(Unicode.Scalar(e)))")
                }
            case 0x00..<0x20:
                position -= 1
                throw error("control character 0x\(String(b, radix: 16)) inside a string")
            default:
                utf8.append(b)
            }
        }
    }
}

// MARK: - Files

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
