import Foundation

/// A labelled image data set held as bytes: `count` images of `height` x `width` x `channels`
/// (NHWC, 0...255) and one class index per image. Read from the data sets' own formats:
/// MNIST / Fashion-MNIST IDX files (`.gz` as shipped, or plain) and CIFAR-10's binary batches.
public struct ImageDataset: Sendable {
    public let name: String
    public let count: Int, height: Int, width: Int, channels: Int
    /// Labels are in `0..<classes`.
    public let classes: Int
    public let pixels: [UInt8]
    public let labels: [UInt8]

    public enum Split: String, Sendable, CaseIterable { case train, test }

    /// - Throws: `.invalidArgument` for sizes below 1, a pixel count other than
    ///   count * height * width * channels, a label count other than `count`, or a label outside
    ///   `0..<classes`.
    public init(name: String, height: Int, width: Int, channels: Int, classes: Int, pixels: [UInt8], labels: [UInt8]) throws {
        guard height >= 1, width >= 1, channels >= 1, classes >= 1, classes <= 256, !labels.isEmpty else {
            throw MobileKernelsError(.invalidArgument, "\(name): an image data set needs images of at least 1x1x1, 1...256 classes and at least one image")
        }
        let imageSize = height * width * channels
        guard pixels.count == labels.count * imageSize else {
            throw MobileKernelsError(.invalidArgument, "\(name): \(labels.count) labels but \(pixels.count) pixel bytes (\(pixels.count / imageSize) images of \(height)x\(width)x\(channels)\(pixels.count % imageSize == 0 ? "" : " and a partial one"))")
        }
        if let i = labels.firstIndex(where: { Int($0) >= classes }) {
            throw MobileKernelsError(.invalidArgument, "\(name): label \(labels[i]) of image \(i) is not a class of 0..<\(classes)")
        }
        (self.name, self.height, self.width, self.channels, self.classes) = (name, height, width, channels, classes)
        (self.count, self.pixels, self.labels) = (labels.count, pixels, labels)
    }

    // MARK: - MNIST and Fashion-MNIST (IDX)

    /// Debian's `dataset-fashion-mnist` package installs the data set here.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Images from an IDX file of `[n, height, width]` bytes and labels from one of `[n]`.
    /// - Throws: the errors of `IDX.read`; `.invalidFile` for images that are not 3-dimensional,
    ///   labels that are not 1-dimensional, a count mismatch between them, or a label outside
    ///   `0..<classes`.
    public static func idx(images: String, labels: String, classes: Int = 10, name: String? = nil) throws -> ImageDataset {
        let x = try IDX.read(images), y = try IDX.read(labels)
        guard x.dimensions.count == 3 else {
            throw MobileKernelsError(.invalidFile, "\(images): IDX images must be [count, height, width], the file has dimensions \(x.dimensions)")
        }
        guard y.dimensions.count == 1 else {
            throw MobileKernelsError(.invalidFile, "\(labels): IDX labels must be [count], the file has dimensions \(y.dimensions)")
        }
        guard x.dimensions[0] == y.dimensions[0] else {
            throw MobileKernelsError(.invalidFile, "\(images) holds \(x.dimensions[0]) images but \(labels) \(y.dimensions[0]) labels")
        }
        if let i = y.bytes.firstIndex(where: { Int($0) >= classes }) {
            throw MobileKernelsError(.invalidFile, "\(labels): label \(y.bytes[i]) of image \(i) is not a class of 0..<\(classes)")
        }
        return try ImageDataset(name: name ?? images, height: x.dimensions[1], width: x.dimensions[2], channels: 1,
                                classes: classes, pixels: x.bytes, labels: y.bytes)
    }

    /// Fashion-MNIST (or MNIST: the same file names) from `directory`: `train-images-idx3-ubyte`
    /// and `train-labels-idx1-ubyte` (`t10k-...` for the test split), each `.gz` or plain.
    /// - Throws: `.invalidFile` naming the files looked for when they are missing; the errors
    ///   of `idx(images:labels:)`.
    public static func mnistFormat(_ split: Split, directory: String, name: String) throws -> ImageDataset {
        let stem = split == .train ? "train" : "t10k"
        func find(_ base: String) throws -> String {
            let candidates = ["\(directory)/\(base).gz", "\(directory)/\(base)"]
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw MobileKernelsError(.invalidFile, "\(name) \(split.rawValue): no \(candidates.joined(separator: " or "))\(directory == fashionMNISTDirectory ? " (Debian: apt-get install dataset-fashion-mnist, or make data)" : "")")
            }
            return path
        }
        return try idx(images: find("\(stem)-images-idx3-ubyte"), labels: find("\(stem)-labels-idx1-ubyte"), classes: 10,
                       name: "\(name) \(split.rawValue)")
    }

    public static func fashionMNIST(_ split: Split, directory: String = fashionMNISTDirectory) throws -> ImageDataset {
        try mnistFormat(split, directory: directory, name: "Fashion-MNIST")
    }

    public static func mnist(_ split: Split, directory: String) throws -> ImageDataset {
        try mnistFormat(split, directory: directory, name: "MNIST")
    }

    // MARK: - CIFAR-10 (binary version)

    /// CIFAR-10's binary batches from `directory`: `data_batch_1.bin` ... `data_batch_5.bin` for
    /// training, `test_batch.bin` for the test split.
    public static func cifar10(_ split: Split, directory: String) throws -> ImageDataset {
        let files = split == .train ? (1...5).map { "\(directory)/data_batch_\($0).bin" } : ["\(directory)/test_batch.bin"]
        return try cifar10(files: files, name: "CIFAR-10 \(split.rawValue)")
    }

    /// CIFAR-10 binary files: records of one label byte (0...9) and 3072 pixel bytes (the red,
    /// green and blue 32x32 planes, rows in order), converted to NHWC.
    /// - Throws: `.invalidFile` for a missing or unreadable file, an empty one, a size that is
    ///   not a whole number of 3073-byte records, or a label above 9 (the file and record named).
    public static func cifar10(files: [String], name: String = "CIFAR-10") throws -> ImageDataset {
        let record = 1 + 3 * 1024
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for path in files {
            guard FileManager.default.fileExists(atPath: path) else {
                throw MobileKernelsError(.invalidFile, "\(name): no \(path) (the binary version's data_batch_1.bin ... data_batch_5.bin and test_batch.bin)")
            }
            let bytes = try WeightFileIO.read(path)
            guard !bytes.isEmpty, bytes.count % record == 0 else {
                throw MobileKernelsError(.invalidFile, "\(path): \(bytes.count) bytes is not a whole number of 3073-byte CIFAR-10 records\(bytes.count > record ? " (truncated or not the binary version)" : "")")
            }
            let n = bytes.count / record
            pixels.reserveCapacity(pixels.count + n * 3072)
            for r in 0..<n {
                let base = r * record
                guard bytes[base] < 10 else {
                    throw MobileKernelsError(.invalidFile, "\(path): record \(r) has label \(bytes[base]); CIFAR-10's are 0...9")
                }
                labels.append(bytes[base])
                for p in 0..<1024 {
                    pixels.append(bytes[base + 1 + p])
                    pixels.append(bytes[base + 1 + 1024 + p])
                    pixels.append(bytes[base + 1 + 2048 + p])
                }
            }
        }
        return try ImageDataset(name: name, height: 32, width: 32, channels: 3, classes: 10, pixels: pixels, labels: labels)
    }

    // MARK: - Statistics

    /// Each channel's mean and standard deviation of pixel / 255 over the whole set (sums in
    /// float64): what the training normalization subtracts and divides by.
    public func statistics() -> (mean: [Float], std: [Float]) {
        var sum = [Double](repeating: 0, count: channels), squares = sum
        pixels.withUnsafeBufferPointer { p in
            for i in 0..<p.count {
                let v = Double(p[i]) / 255
                sum[i % channels] += v
                squares[i % channels] += v * v
            }
        }
        let n = Double(count * height * width)
        let mean = sum.map { $0 / n }
        let std = zip(squares, mean).map { (max($0 / n - $1 * $1, 0)).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }
}
