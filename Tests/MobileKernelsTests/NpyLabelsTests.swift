import Foundation
import MobileKernels
import Testing

// MARK: - Helpers

/// A path in the temporary directory, unique per call; the caller removes the file.
private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("MobileKernels-\(UUID().uuidString)-\(name)").path
}

/// A .npy version 1.0 file from a header dict text and the data bytes.
private func npy(_ dict: String, data: [UInt8] = []) -> [UInt8] {
    let text = Array(dict.utf8)
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text + data
}

/// The dict of a C-order array of `descr` with `shape` written as a Python tuple.
private func dict(_ descr: String, _ shape: String, fortran: Bool = false) -> String {
    "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }\n"
}

private func littleEndian64(_ values: [Int64]) -> [UInt8] {
    values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * Int64($0))) } }
}

private func littleEndian32(_ values: [Int32]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * Int32($0))) } }
}

/// Expects `Npy.readLabels` to reject `bytes`, both from memory and from a file, with
/// `.invalidFile` naming the source and mentioning `mentions`.
private func expectLabelsError(_ bytes: [UInt8], mentioning mentions: [String],
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
    expectError(.invalidFile, mentioning: ["npy data"] + mentions, sourceLocation: sourceLocation) { _ = try Npy.readLabels(data: bytes) }
    let path = temporaryPath("labels.npy")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    expectError(.invalidFile, mentioning: [path] + mentions, sourceLocation: sourceLocation) { _ = try Npy.readLabels(path: path) }
}

// MARK: - Tests

@Suite(".npy class labels: int64 and int32")
struct NpyLabelsTests {
    @Test func int64RoundTrip() throws {
        let cases: [(shape: [Int], labels: [Int])] = [
            ([5], [3, 0, 999, -1, 7]),
            ([2, 3], [1, 2, 3, 4, 5, 6]),
            ([4], [Int.min, Int.max, -2, 1 << 40]),
            ([], [42]),
            ([0], []),
            ([2, 0, 3], []),
        ]
        for c in cases {
            let path = temporaryPath("labels.npy")
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Npy.write(shape: c.shape, labels: c.labels, to: path)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(Array(bytes.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
            let dataStart = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
            #expect(dataStart % 64 == 0)
            let tuple = c.shape.count == 1 ? "(\(c.shape[0]),)" : "(" + c.shape.map(String.init).joined(separator: ", ") + ")"
            let header = String(decoding: bytes[10..<dataStart], as: UTF8.self)
            #expect(header.trimmingCharacters(in: .whitespacesAndNewlines) == "{'descr': '<i8', 'fortran_order': False, 'shape': \(tuple), }")
            #expect(Array(bytes[dataStart...]) == littleEndian64(c.labels.map(Int64.init)))
            for read in [try Npy.readLabels(path: path), try Npy.readLabels(data: bytes)] {
                #expect(read.shape == c.shape)
                #expect(read.values == c.labels)
            }
        }
    }

    /// Files written by numpy 2.4 (`numpy.save` of int64 (2, 3), int32 (4,) and int64 (0,)).
    @Test func readsNumPyOutput() throws {
        let files: [(base64: String, shape: [Int], labels: [Int])] = [
            ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoDAAAAAAAAAAAAAAAAAAAA//////////8HAAAAAAAAAAIAAAAAAAAACQAAAAAAAAA=",
             [2, 3], [3, 0, -1, 7, 2, 9]),
            ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAA+////////38AAACA",
             [4], [1, -5, 2_147_483_647, -2_147_483_648]),
            ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=",
             [0], []),
        ]
        for f in files {
            let read = try Npy.readLabels(data: [UInt8](try #require(Data(base64Encoded: f.base64))))
            #expect(read.shape == f.shape)
            #expect(read.values == f.labels)
        }
        // numpy.save of the int64 (2, 3) array is byte for byte what write produces.
        let path = temporaryPath("labels.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Npy.write(shape: [2, 3], labels: [3, 0, -1, 7, 2, 9], to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(base64Encoded: files[0].base64))
    }

    @Test func handBuiltInt32() throws {
        let labels: [Int32] = [0, 9, -1, .max, .min, 65536]
        let bytes = npy(dict("<i4", "(3, 2)"), data: littleEndian32(labels))
        let read = try Npy.readLabels(data: bytes)
        #expect(read.shape == [3, 2])
        #expect(read.values == labels.map(Int.init))
        let scalar = try Npy.readLabels(data: npy(dict("<i4", "()"), data: littleEndian32([-3])))
        #expect(scalar.shape == [])
        #expect(scalar.values == [-3])
    }

    /// A zero dimension is allowed, as `Npy.read` allows it: no data, no labels.
    @Test func zeroDimensionGivesNoLabels() throws {
        for descr in ["<i8", "<i4"] {
            let read = try Npy.readLabels(data: npy(dict(descr, "(3, 0)")))
            #expect(read.shape == [3, 0])
            #expect(read.values.isEmpty)
        }
        try expectLabelsError(npy(dict("<i8", "(0,)"), data: [0]), mentioning: ["data is 1 bytes but shape [0] needs 0 bytes of int64"])
    }

    @Test(arguments: ["<f4", "<f8", ">i8", "<u1", "<u8", ">i4", "|i1", "<i2", "<i"])
    func otherDtypesAreRejected(_ descr: String) throws {
        try expectLabelsError(npy(dict(descr, "(2,)"), data: [UInt8](repeating: 0, count: 16)),
                              mentioning: ["dtype '\(descr)' is not supported", "int64 ('<i8')", "int32 ('<i4')"])
    }

    @Test func structuredDtypeIsRejected() throws {
        try expectLabelsError(npy("{'descr': [('y', '<i8')], 'fortran_order': False, 'shape': (1,), }\n", data: littleEndian64([1])),
                              mentioning: ["dtype [('y', '<i8')] is not supported", "int64 ('<i8')"])
    }

    /// The float reader names the integer dtype it found and the one it expects.
    @Test func floatReaderRejectsLabels() throws {
        for (descr, data) in [("<i8", littleEndian64([1, 2])), ("<i4", littleEndian32([1, 2]))] {
            expectError(.invalidFile, mentioning: ["dtype '\(descr)' is not supported", "float32 '<f4'"]) {
                _ = try Npy.read(data: npy(dict(descr, "(2,)"), data: data))
            }
        }
    }

    /// Header and size errors are the float reader's, in the element type's terms.
    @Test func malformedFiles() throws {
        try expectLabelsError(npy(dict("<i8", "(3,)"), data: littleEndian64([1, 2])),
                              mentioning: ["truncated data: shape [3] needs 24 bytes of int64, the file has 16"])
        try expectLabelsError(npy(dict("<i4", "(3,)"), data: littleEndian32([1, 2]) + [0]),
                              mentioning: ["truncated data: shape [3] needs 12 bytes of int32, the file has 9"])
        try expectLabelsError(npy(dict("<i8", "(1,)"), data: littleEndian64([1, 2])),
                              mentioning: ["data is 16 bytes but shape [1] needs 8 bytes of int64"])
        try expectLabelsError(npy(dict("<i8", "(2,)"), data: littleEndian32([1, 2])),
                              mentioning: ["truncated data: shape [2] needs 16 bytes of int64, the file has 8"])
        try expectLabelsError(npy(dict("<i8", "(1, 2)", fortran: true), data: littleEndian64([1, 2])), mentioning: ["fortran_order True"])
        try expectLabelsError(npy(dict("<i8", "(-1,)")), mentioning: ["negative dimension"])
        try expectLabelsError(npy(dict("<i8", "(2305843009213693952, 2)")), mentioning: ["more elements"])
        try expectLabelsError(npy("{'descr': '<i8', 'shape': (1,)}\n", data: littleEndian64([1])), mentioning: ["lacks fortran_order"])
        try expectLabelsError(Array(npy(dict("<i8", "(1,)"), data: littleEndian64([1])).prefix(20)), mentioning: ["runs past the end"])
        try expectLabelsError(Array("PK\u{03}\u{04}notnpy".utf8), mentioning: ["magic"])
    }

    @Test func writeErrors() throws {
        let path = temporaryPath("never.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectError(.shapeMismatch, mentioning: [path, "[2, 2]", "got 3"]) { try Npy.write(shape: [2, 2], labels: [1, 2, 3], to: path) }
        expectError(.invalidArgument, mentioning: ["negative"]) { try Npy.write(shape: [-1, 2], labels: [], to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        expectError(.invalidFile, mentioning: ["cannot create"]) { try Npy.write(shape: [1], labels: [1], to: path + "/no/such/dir/x.npy") }
    }
}
