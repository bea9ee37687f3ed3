import Foundation
import MobileKernels
import Testing

// MARK: - Helpers

/// A path in the temporary directory, unique per call; the caller removes the file.
private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("MobileKernels-\(UUID().uuidString)-\(name)").path
}

/// Writes `bytes` to a temporary file, calls `body` with its path and removes the file.
@discardableResult
private func withTemporaryFile<R>(_ bytes: [UInt8], name: String, _ body: (String) throws -> R) throws -> R {
    let path = temporaryPath(name)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return try body(path)
}

private func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A safetensors file: the 8-byte little-endian header length (`headerLength` overrides the
/// true one), the header text, the data section.
private func safetensors(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    let text = Array(header.utf8)
    let n = headerLength ?? UInt64(text.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + text + data
}

private func littleEndian16(_ values: [UInt16]) -> [UInt8] {
    values.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
}

private func littleEndian32(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
}

/// Runs python3 with `arguments`: its exit status and its output and errors together.
private func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// Whether python3 can import safetensors and numpy (checked once).
private let pythonHasSafetensors: Bool = (try? runPython(["-c", "import safetensors.numpy"]))?.status == 0

/// A .npy file from a header dict text: magic, version, header length, the text, data.
private func npy(_ dict: String, version: UInt8 = 1, headerLength: Int? = nil, data: [UInt8] = []) -> [UInt8] {
    let text = Array(dict.utf8)
    let n = headerLength ?? text.count
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let lengthSize = version == 1 ? 2 : 4
    for i in 0..<lengthSize { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
    return bytes + text + data
}

/// One malformed file: what is wrong, its bytes and a phrase its error message must contain.
struct MalformedFile: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    let mention: String
    var testDescription: String { label }
}

private let tensorA = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

private let malformedSafeTensors: [MalformedFile] = [
    MalformedFile(label: "empty file", bytes: [], mention: "too short"),
    MalformedFile(label: "truncated length prefix", bytes: [2, 0, 0], mention: "too short"),
    MalformedFile(label: "header length past the end", bytes: safetensors("{}", headerLength: 100), mention: "runs past the end"),
    MalformedFile(label: "absurd header length", bytes: safetensors("{}", headerLength: 200_000_000), mention: "absurd"),
    MalformedFile(label: "header length UInt64.max", bytes: safetensors("{}", headerLength: .max), mention: "absurd"),
    MalformedFile(label: "empty header", bytes: safetensors(""), mention: "not valid JSON"),
    MalformedFile(label: "truncated JSON", bytes: safetensors(#"{"a":{"dtype":"F32","#), mention: "not valid JSON"),
    MalformedFile(label: "JSON with trailing garbage", bytes: safetensors("{} x"), mention: "after the JSON value"),
    MalformedFile(label: "JSON with a trailing comma", bytes: safetensors("{\(tensorA),}", data: [UInt8](repeating: 0, count: 8)), mention: "not valid JSON"),
    MalformedFile(label: "header is an array", bytes: safetensors("[1, 2]"), mention: "not a JSON object"),
    MalformedFile(label: "header is not UTF-8", bytes: safetensors("{\"\u{00}\"}").enumerated().map { $0.offset == 10 ? 0xFF : $0.element }, mention: "UTF-8"),
    MalformedFile(label: "control character in a string", bytes: safetensors("{\"a\tb\":{}}"), mention: "control character"),
    MalformedFile(label: "lone surrogate escape", bytes: safetensors(#"{"\ud800":{}}"#), mention: "surrogate"),
    MalformedFile(label: "deep nesting", bytes: safetensors(#"{"__metadata__":"# + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}"), mention: "nesting"),
    MalformedFile(label: "duplicate tensor name", bytes: safetensors("{\(tensorA),\(tensorA)}", data: [UInt8](repeating: 0, count: 8)), mention: "duplicate key"),
    MalformedFile(label: "entry is not an object", bytes: safetensors(#"{"a":5}"#), mention: "tensor 'a'"),
    MalformedFile(label: "missing dtype", bytes: safetensors(#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "missing \"dtype\""),
    MalformedFile(label: "missing data_offsets", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "missing \"data_offsets\""),
    MalformedFile(label: "dtype is not a string", bytes: safetensors(#"{"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "dtype must be a string"),
    MalformedFile(label: "shape is not an array", bytes: safetensors(#"{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "shape must be an array"),
    MalformedFile(label: "non-integer dimension", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "shape must be an array"),
    MalformedFile(label: "negative dimension", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "negative dimension"),
    MalformedFile(label: "element count overflow", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "more elements"),
    MalformedFile(label: "one data offset", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "two integers"),
    MalformedFile(label: "three data offsets", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "two integers"),
    MalformedFile(label: "fractional data offset", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "two integers"),
    MalformedFile(label: "exponent data offset", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "two integers"),
    MalformedFile(label: "string data offset", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":["0",8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "two integers"),
    MalformedFile(label: "data offset overflowing Int", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "two integers"),
    MalformedFile(label: "negative begin", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "begins before"),
    MalformedFile(label: "begin after end", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "begin after end"),
    MalformedFile(label: "end past the data section", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "end past the data section"),
    MalformedFile(label: "bytes do not match the F32 shape", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "do not hold shape [3] of F32"),
    MalformedFile(label: "bytes do not match the F16 shape", bytes: safetensors(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "do not hold shape [2] of F16"),
    MalformedFile(label: "bytes for a scalar", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,0]}}"#, data: [UInt8](repeating: 0, count: 8)), mention: "do not hold shape [] of F32"),
    MalformedFile(label: "overlapping tensors", bytes: safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: [UInt8](repeating: 0, count: 12)), mention: "overlap"),
    MalformedFile(label: "metadata value is not a string", bytes: safetensors(#"{"__metadata__":{"epoch":1}}"#), mention: "__metadata__"),
    MalformedFile(label: "metadata is not an object", bytes: safetensors(#"{"__metadata__":["a"]}"#), mention: "__metadata__"),
]

private let validNpyDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"

private let malformedNpy: [MalformedFile] = [
    MalformedFile(label: "empty file", bytes: [], mention: "magic"),
    MalformedFile(label: "bad magic", bytes: Array("\u{01}NUMPY".utf8) + [1, 0, 2, 0] + Array("{}".utf8), mention: "magic"),
    MalformedFile(label: "a safetensors file", bytes: safetensors("{}"), mention: "magic"),
    MalformedFile(label: "version 1.1", bytes: npy(validNpyDict, data: littleEndian32([1, 2])).enumerated().map { $0.offset == 7 ? 1 : $0.element }, mention: "version 1.1"),
    MalformedFile(label: "version 4.0", bytes: npy(validNpyDict, version: 4, data: littleEndian32([1, 2])), mention: "version 4.0"),
    MalformedFile(label: "truncated header length", bytes: Array(npy(validNpyDict, version: 2).prefix(10)), mention: "truncated in the header length"),
    MalformedFile(label: "header length past the end", bytes: npy(validNpyDict, headerLength: 1000), mention: "runs past the end"),
    MalformedFile(label: "v2 header length overflow", bytes: npy(validNpyDict, version: 2, headerLength: 0xFFFF_FFFF), mention: "runs past the end"),
    MalformedFile(label: "big-endian float32", bytes: npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", data: littleEndian32([1, 2])), mention: "'>f4'"),
    MalformedFile(label: "float64", bytes: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", data: [UInt8](repeating: 0, count: 8)), mention: "'<f8'"),
    MalformedFile(label: "int32", bytes: npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", data: littleEndian32([1, 2])), mention: "'<i4'"),
    MalformedFile(label: "no byte order float32", bytes: npy("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }\n", data: littleEndian32([1, 2])), mention: "'|f4'"),
    MalformedFile(label: "structured dtype", bytes: npy("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,), }\n", data: littleEndian32([1, 2])), mention: "not supported"),
    MalformedFile(label: "fortran order", bytes: npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }\n", data: littleEndian32([1, 2])), mention: "fortran_order True"),
    MalformedFile(label: "fortran_order not a bool", bytes: npy("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,), }\n", data: littleEndian32([1, 2])), mention: "fortran_order must be"),
    MalformedFile(label: "negative dimension", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 1), }\n", data: littleEndian32([1, 2])), mention: "negative dimension"),
    MalformedFile(label: "shape is a list", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }\n", data: littleEndian32([1, 2])), mention: "shape must be a tuple"),
    MalformedFile(label: "shape is a parenthesized integer", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }\n", data: littleEndian32([1, 2])), mention: "shape must be a tuple"),
    MalformedFile(label: "fractional dimension", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }\n", data: littleEndian32([1, 2])), mention: "plain integers"),
    MalformedFile(label: "dimension overflowing Int", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n"), mention: "integer too large"),
    MalformedFile(label: "element count overflow", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n"), mention: "more elements"),
    MalformedFile(label: "truncated data", bytes: npy(validNpyDict, data: littleEndian32([1]) + [0, 0]), mention: "truncated data"),
    MalformedFile(label: "more data than the shape", bytes: npy(validNpyDict, data: littleEndian32([1, 2, 3])), mention: "data is 12 bytes but shape [2] needs 8"),
    MalformedFile(label: "missing shape", bytes: npy("{'descr': '<f4', 'fortran_order': False}\n", data: littleEndian32([1, 2])), mention: "lacks shape"),
    MalformedFile(label: "unknown key", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n", data: littleEndian32([1, 2])), mention: "unexpected key 'extra'"),
    MalformedFile(label: "duplicate key", bytes: npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", data: littleEndian32([1, 2])), mention: "duplicate key"),
    MalformedFile(label: "header is not a dict", bytes: npy("['descr', '<f4']\n", data: littleEndian32([1, 2])), mention: "expected '{'"),
    MalformedFile(label: "garbage after the dict", bytes: npy(validNpyDict + "x", data: littleEndian32([1, 2])), mention: "after the dict"),
    MalformedFile(label: "unterminated string", bytes: npy("{'descr: '<f4'}\n"), mention: "not a Python dict literal"),
    MalformedFile(label: "missing colon", bytes: npy("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}\n"), mention: "expected ':'"),
    MalformedFile(label: "unknown name", bytes: npy("{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}\n"), mention: "expected a value"),
    MalformedFile(label: "truncated header", bytes: Array(npy(validNpyDict, data: littleEndian32([1, 2])).prefix(30)), mention: "runs past the end"),
]

// MARK: - safetensors

@Suite("Weight files: safetensors and .npy")
struct WeightsTests {
    @Test func safetensorsRoundTrip() throws {
        // Not sorted by name, empty tensors first, last and side by side: all kept in this order.
        let tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("nothing", [0], []),
            ("layer.weight", [2, 3], [1, -2, 3.5, .infinity, -0.0, Float(bitPattern: 0x7FC0_1234)]),
            ("bias", [3], [0.25, -0x1p-130, .greatestFiniteMagnitude]),
            ("z-empty", [0, 4], []),
            ("a-empty", [3, 0], []),
            ("scalar", [], [42]),
            ("nom \"é✓\"", [1, 1, 2], [-1, .nan]),
            ("empty-last", [2, 0, 2], []),
        ]
        let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n tab \t bell \u{07} ünïcode ✓", "": "empty key"]
        let path = temporaryPath("roundtrip.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsFile.write(tensors, metadata: metadata, to: path)
        let bytes = try fileBytes(path)
        #expect(try SafeTensorsFile.encode(tensors, metadata: metadata) == bytes)

        // The layout: 8-byte little-endian length, compact JSON padded with spaces to a multiple
        // of 8, then the values contiguous in the given order, offsets relative to the data.
        let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        #expect(n % 8 == 0, "header length \(n) is not a multiple of 8")
        let valueCount = tensors.reduce(0) { $0 + $1.values.count }
        #expect(bytes.count == 8 + n + 4 * valueCount)
        let text = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let json = text.replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        #expect(json.hasSuffix("}") && text.count - json.count < 8)
        #expect(text.hasPrefix(#"{"__metadata__":{"":"empty key","format":"pt","note":"#))
        var expectedEntries: [String] = []
        var offset = 0
        for t in tensors {
            let shape = t.shape.map(String.init).joined(separator: ",")
            expectedEntries.append("\"\(t.name.replacingOccurrences(of: "\"", with: "\\\""))\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + 4 * t.values.count)]}")
            offset += 4 * t.values.count
        }
        #expect(json.hasSuffix("," + expectedEntries.joined(separator: ",") + "}"), "\(json)")
        #expect(Array(bytes[(8 + n)...]) == tensors.flatMap { littleEndian32($0.values) })
        // Foundation's parser agrees that the header is JSON.
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        #expect(header["__metadata__"] as? [String: String] == metadata)
        #expect(header.count == tensors.count + 1)

        for file in [try SafeTensorsFile(path: path), try SafeTensorsFile(data: bytes)] {
            #expect(file.metadata == metadata)
            #expect(file.tensors.map(\.name) == tensors.map(\.name))
            #expect(file.tensors.map(\.shape) == tensors.map(\.shape))
            #expect(file.tensors.allSatisfy { $0.dtype == "F32" })
            #expect(file.tensors.last?.byteRange.upperBound == bytes.count)
            for t in tensors {
                #expect(try file.floats(t.name).map(\.bitPattern) == t.values.map(\.bitPattern), "\(t.name)")
            }
        }

        // No metadata: no "__metadata__" key, and an empty dictionary when read.
        try SafeTensorsFile.write([("x", [1], [7])], to: path)
        let plain = try SafeTensorsFile(path: path)
        #expect(plain.metadata.isEmpty)
        #expect(try plain.floats("x") == [7])
        #expect(try fileBytes(path) == safetensors(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"# + "  ", data: littleEndian32([7])))
        // No tensors at all is a valid file; metadata alone too.
        try SafeTensorsFile.write([], to: path)
        #expect(try fileBytes(path) == safetensors("{}      "))
        #expect(try SafeTensorsFile(path: path).tensors.isEmpty)
        let onlyMetadata = try SafeTensorsFile(data: try SafeTensorsFile.encode([], metadata: ["k": "v"]))
        #expect(onlyMetadata.tensors.isEmpty && onlyMetadata.metadata == ["k": "v"])
    }

    @Test("I64 tensors: written for the names asked, read as integers, loaded as exact floats, else an error")
    func safetensorsInt64() throws {
        let bytes = try SafeTensorsFile.encode([("w", [2], [0.5, -1]), ("n", [], [7])], int64: ["n"])
        #expect(bytes == safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"# + "     ",
                                     data: littleEndian32([0.5, -1]) + [7, 0, 0, 0, 0, 0, 0, 0]))
        let file = try SafeTensorsFile(data: bytes)
        #expect(try file.integers("n") == [7])
        expectError(.invalidFile, mentioning: ["'n'", "I64", "floats"]) { _ = try file.floats("n") }
        expectError(.invalidFile, mentioning: ["'w'", "F32", "integers"]) { _ = try file.integers("w") }
        expectError(.invalidFile, mentioning: ["'x'"]) { _ = try file.integers("x") }
        // Only whole numbers are written as I64; negative ones round-trip.
        expectError(.invalidArgument, mentioning: ["'n'", "I64", "0.5"]) { _ = try SafeTensorsFile.encode([("n", [1], [0.5])], int64: ["n"]) }
        expectError(.invalidArgument, mentioning: ["'n'", "I64"]) { _ = try SafeTensorsFile.encode([("n", [1], [.nan])], int64: ["n"]) }
        #expect(try SafeTensorsFile(data: try SafeTensorsFile.encode([("n", [2], [-3, 0x1p40])], int64: ["n"])).integers("n") == [-3, 1 << 40])
        // Loaded as weights: a checkpoint's I64 num_batches_tracked is the count a plan resumes
        // from; one a float cannot hold exactly is an error, not a rounded count.
        let architecture = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.25, numClasses: 10)
        var state = try TrainingPlan(architecture, weights: .initialization(seed: 0), batch: 2, height: 32, width: 32).stateDict()
        let counters = Set(state.map(\.name).filter { $0.hasSuffix(".num_batches_tracked") })
        let counter = state.firstIndex { $0.name.hasSuffix(".num_batches_tracked") }!
        let prefix = String(state[counter].name.dropLast(".num_batches_tracked".count))
        state[counter].values = [5]
        let plan = try TrainingPlan(architecture, weights: .safetensors(try SafeTensorsFile(data: try SafeTensorsFile.encode(state, int64: counters))),
                                    batch: 2, height: 32, width: 32)
        #expect(plan.runningStatistics(prefix)?.batchesTracked == 5)
        // 2^25 + 4 is exact in Float (a count a checkpoint may hold); 2^24 + 1 is not.
        state[counter].values = [0x1p25 + 4]
        let exact = try TrainingPlan(architecture, weights: .safetensors(try SafeTensorsFile(data: try SafeTensorsFile.encode(state, int64: counters))),
                                     batch: 2, height: 32, width: 32)
        #expect(exact.runningStatistics(prefix)?.batchesTracked == (1 << 25) + 4)
        var odd = try SafeTensorsFile.encode(state, int64: counters)
        let offset = try SafeTensorsFile(data: odd).info(state[counter].name)!.byteRange.lowerBound
        withUnsafeBytes(of: (Int64(1 << 24) + 1).littleEndian) { for (i, b) in $0.enumerated() { odd[offset + i] = b } }
        let big = try SafeTensorsFile(data: odd)
        expectError(.invalidFile, mentioning: [prefix, "\(Int64(1 << 24) + 1)", "not exact"]) {
            _ = try TrainingPlan(architecture, weights: .safetensors(big), batch: 2, height: 32, width: 32)
        }
        // The narrower integer dtypes, as other writers use them.
        let narrow = safetensors(#"{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[2],"data_offsets":[8,10]},"c":{"dtype":"I8","shape":[1],"data_offsets":[10,11]},"d":{"dtype":"I16","shape":[1],"data_offsets":[11,13]}}"# + "    ",
                                 data: [0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0, 200, 1, 0x80, 0x00, 0x80])
        let n = try SafeTensorsFile(data: narrow)
        #expect(try n.integers("a") == [-1, 5] && n.integers("b") == [200, 1] && n.integers("c") == [-128] && n.integers("d") == [-32768])
    }

    @Test func safetensorsWriteIsAtomic() throws {
        let directory = temporaryPath("atomic")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/w.safetensors"
        try SafeTensorsFile.write([("old", [2], [1, 2])], to: path)
        let old = try fileBytes(path)
        // A failed write leaves the old file and no temporary file.
        expectError(.shapeMismatch) { try SafeTensorsFile.write([("new", [3], [1])], to: path) }
        #expect(try fileBytes(path) == old)
        // A successful one replaces it whole.
        try SafeTensorsFile.write([("new", [1], [3])], to: path)
        #expect(try SafeTensorsFile(path: path).tensors.map(\.name) == ["new"])
        // Writing over a directory fails at the rename: the directory stays, the temporary goes.
        try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
        expectError(.invalidFile, mentioning: ["/sub", "cannot replace"]) { try SafeTensorsFile.write([("x", [1], [1])], to: directory + "/sub") }
        try Npy.write(shape: [1], values: [5], to: directory + "/v.npy")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["sub", "v.npy", "w.safetensors"])
    }

    /// The reference implementation (Python's safetensors) reads what `write` wrote. Runs when
    /// python3 can import safetensors and numpy (`pip install safetensors numpy`; torch is used
    /// when installed), skipped otherwise.
    @Test(.enabled(if: pythonHasSafetensors, "python3 cannot import safetensors and numpy (pip install safetensors numpy)"))
    func safetensorsReadByPythonSafetensors() throws {
        let tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("features.0.0.weight", [2, 1, 3, 3], (0..<18).map { Float($0) * 0.375 - 2 }),
            ("bias", [3], [0.25, -0x1p-130, .greatestFiniteMagnitude]),
            ("odd", [4], [-0.0, .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234)]),
            ("scalar", [], [42]),
            ("empty", [0, 4], []),
            ("another empty", [2, 0], []),
            ("naïve ✓", [1, 2], [1, 2]),
        ]
        let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n ✓"]
        let path = temporaryPath("python.safetensors")
        let expectedPath = temporaryPath("python.json")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: expectedPath)
        }
        try SafeTensorsFile.write(tensors, metadata: metadata, to: path)
        let expected: [String: Any] = [
            "tensors": tensors.map { ["name": $0.name, "shape": $0.shape, "bits": $0.values.map(\.bitPattern)] as [String: Any] },
            "metadata": metadata,
        ]
        try JSONSerialization.data(withJSONObject: expected).write(to: URL(fileURLWithPath: expectedPath))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Python/safetensors_roundtrip.py").path
        let (status, output) = try runPython([script, path, expectedPath])
        #expect(status == 0, "\(output)")
        #expect(output.contains("ok"), "\(output)")
    }

    @Test func halfAndBFloat16Decode() throws {
        let half: [UInt16] = [0x3C00, 0xC000, 0x3555, 0x0001, 0x03FF, 0x8001, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000]
        let halfExpected: [UInt32] = [
            (1.0 as Float).bitPattern, (-2.0 as Float).bitPattern, (0.333251953125 as Float).bitPattern,
            (0x1p-24 as Float).bitPattern, (1023 * 0x1p-24 as Float).bitPattern, (-0x1p-24 as Float).bitPattern,
            (0x1p-14 as Float).bitPattern, (65504 as Float).bitPattern, Float.infinity.bitPattern, (-Float.infinity).bitPattern,
            0x7FC0_0000, (-0.0 as Float).bitPattern,
        ]
        let bfloat: [UInt16] = [0x3F80, 0xC000, 0x4049, 0x0001, 0x8001, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0x8000]
        let bfloatExpected: [UInt32] = bfloat.map { UInt32($0) << 16 }
        #expect(Float(bitPattern: bfloatExpected[2]) == 3.140625)
        #expect(Float(bitPattern: bfloatExpected[3]) == 0x1p-133)
        let header = #"{"h":{"dtype":"F16","shape":[3,4],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[10],"data_offsets":[24,44]},"__metadata__":{"source":"hand made"}}"#
        let file = try SafeTensorsFile(data: safetensors(header, data: littleEndian16(half) + littleEndian16(bfloat)))
        #expect(file.metadata == ["source": "hand made"])
        #expect(file.info("h")?.dtype == "F16")
        #expect(file.info("h")?.shape == [3, 4])
        #expect(file.info("b")?.dtype == "BF16")
        #expect(try file.floats("h").map(\.bitPattern) == halfExpected)
        #expect(try file.floats("b").map(\.bitPattern) == bfloatExpected)
        #expect(try file.floats("b")[0] == 1)
    }

    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    @Test func halfMatchesFloat16ForEveryBitPattern() throws {
        let all = (0...UInt16.max).map { $0 }
        let file = try SafeTensorsFile(data: safetensors(#"{"all":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}}"#, data: littleEndian16(all)))
        let decoded = try file.floats("all")
        try #require(decoded.count == 65536)
        var mismatches = 0
        for (bits, value) in zip(all, decoded) {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN {
                if !value.isNaN || value.sign != expected.sign { mismatches += 1 }
            } else if value.bitPattern != expected.bitPattern {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
        #expect(decoded.filter(\.isNaN).count == 2 * 1023)
    }
    #endif

    @Test func safetensorsLayoutRules() throws {
        // Header keys in any order, a gap between tensors, trailing bytes, an empty tensor whose
        // offsets fall inside another one, a null "__metadata__", padding spaces: all accepted.
        let header = #"{"second":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"__metadata__":null,"# +
            #""first":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"nothing":{"dtype":"F32","shape":[2,0],"data_offsets":[13,13]},"# +
            #""ids":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},"q":{"dtype":"Q4_SOMETHING","shape":[7],"data_offsets":[24,27]}}    "#
        let data = littleEndian32([1.5, 0, 0, -3]) + [UInt8](repeating: 9, count: 8 + 3 + 5)
        let bytes = safetensors(header, data: data)
        let start = bytes.count - data.count
        let file = try SafeTensorsFile(data: bytes)
        #expect(file.metadata.isEmpty)
        #expect(file.tensors.map(\.name) == ["first", "second", "nothing", "ids", "q"])
        #expect(file.tensors.map(\.byteRange) == [start..<(start + 4), (start + 12)..<(start + 16), (start + 13)..<(start + 13),
                                                   (start + 16)..<(start + 24), (start + 24)..<(start + 27)])
        #expect(try file.floats("first") == [1.5])
        #expect(try file.floats("second") == [-3])
        #expect(try file.floats("nothing") == [])
        #expect(file.info("ids")?.dtype == "I64")
        #expect(file.info("q")?.shape == [7])
        // Listed, not loadable.
        expectError(.invalidFile, mentioning: ["'ids'", "I64"]) { _ = try file.floats("ids") }
        expectError(.invalidFile, mentioning: ["'q'", "Q4_SOMETHING"]) { _ = try file.floats("q") }
        // JSON escapes in names.
        let escaped = try SafeTensorsFile(data: safetensors(#"{"a\/b\u00e9\ud83d\ude00\n":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#, data: littleEndian32([2])))
        #expect(try escaped.floats("a/bé😀\n") == [2])
    }

    @Test func floatsErrors() throws {
        let file = try SafeTensorsFile(data: safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"n":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}"#,
                                                          data: [UInt8](repeating: 0, count: 12)))
        expectError(.invalidFile, mentioning: ["no tensor named 'missing'"]) { _ = try file.floats("missing") }
        expectError(.invalidFile, mentioning: ["'n'", "dtype I64", "F32, F16 and BF16"]) { _ = try file.floats("n") }
        #expect(try file.floats("w") == [0])
    }

    @Test("malformed safetensors files throw .invalidFile", arguments: malformedSafeTensors)
    func malformedSafeTensorsFile(_ malformed: MalformedFile) throws {
        expectError(.invalidFile, mentioning: ["safetensors data", malformed.mention]) { _ = try SafeTensorsFile(data: malformed.bytes) }
        try withTemporaryFile(malformed.bytes, name: "bad.safetensors") { path in
            expectError(.invalidFile, mentioning: [path, malformed.mention]) { _ = try SafeTensorsFile(path: path) }
        }
    }

    @Test func safetensorsFileSystemErrors() throws {
        let missing = temporaryPath("missing.safetensors")
        expectError(.invalidFile, mentioning: [missing, "cannot open"]) { _ = try SafeTensorsFile(path: missing) }
        let directory = FileManager.default.temporaryDirectory.path
        expectError(.invalidFile, mentioning: [directory, "not a regular file"]) { _ = try SafeTensorsFile(path: directory) }
        expectError(.invalidFile, mentioning: ["cannot create"]) {
            try SafeTensorsFile.write([("a", [1], [1])], to: missing + "/no/such/dir/x.safetensors")
        }
    }

    @Test func safetensorsWriteRejectsBadArguments() throws {
        let path = temporaryPath("never.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cases: [(kind: MobileKernelsError.Kind, mentions: [String], tensors: [(name: String, shape: [Int], values: [Float])])] = [
            (.shapeMismatch, ["'a'", "[2, 2]", "needs 4 values, got 3"], [("a", [2, 2], [1, 2, 3])]),
            (.shapeMismatch, ["'s'", "[]", "needs 1 values, got 0"], [("s", [], [])]),
            (.invalidArgument, ["'a'", "negative"], [("a", [-1], [])]),
            (.invalidArgument, ["two tensors are named 'a'"], [("a", [1], [1]), ("b", [0], []), ("a", [1], [2])]),
            (.invalidArgument, ["__metadata__", "reserved"], [("__metadata__", [1], [1])]),
            (.sizeOverflow, ["'huge'", "more elements than memory can address"], [("huge", [Int.max, 2], [])]),
            (.sizeOverflow, ["'huge'"], [("huge", [1 << 31, 1 << 31], [])]),
        ]
        for c in cases {
            expectError(c.kind, mentioning: [path] + c.mentions) { try SafeTensorsFile.write(c.tensors, to: path) }
            expectError(c.kind, mentioning: c.mentions) { _ = try SafeTensorsFile.encode(c.tensors) }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    // MARK: - .npy

    @Test func npyRoundTrip() throws {
        let cases: [(shape: [Int], values: [Float])] = [
            ([2, 3], [1, -2, 3.5, .infinity, -0.0, .nan]),
            ([5], [0.5, 0x1.8p-140, -1, 2, .greatestFiniteMagnitude]),
            ([], [42]),
            ([0, 3], []),
            ([1, 3, 4, 4], (0..<48).map { Float($0) * 0.25 - 3 }),
        ]
        for c in cases {
            let path = temporaryPath("roundtrip.npy")
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Npy.write(shape: c.shape, values: c.values, to: path)
            let bytes = try fileBytes(path)
            #expect(bytes == Npy.encode(shape: c.shape, values: c.values))
            #expect(Array(bytes.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
            let dataStart = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
            #expect(dataStart % 64 == 0)
            #expect(bytes[dataStart - 1] == 0x0A)
            #expect(bytes.count == dataStart + 4 * c.values.count)
            let tuple = c.shape.count == 1 ? "(\(c.shape[0]),)" : "(" + c.shape.map(String.init).joined(separator: ", ") + ")"
            let dict = String(decoding: bytes[10..<dataStart], as: UTF8.self)
            #expect(dict.trimmingCharacters(in: .whitespacesAndNewlines) == "{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }")
            for read in [try Npy.read(path: path), try Npy.read(data: bytes)] {
                #expect(read.shape == c.shape)
                #expect(read.values.map(\.bitPattern) == c.values.map(\.bitPattern))
            }
        }
    }

    @Test func npyHeaderOver64KiBUsesVersion2() throws {
        let shape = [Int](repeating: 1, count: 30_000)
        let bytes = Npy.encode(shape: shape, values: [5])
        #expect(Array(bytes[6..<8]) == [2, 0])
        let length = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        #expect(length > 65535)
        #expect((12 + length) % 64 == 0)
        #expect(bytes.count == 12 + length + 4)
        let read = try Npy.read(data: bytes)
        #expect(read.shape == shape)
        #expect(read.values == [5])
    }

    /// Files written by numpy 2.4 (`numpy.save`, and `numpy.lib.format.write_array` with
    /// version=(2, 0) and (3, 0)).
    @Test func npyReadsNumPyOutput() throws {
        let files: [(base64: String, shape: [Int], values: [Float])] = [
            ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQAAAQEAAAIBAAACgQAAAwEA=",
             [2, 3], [1, 2, 3, 4, 5, 6]),
            ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAGBA",
             [], [3.5]),
            ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAA/AACAvwAAAEAAAACAAACAfw==",
             [5], [0.5, -1, 2, -0.0, .infinity]),
            ("k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMSksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAgwA==",
             [2, 1], [1.5, -2.5]),
            ("k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQAAAQEA=",
             [3], [1, 2, 3]),
        ]
        for f in files {
            let bytes = [UInt8](try #require(Data(base64Encoded: f.base64)))
            let read = try Npy.read(data: bytes)
            #expect(read.shape == f.shape)
            #expect(read.values.map(\.bitPattern) == f.values.map(\.bitPattern))
        }
        // numpy.save of a (2, 3) array is exactly what encode writes, up to the header padding.
        let numpy = [UInt8](try #require(Data(base64Encoded: files[0].base64)))
        #expect(Npy.encode(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]) == numpy)
    }

    @Test func npyHeaderVariants() throws {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let variants: [(dict: String, version: UInt8, shape: [Int])] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 2, [2, 3]),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 3, [2, 3]),
            ("{'shape': (6,), 'descr': '<f4', 'fortran_order': False}", 1, [6]),
            ("  {  \"fortran_order\" :False ,\t'shape':(  3 ,2 , ) ,  'descr' : \"<f4\"  }   \n", 1, [3, 2]),
            ("{'descr':'<f4','fortran_order':False,'shape':(1,2L,3L,),}" + String(repeating: " ", count: 100) + "\n", 1, [1, 2, 3]),
            ("{'descr': '<f4',\n 'fortran_order': False,\n 'shape': (6, 1)}\n", 2, [6, 1]),
        ]
        for v in variants {
            let read = try Npy.read(data: npy(v.dict, version: v.version, data: littleEndian32(values)))
            #expect(read.shape == v.shape, "\(v.dict)")
            #expect(read.values == values)
        }
        let scalar = try Npy.read(data: npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", data: littleEndian32([-7])))
        #expect(scalar.shape == [])
        #expect(scalar.values == [-7])
        let empty = try Npy.read(data: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0, 2)}"))
        #expect(empty.shape == [3, 0, 2])
        #expect(empty.values.isEmpty)
    }

    @Test("malformed .npy files throw .invalidFile", arguments: malformedNpy)
    func malformedNpyFile(_ malformed: MalformedFile) throws {
        expectError(.invalidFile, mentioning: ["npy data", malformed.mention]) { _ = try Npy.read(data: malformed.bytes) }
        try withTemporaryFile(malformed.bytes, name: "bad.npy") { path in
            expectError(.invalidFile, mentioning: [path, malformed.mention]) { _ = try Npy.read(path: path) }
        }
    }

    @Test func npyArgumentAndFileSystemErrors() throws {
        let path = temporaryPath("never.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectError(.shapeMismatch, mentioning: ["[2, 2]", "got 3"]) { try Npy.write(shape: [2, 2], values: [1, 2, 3], to: path) }
        expectError(.invalidArgument, mentioning: ["negative"]) { try Npy.write(shape: [-1, 2], values: [], to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        expectError(.invalidFile, mentioning: [path, "cannot open"]) { _ = try Npy.read(path: path) }
        expectError(.invalidFile, mentioning: ["cannot create"]) { try Npy.write(shape: [1], values: [1], to: path + "/no/such/dir/x.npy") }
    }
}
