import Foundation
import MobileKernels
import Testing

// The data set readers: gzip (through zlib) on streams the tests build (stored deflate blocks
// with a real CRC-32), IDX, MNIST-format directories and CIFAR-10 binary batches on files the
// tests write, with every malformed variant giving `.invalidFile`; and the real Fashion-MNIST
// (Debian's dataset-fashion-mnist, which `make data` installs) when it is installed.

/// CRC-32 (gzip's: reflected, polynomial 0xEDB88320).
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// One gzip member holding `data` in stored (uncompressed) deflate blocks.
private func gzipStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]
    var at = 0
    repeat {
        let n = min(65535, data.count - at)
        let last: UInt8 = at + n == data.count ? 1 : 0
        out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += data[at..<(at + n)]
        at += n
    } while at < data.count
    func le(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
    return out + le(crc32(data)) + le(UInt32(truncatingIfNeeded: data.count))
}

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "mk-data-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func write(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

private func expectInvalidFile(_ what: String, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("\(what): no error")
    } catch let error as MobileKernelsError {
        #expect(error.kind == .invalidFile, "\(what): \(error)")
    } catch {
        Issue.record("\(what): \(error)")
    }
}

@Suite("Data set readers")
struct DataTests {
    @Test("gzip: members, blocks, padding; truncated, corrupt and foreign data fail")
    func gzip() throws {
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let member = gzipStored(data)
        #expect(try Gzip.decompress(member) == data)
        #expect(try Gzip.decompress(member + gzipStored([1, 2, 3])) == data + [1, 2, 3])  // two members
        #expect(try Gzip.decompress(member + [0, 0, 0, 0]) == data)  // zero padding
        #expect(try Gzip.decompress(gzipStored([])) == [])
        for cut in [3, 12, 1000, member.count / 2, member.count - 5, member.count - 1] {
            expectInvalidFile("cut at \(cut)") { _ = try Gzip.decompress(Array(member[0..<cut])) }
        }
        var corrupt = member
        corrupt[corrupt.count - 6] ^= 0xFF  // the CRC
        expectInvalidFile("bad CRC") { _ = try Gzip.decompress(corrupt) }
        expectInvalidFile("not gzip") { _ = try Gzip.decompress([0x50, 0x4B, 3, 4]) }
        expectInvalidFile("garbage after a member") { _ = try Gzip.decompress(member + [0x1F, 0x8B, 99, 1, 2]) }
    }

    @Test("IDX: round trip; bad magic, type, dimensions and sizes fail")
    func idx() throws {
        let array = IDXArray(dimensions: [3, 2, 5], bytes: (0..<30).map(UInt8.init))
        let bytes = IDX.encode(array)
        #expect(try IDX.parse(bytes) == array)
        expectInvalidFile("magic") { _ = try IDX.parse([1] + bytes.dropFirst()) }
        expectInvalidFile("float32") { var b = bytes; b[2] = 0x0D; _ = try IDX.parse(b) }
        expectInvalidFile("no dimensions") { _ = try IDX.parse([0, 0, 8, 0]) }
        expectInvalidFile("zero dimension") { _ = try IDX.parse(IDX.encode(IDXArray(dimensions: [0, 4], bytes: []))) }
        expectInvalidFile("truncated data") { _ = try IDX.parse(Array(bytes.dropLast())) }
        expectInvalidFile("extra data") { _ = try IDX.parse(bytes + [7]) }
        expectInvalidFile("truncated header") { _ = try IDX.parse(Array(bytes[0..<9])) }
        expectInvalidFile("empty") { _ = try IDX.parse([]) }
        // A file, gzip-compressed and plain.
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(gzipStored(bytes), dir + "/a.gz")
        try write(bytes, dir + "/a")
        #expect(try IDX.read(dir + "/a.gz") == array)
        #expect(try IDX.read(dir + "/a") == array)
        expectInvalidFile("missing file") { _ = try IDX.read(dir + "/missing") }
    }

    @Test("MNIST-format directories: images and labels paired, mismatches fail")
    func mnistFormat() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (n, h, w) = (7, 4, 3)
        let images = IDXArray(dimensions: [n, h, w], bytes: (0..<(n * h * w)).map { UInt8($0 % 256) })
        let labels = IDXArray(dimensions: [n], bytes: [0, 9, 3, 3, 1, 2, 8])
        try write(gzipStored(IDX.encode(images)), dir + "/train-images-idx3-ubyte.gz")
        try write(gzipStored(IDX.encode(labels)), dir + "/train-labels-idx1-ubyte.gz")
        try write(IDX.encode(images), dir + "/t10k-images-idx3-ubyte")  // plain files work too
        try write(IDX.encode(labels), dir + "/t10k-labels-idx1-ubyte")
        for split in ImageDataset.Split.allCases {
            let set = try ImageDataset.mnist(split, directory: dir)
            #expect(set.count == n && set.height == h && set.width == w && set.channels == 1 && set.classes == 10)
            #expect(set.pixels == images.bytes && set.labels == labels.bytes)
        }
        // Count mismatch, wrong rank, a label past 9, a missing file.
        try write(IDX.encode(IDXArray(dimensions: [n - 1], bytes: Array(labels.bytes.dropLast()))), dir + "/t10k-labels-idx1-ubyte")
        expectInvalidFile("count mismatch") { _ = try ImageDataset.mnist(.test, directory: dir) }
        try write(IDX.encode(IDXArray(dimensions: [n, 1], bytes: labels.bytes)), dir + "/t10k-labels-idx1-ubyte")
        expectInvalidFile("labels of rank 2") { _ = try ImageDataset.mnist(.test, directory: dir) }
        try write(IDX.encode(IDXArray(dimensions: [n], bytes: [0, 1, 2, 10, 4, 5, 6])), dir + "/t10k-labels-idx1-ubyte")
        expectInvalidFile("label 10") { _ = try ImageDataset.mnist(.test, directory: dir) }
        try write(IDX.encode(IDXArray(dimensions: [n * h, w], bytes: images.bytes)), dir + "/t10k-images-idx3-ubyte")
        expectInvalidFile("images of rank 2") { _ = try ImageDataset.mnist(.test, directory: dir) }
        try FileManager.default.removeItem(atPath: dir + "/t10k-images-idx3-ubyte")
        expectInvalidFile("missing images") { _ = try ImageDataset.mnist(.test, directory: dir) }
    }

    @Test("CIFAR-10 binary batches: planes to NHWC; truncated files and bad labels fail")
    func cifar() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func record(_ label: UInt8, _ seed: Int) -> [UInt8] {
            [label] + (0..<3072).map { UInt8(truncatingIfNeeded: $0 * 31 + seed * 7) }
        }
        for b in 1...5 { try write(record(UInt8(b), b) + record(9, b + 10), dir + "/data_batch_\(b).bin") }
        try write(record(0, 99), dir + "/test_batch.bin")
        let train = try ImageDataset.cifar10(.train, directory: dir)
        #expect(train.count == 10 && train.height == 32 && train.width == 32 && train.channels == 3)
        #expect(train.labels == [1, 9, 2, 9, 3, 9, 4, 9, 5, 9])
        // Image 2 (batch 2's first record), pixel (row 3, column 5): its red, green, blue planes.
        let r = record(2, 2), p = 3 * 32 + 5
        #expect(Array(train.pixels[(2 * 1024 + p) * 3..<(2 * 1024 + p) * 3 + 3]) == [r[1 + p], r[1 + 1024 + p], r[1 + 2048 + p]])
        #expect(try ImageDataset.cifar10(.test, directory: dir).labels == [0])
        try write(Array(record(0, 1).dropLast()), dir + "/test_batch.bin")
        expectInvalidFile("truncated record") { _ = try ImageDataset.cifar10(.test, directory: dir) }
        try write([], dir + "/test_batch.bin")
        expectInvalidFile("empty file") { _ = try ImageDataset.cifar10(.test, directory: dir) }
        try write(record(10, 1), dir + "/test_batch.bin")
        expectInvalidFile("label 10") { _ = try ImageDataset.cifar10(.test, directory: dir) }
        try FileManager.default.removeItem(atPath: dir + "/data_batch_3.bin")
        expectInvalidFile("missing batch") { _ = try ImageDataset.cifar10(.train, directory: dir) }
    }

    @Test("statistics: per-channel mean and std of pixel / 255")
    func statistics() throws {
        let set = try ImageDataset(name: "tiny", height: 1, width: 2, channels: 2, classes: 2, pixels: [0, 255, 255, 255, 0, 0, 255, 0],
                                   labels: [0, 1])
        let (mean, std) = set.statistics()
        #expect(mean == [0.5, 0.5])
        #expect(std.allSatisfy { abs($0 - 0.5) < 1e-6 })
        #expect(throws: MobileKernelsError.self) {
            _ = try ImageDataset(name: "bad", height: 1, width: 1, channels: 1, classes: 2, pixels: [1, 2], labels: [0])
        }
    }

    @Test("the real Fashion-MNIST (Debian's dataset-fashion-mnist)")
    func fashionMNIST() throws {
        guard FileManager.default.fileExists(atPath: ImageDataset.fashionMNISTDirectory) else {
            print("Fashion-MNIST is not installed (make data): skipped")
            return
        }
        let train = try ImageDataset.fashionMNIST(.train), test = try ImageDataset.fashionMNIST(.test)
        #expect(train.count == 60000 && test.count == 10000 && train.height == 28 && train.width == 28)
        for (set, per) in [(train, 6000), (test, 1000)] {
            var counts = [Int](repeating: 0, count: 10)
            for l in set.labels { counts[Int(l)] += 1 }
            #expect(counts == [Int](repeating: per, count: 10), "\(set.name): \(counts)")
        }
        // The figures every Fashion-MNIST normalization uses: mean 0.2860, std 0.3530.
        let (mean, std) = train.statistics()
        #expect(abs(mean[0] - 0.2860) < 5e-4 && abs(std[0] - 0.3530) < 5e-4, "mean \(mean), std \(std)")
    }
}
