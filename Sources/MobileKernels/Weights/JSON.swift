// JSON for safetensors headers: the strict parser the reader uses, and the compact text the
// writer produces from the same JSONValue.

/// `s` as a JSON string literal.
func jsonString(_ s: String) -> String {
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

    /// The whole value as compact JSON text (no whitespace, members in order): what the
    /// safetensors writer puts in a header.
    var json: String { text(elided: false) }

    /// JSON text for error messages: long objects and arrays elided, cut at 80 characters.
    var brief: String {
        let text = self.text(elided: true)
        return text.count <= 80 ? text : String(text.prefix(77)) + "..."
    }

    /// `elided`: ", " and ": " separators, objects cut after 8 members and arrays after 16.
    private func text(elided: Bool) -> String {
        let (comma, colon) = elided ? (", ", ": ") : (",", ":")
        switch self {
        case .object(let pairs):
            let shown = elided ? pairs.prefix(8) : pairs[...]
            return "{" + shown.map { jsonString($0.key) + colon + $0.value.text(elided: elided) }.joined(separator: comma)
                + (shown.count < pairs.count ? comma + "...}" : "}")
        case .array(let items):
            let shown = elided ? items.prefix(16) : items[...]
            return "[" + shown.map { $0.text(elided: elided) }.joined(separator: comma) + (shown.count < items.count ? comma + "...]" : "]")
        case .string(let s): return jsonString(s)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
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


/// The JSON reader for the fuzz targets in Tests/Fuzz (`@_spi(Fuzzing) import MobileKernels`):
/// not part of the public API.
@_spi(Fuzzing) public enum JSONFuzzing {
    /// Parses `bytes` as one strict JSON document and returns it as compact JSON text (what the
    /// safetensors writer would write). Throws `.invalidFile` where the header parser does.
    public static func compactText(_ bytes: UnsafeRawBufferPointer) throws -> String {
        var parser = StrictJSONParser(bytes, source: "fuzz input")
        return try parser.parseDocument().json
    }
}
