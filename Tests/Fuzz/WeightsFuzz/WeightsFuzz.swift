// weights-fuzz: coverage-guided fuzz targets (libFuzzer) for the weight-file readers.
//
//   weights-fuzz --target=safetensors|json|npy [--seeds=DIR] [libFuzzer flags] [corpus dirs or files]
//
// --target picks the reader: SafeTensorsFile(data:), the strict JSON header parser, or
// Npy.read(data:). --seeds=DIR first writes valid small inputs for it into DIR (made by our own
// writers), so no binary corpus is committed. Every input must either be rejected with a thrown
// error or be read consistently: what was read, written again with our writer, reads back the
// same (a broken invariant traps, which libFuzzer reports as a crash).
//
// Built with `-Xswiftc -sanitize=fuzzer,address` (Tests/Fuzz/fuzz.mk), the binary holds
// libFuzzer's driver (LLVMFuzzerRunDriver, exported so that dlsym finds it), and main hands it
// LLVMFuzzerTestOneInput. In a plain `swift build` there is no driver: main runs each given file
// (or each file in a given directory) through the target once, a crash reproducer. libFuzzer
// ignores flags that start with "--", so both take the same command line.
import Foundation
@_spi(Fuzzing) import MobileKernels

enum Target: String, CaseIterable {
    case safetensors, json, npy

    /// The target named by --target=NAME; exits with a usage message when there is none.
    static let selected: Target = {
        for argument in CommandLine.arguments where argument.hasPrefix("--target=") {
            if let target = Target(rawValue: String(argument.dropFirst("--target=".count))) { return target }
        }
        let names = allCases.map(\.rawValue).joined(separator: "|")
        FileHandle.standardError.write(Data("usage: weights-fuzz --target=\(names) [--seeds=DIR] [inputs...]\n".utf8))
        exit(2)
    }()

    /// Runs one input: errors are fine, inconsistencies trap.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .safetensors: Self.safetensors(bytes)
        case .json: Self.json(bytes)
        case .npy: Self.npy(bytes)
        }
    }

    private static func safetensors(_ bytes: [UInt8]) {
        guard let file = try? SafeTensorsFile(data: bytes) else { return }
        var f32: [(name: String, shape: [Int], values: [Float])] = []
        for t in file.tensors {
            precondition(t.byteRange.lowerBound >= 8 && t.byteRange.upperBound <= bytes.count, "\(t.name) outside the file")
            precondition(file.info(t.name) == t, "info(\(t.name)) differs")
            if let integers = try? file.integers(t.name) {
                precondition(integers.count == t.shape.reduce(1, *), "\(t.name): \(integers.count) integers for shape \(t.shape)")
            } else {
                precondition(!["I64", "I32", "I16", "I8", "U8"].contains(t.dtype), "integers(\(t.name)) of \(t.dtype) threw")
            }
            guard let values = try? file.floats(t.name) else {
                precondition(!["F32", "F16", "BF16"].contains(t.dtype), "floats(\(t.name)) of \(t.dtype) threw")
                continue
            }
            precondition(values.count == t.shape.reduce(1, *), "\(t.name): \(values.count) values for shape \(t.shape)")
            if t.dtype == "F32" { f32.append((t.name, t.shape, values)) }
        }
        // The F32 tensors, written again in the order read, read back the same.
        let again = try! SafeTensorsFile(data: try! SafeTensorsFile.encode(f32, metadata: file.metadata))
        precondition(again.metadata == file.metadata, "metadata differs after writing")
        precondition(again.tensors.map(\.name) == f32.map(\.name) && again.tensors.map(\.shape) == f32.map(\.shape),
                     "names or shapes differ after writing")
        for t in f32 {
            precondition(try! again.floats(t.name).map(\.bitPattern) == t.values.map(\.bitPattern), "\(t.name) differs after writing")
        }
    }

    private static func json(_ bytes: [UInt8]) {
        guard let text = try? bytes.withUnsafeBytes({ try JSONFuzzing.compactText($0) }) else { return }
        // What we print parses again and prints the same.
        let again = try! Array(text.utf8).withUnsafeBytes { try JSONFuzzing.compactText($0) }
        precondition(again == text, "compact text changes when parsed again: \(text) -> \(again)")
    }

    private static func npy(_ bytes: [UInt8]) {
        guard let (shape, values) = try? Npy.read(data: bytes) else { return }
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        let again = try! Npy.read(data: Npy.encode(shape: shape, values: values))
        precondition(again.shape == shape && again.values.map(\.bitPattern) == values.map(\.bitPattern), "differs after writing")
    }

    /// Valid small inputs, made by our writers.
    var seeds: [[UInt8]] {
        let safetensors: [[UInt8]] = [
            try! SafeTensorsFile.encode([]),
            try! SafeTensorsFile.encode([("a", [2], [1, 2])], metadata: ["format": "pt"]),
            try! SafeTensorsFile.encode([("w", [1], [0.5]), ("bn.num_batches_tracked", [], [3])], int64: ["bn.num_batches_tracked"]),
            try! SafeTensorsFile.encode([("conv.weight", [2, 1, 3], [0.5, -1, 2, .infinity, -0.0, .nan]), ("bias", [3], [1, 2, 3]),
                                         ("scalar", [], [7]), ("empty", [0, 2], []), ("n\u{e9}\\\"", [1], [3])]),
        ]
        switch self {
        case .safetensors:
            let halves = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"# +
                #""i":{"dtype":"I64","shape":[1],"data_offsets":[10,18]},"__metadata__":null}"#
            return safetensors + [Array(halves.utf8.count.littleEndianBytes + halves.utf8) + [UInt8](repeating: 0x3C, count: 20)]
        case .json:
            return safetensors.map { file in
                let n = (0..<8).reduce(0) { $0 | Int(file[$1]) << (8 * $1) }
                return Array(file[8..<(8 + n)])
            } + [#"[1, -2.5e+3, 0.0E-1, true, false, null, "\u00e9\ud83d\ude00\n\t\/", {}, [[]]]"#, "\"x\"", " 0 "].map { Array($0.utf8) }
        case .npy:
            let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2,), }\n"
            return [Npy.encode(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), Npy.encode(shape: [], values: [42]),
                    Npy.encode(shape: [0, 3], values: []), Npy.encode(shape: [1], values: [.nan]),
                    [0x93] + Array("NUMPY".utf8) + [2, 0] + Array(dict.utf8.count.littleEndianBytes.prefix(4)) + Array(dict.utf8) + [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]]
        }
    }
}

extension Int {
    fileprivate var littleEndianBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) } }
}

/// With --seeds=DIR: writes the target's seeds into DIR (created if needed) as seed-N files.
func writeSeedsIfAsked() {
    guard let argument = CommandLine.arguments.first(where: { $0.hasPrefix("--seeds=") }) else { return }
    let directory = URL(fileURLWithPath: String(argument.dropFirst("--seeds=".count)))
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (i, seed) in Target.selected.seeds.enumerated() {
            try Data(seed).write(to: directory.appendingPathComponent("seed-\(i)"))
        }
    } catch {
        FileHandle.standardError.write(Data("weights-fuzz: cannot write seeds to \(directory.path): \(error)\n".utf8))
        exit(2)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Target.selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's entry point, present when the binary was linked with `-sanitize=fuzzer`.
typealias FuzzerDriver = @convention(c) (
    UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main struct WeightsFuzz {
    static func main() throws {
        _ = Target.selected
        writeSeedsIfAsked()
        // Fuzzing: libFuzzer's driver runs fuzzOneInput until a crash or its time limit.
        if let driver = dlsym(nil, "LLVMFuzzerRunDriver") {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(unsafeBitCast(driver, to: FuzzerDriver.self)(&argc, &argv, fuzzOneInput))
        }
        // The plain runner: every file named, or in a directory named, through the target once.
        var count = 0
        for path in CommandLine.arguments.dropFirst() where !path.hasPrefix("-") {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("weights-fuzz: no such file or directory: \(path)\n".utf8))
                exit(2)
            }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                Target.selected.run([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
                count += 1
            }
        }
        print("weights-fuzz: \(Target.selected.rawValue): \(count) inputs read without a crash")
    }
}
