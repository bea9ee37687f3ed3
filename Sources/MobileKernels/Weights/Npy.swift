/// NumPy's .npy format for float32 arrays and integer class labels: magic "\x93NUMPY", version
/// (1.0: 2-byte header length; 2.0 and 3.0: 4-byte), a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }` padded with spaces
/// and ending in "\n", then the values in C (row-major) order.
///
/// `read` loads only little-endian float32 ('<f4') in C order and `readLabels` only
/// little-endian int64 ('<i8') or int32 ('<i4') in C order; anything else throws `.invalidFile`
/// naming the problem. Writing produces version 1.0 with the data at a multiple of 64 bytes, as
/// `numpy.save` does.
public enum Npy {
    /// Reads the .npy file at `path`.
    public static func read(path: String) throws -> (shape: [Int], values: [Float]) {
        let bytes = try WeightFileIO.read(path)
        return try bytes.withUnsafeBytes { try decodeFloats($0, source: path) }
    }

    /// Reads .npy bytes.
    public static func read(data: [UInt8]) throws -> (shape: [Int], values: [Float]) {
        try data.withUnsafeBytes { try decodeFloats($0, source: "npy data (\(data.count) bytes)") }
    }

    /// Reads the class labels in the .npy file at `path`: int64 ('<i8') or int32 ('<i4'), any
    /// shape (a shape with a zero dimension gives no labels). The values are returned as they
    /// are, negative ones included: checking them against a class count is the caller's job.
    public static func readLabels(path: String) throws -> (shape: [Int], values: [Int]) {
        let bytes = try WeightFileIO.read(path)
        return try bytes.withUnsafeBytes { try decodeLabels($0, source: path) }
    }

    /// Reads class labels from .npy bytes (see `readLabels(path:)`).
    public static func readLabels(data: [UInt8]) throws -> (shape: [Int], values: [Int]) {
        try data.withUnsafeBytes { try decodeLabels($0, source: "npy data (\(data.count) bytes)") }
    }

    /// Writes `values` with `shape` as a version 1.0 '<f4' C-order .npy file, atomically (a
    /// temporary file beside `path` renamed over it). Throws `.invalidArgument` for a negative
    /// dimension, `.sizeOverflow` for a shape too large to address, `.shapeMismatch` when the
    /// values do not fill the shape and `.invalidFile` when the file cannot be written.
    public static func write(shape: [Int], values: [Float], to path: String) throws {
        try WeightFileIO.checkShape(shape, count: values.count, path)
        try WeightFileIO.writeAtomically(path) { file in
            try file.write(header(shape: shape, element: .float32))
            try file.write(floats: values)
        }
    }

    /// Writes `labels` with `shape` as a version 1.0 '<i8' (int64) C-order .npy file, atomically,
    /// throwing as `write(shape:values:to:)` does.
    public static func write(shape: [Int], labels: [Int], to path: String) throws {
        try WeightFileIO.checkShape(shape, count: labels.count, path)
        try WeightFileIO.writeAtomically(path) { file in
            try file.write(header(shape: shape, element: .int64))
            try labels.map { Int64($0).littleEndian }.withUnsafeBytes { try file.write($0) }
        }
    }

    /// The .npy bytes of `values` with `shape`. The values must fill the shape (checked with a
    /// precondition; `write` throws instead).
    public static func encode(shape: [Int], values: [Float]) -> [UInt8] {
        do {
            try WeightFileIO.checkShape(shape, count: values.count, "Npy.encode")
        } catch {
            preconditionFailure("\(error)")
        }
        return header(shape: shape, element: .float32) + WeightFileIO.littleEndianBytes(values)
    }

    /// Magic, version, header length and the padded dict: the data starts at a multiple of 64.
    /// Version 1.0 unless the dict needs more than 65535 bytes (thousands of dimensions).
    private static func header(shape: [Int], element: Element) -> [UInt8] {
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = Array("{'descr': '\(element.descr)', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        for (major, lengthSize) in [(UInt8(1), 2), (UInt8(2), 4)] {
            let preamble = 8 + lengthSize
            let unpadded = preamble + dict.count + 1  // + "\n"
            let total = (unpadded + 63) / 64 * 64
            let length = total - preamble
            guard lengthSize == 4 || length <= Int(UInt16.max) else { continue }
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
            for i in 0..<lengthSize { bytes.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
            bytes += dict
            bytes += [UInt8](repeating: 0x20, count: total - unpadded)
            bytes.append(0x0A)
            return bytes
        }
        preconditionFailure("unreachable: version 2.0 always fits")
    }

    /// An element type the readers accept: its descr, its name in messages and its size in bytes.
    private struct Element: Equatable {
        let descr: String
        let name: String
        let size: Int

        static let float32 = Element(descr: "<f4", name: "float32", size: 4)
        static let int64 = Element(descr: "<i8", name: "int64", size: 8)
        static let int32 = Element(descr: "<i4", name: "int32", size: 4)
    }

    private static func decodeFloats(_ file: UnsafeRawBufferPointer, source: String) throws -> (shape: [Int], values: [Float]) {
        let (shape, _, data) = try decode(file, source: source, accepting: [.float32], expected: "only little-endian float32 '<f4' loads")
        let values = WeightFileIO.floats(littleEndian: data)
        return (shape, values)
    }

    private static func decodeLabels(_ file: UnsafeRawBufferPointer, source: String) throws -> (shape: [Int], values: [Int]) {
        let (shape, element, data) = try decode(file, source: source, accepting: [.int64, .int32],
                                                expected: "class labels must be int64 ('<i8') or int32 ('<i4')")
        // Int holds every int64 on 64-bit platforms (a 32-bit one would trap on a label past Int32).
        let values: [Int] = element == .int64
            ? (0..<data.count / 8).map { Int(Int64(littleEndian: data.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
            : (0..<data.count / 4).map { Int(Int32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        return (shape, values)
    }

    /// Checks the magic, version and header of `file`, that its dtype is one of `accepted` (else
    /// the error says `expected`) and that its data exactly fills the shape: the shape, the
    /// element type and the data bytes. Every error is `.invalidFile` starting with `source`.
    private static func decode(_ file: UnsafeRawBufferPointer, source: String, accepting accepted: [Element],
                               expected: String) throws -> (shape: [Int], element: Element, data: UnsafeRawBufferPointer) {
        func fail(_ message: String) -> MobileKernelsError {
            MobileKernelsError(.invalidFile, "\(source): \(message)")
        }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard file.count >= 8, file.prefix(6).elementsEqual(magic) else {
            throw fail("not a .npy file (no \\x93NUMPY magic)")
        }
        let (major, minor) = (file[6], file[7])
        let lengthSize: Int
        switch (major, minor) {
        case (1, 0): lengthSize = 2
        case (2, 0), (3, 0): lengthSize = 4
        default: throw fail(".npy version \(major).\(minor) is not supported (1.0, 2.0 and 3.0 are)")
        }
        let headerStart = 8 + lengthSize
        guard file.count >= headerStart else {
            throw fail("truncated in the header length (\(file.count) bytes)")
        }
        var length = 0
        for i in 0..<lengthSize { length |= Int(file[8 + i]) << (8 * i) }
        guard length <= file.count - headerStart else {
            throw fail("header length \(length) runs past the end of the file (\(file.count) bytes)")
        }
        let dataStart = headerStart + length
        var parser = PythonLiteralParser(UnsafeRawBufferPointer(rebasing: file[headerStart..<dataStart]), source: source)
        let entries = try parser.parseHeaderDict()

        var descr: PythonLiteral?, fortranOrder: PythonLiteral?, shapeValue: PythonLiteral?
        for (key, value) in entries {
            switch key {
            case "descr": descr = value
            case "fortran_order": fortranOrder = value
            case "shape": shapeValue = value
            default: throw fail("unexpected key '\(key)' in the header (expected descr, fortran_order, shape)")
            }
        }
        guard let descr, let fortranOrder, let shapeValue else {
            let missing = [("descr", descr), ("fortran_order", fortranOrder), ("shape", shapeValue)].filter { $0.1 == nil }.map(\.0)
            throw fail("header lacks \(missing.joined(separator: ", "))")
        }
        guard case .string(let dtype) = descr, let element = accepted.first(where: { $0.descr == dtype }) else {
            throw fail("dtype \(descr) is not supported: \(expected)")
        }
        guard case .bool(let fortran) = fortranOrder else {
            throw fail("fortran_order must be True or False, got \(fortranOrder)")
        }
        guard !fortran else {
            throw fail("fortran_order True (column-major) is not supported: save a C-order array (numpy.ascontiguousarray)")
        }
        guard case .tuple(let dims) = shapeValue else {
            throw fail("shape must be a tuple of integers, got \(shapeValue)")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v) = d else { throw fail("shape must be a tuple of integers, got \(shapeValue)") }
            guard v >= 0 else { throw fail("shape \(shapeValue) has a negative dimension") }
            shape.append(v)
        }
        guard let count = WeightFileIO.elementCount(shape) else {
            throw fail("shape \(shapeValue) has more elements than memory can address")
        }
        let needed = element.size * count  // elementCount keeps this within Int
        let available = file.count - dataStart
        guard available >= needed else {
            throw fail("truncated data: shape \(shape) needs \(needed) bytes of \(element.name), the file has \(available)")
        }
        guard available == needed else {
            throw fail("data is \(available) bytes but shape \(shape) needs \(needed) bytes of \(element.name)")
        }
        return (shape, element, UnsafeRawBufferPointer(rebasing: file[dataStart...]))
    }
}

/// The Python literals a .npy header holds.
private indirect enum PythonLiteral: Equatable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)
    case noneValue
    case tuple([PythonLiteral])
    case list([PythonLiteral])

    var description: String {
        switch self {
        case .string(let s): "'\(s)'"
        case .int(let v): String(v)
        case .bool(let b): b ? "True" : "False"
        case .noneValue: "None"
        case .tuple(let items): items.count == 1 ? "(\(items[0]),)" : "(" + items.map(\.description).joined(separator: ", ") + ")"
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// Parses the header dict: `{` then `'key': value` pairs separated by commas (a trailing comma
/// allowed), `}`, then only whitespace. Values: quoted strings, integers (optionally with
/// Python 2's `L`), True, False, None, tuples and lists of values.
private struct PythonLiteralParser {
    private let bytes: UnsafeRawBufferPointer
    private let source: String
    private var position = 0
    private var depth = 0

    init(_ bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    private func error(_ message: String) -> MobileKernelsError {
        MobileKernelsError(.invalidFile, "\(source): .npy header is not a Python dict literal: \(message) at header byte \(position)")
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private var describeNext: String {
        guard let b = peek else { return "end of header" }
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0C || b == 0x0B { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard peek == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))', found \(describeNext)") }
        position += 1
    }

    mutating func parseHeaderDict() throws -> [(key: String, value: PythonLiteral)] {
        try expect(UInt8(ascii: "{"))
        var entries: [(key: String, value: PythonLiteral)] = []
        while true {
            skipWhitespace()
            if peek == UInt8(ascii: "}") { position += 1; break }
            let keyStart = position
            guard case .string(let key) = try parseValue() else {
                position = keyStart
                throw error("keys must be strings")
            }
            guard !entries.contains(where: { $0.key == key }) else {
                position = keyStart
                throw error("duplicate key '\(key)'")
            }
            try expect(UInt8(ascii: ":"))
            entries.append((key, try parseValue()))
            skipWhitespace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"))
            break
        }
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected \(describeNext) after the dict") }
        return entries
    }

    private mutating func parseValue() throws -> PythonLiteral {
        skipWhitespace()
        guard let b = peek else { throw error("expected a value, found end of header") }
        switch b {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString(quote: b))
        case UInt8(ascii: "("), UInt8(ascii: "["):
            depth += 1
            defer { depth -= 1 }
            guard depth <= 16 else { throw error("nesting deeper than 16") }
            let close = b == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
            position += 1
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipWhitespace()
                if peek == close { position += 1; break }
                items.append(try parseValue())
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; sawComma = true; continue }
                try expect(close)
                break
            }
            if b == UInt8(ascii: "[") { return .list(items) }
            // "(5)" is the integer 5 in Python, not a tuple.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .int(try parseInt())
        default:
            let start = position
            while let c = peek, (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || c == UInt8(ascii: "_") { position += 1 }
            switch String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self) {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .noneValue
            default:
                position = start
                throw error("expected a value, found \(describeNext)")
            }
        }
    }

    private mutating func parseInt() throws -> Int {
        let start = position
        var negative = false
        if peek == UInt8(ascii: "-") || peek == UInt8(ascii: "+") {
            negative = peek == UInt8(ascii: "-")
            position += 1
            skipWhitespace()
        }
        var value = 0
        var digits = 0
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            guard !o1, !o2 else {
                position = start
                throw error("integer too large")
            }
            value = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw error("expected digits, found \(describeNext)") }
        if peek == UInt8(ascii: "L") || peek == UInt8(ascii: "l") { position += 1 }  // Python 2 long
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "_")
            || c == UInt8(ascii: "x") || c == UInt8(ascii: "j") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
            throw error("only plain integers are supported, found \(describeNext)")
        }
        return negative ? -value : value
    }

    private mutating func parseString(quote: UInt8) throws -> String {
        position += 1
        var utf8: [UInt8] = []
        while true {
            guard let b = peek else { throw error("unterminated string") }
            position += 1
            if b == quote { break }
            if b == 0x0A { throw error("newline inside a string") }
            if b == UInt8(ascii: "\\") {
                guard let e = peek else { throw error("unterminated string") }
                position += 1
                switch e {
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): utf8.append(e)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "t"): utf8.append(0x09)
                default: utf8 += [b, e]  // kept as written, like Python does for unknown escapes
                }
            } else {
                utf8.append(b)
            }
        }
        guard let s = String(validating: utf8, as: UTF8.self) else { throw error("string is not valid UTF-8") }
        return s
    }
}
