import Foundation

/// How a data set's images become a network's input: to `size` x `size` and 3 channels
/// (grayscale replicated), `pixel / 255` normalized by the training set's per-channel mean and
/// std, with optional training augmentation (a random crop from the image padded by
/// `cropPadding` pixels of 0, and a horizontal flip with probability 1/2).
public struct ImageTransform: Sendable, Equatable {
    public var size: Int
    /// Per data-set channel (1 for grayscale, 3 for RGB): what `ImageDataset.statistics` gives.
    public var mean: [Float], std: [Float]
    public var cropPadding: Int
    public var horizontalFlip: Bool

    public init(size: Int, mean: [Float], std: [Float], cropPadding: Int = 0, horizontalFlip: Bool = false) {
        (self.size, self.mean, self.std, self.cropPadding, self.horizontalFlip) = (size, mean, std, cropPadding, horizontalFlip)
    }

    /// The same transform without augmentation (for evaluation).
    public var evaluation: ImageTransform { ImageTransform(size: size, mean: mean, std: std) }
}

/// Deterministic batches of an `ImageDataset` for a `TrainingPlan` or an `InferencePlan`: each
/// epoch's order a Fisher-Yates shuffle seeded by (seed, epoch), each image's crop and flip
/// seeded by (seed, epoch, image), so a batch is a pure function of its epoch and index: the same
/// on any thread, ahead of time or not. An image smaller than `size` by at most 8 pixels is
/// padded with zeros (centred, as 28x28 digits become 32x32); any other size is resized
/// bilinearly (PyTorch's `align_corners=False`), e.g. 28x28 to AlexNet's 64x64.
public final class BatchLoader: @unchecked Sendable {
    public let dataset: ImageDataset
    public let batch: Int
    public let transform: ImageTransform
    public let shuffle: Bool
    public let seed: UInt64
    /// Whole batches per epoch (the remainder of an epoch is dropped when `dropLast`, else the
    /// last batch is short: `batchSize(_:)`).
    public let batchesPerEpoch: Int
    public let dropLast: Bool
    /// The geometry from the data set's images to size x size: per output row and column, the
    /// two source rows / columns (-1: padding) and the second one's weight.
    private let rows: [(Int, Int, Float)], columns: [(Int, Int, Float)]
    /// Per data-set channel: the normalized value is raw * scale + shift (the padding's zero
    /// gives shift), made once rather than per batch.
    private let scale: [Float], shift: [Float]

    /// - Throws: `.invalidArgument` for a batch below 1, a size below 1, mean or std counts other
    ///   than the data set's channels, a std that is not positive, a negative crop padding, or
    ///   (with `dropLast`) fewer images than one batch.
    public init(dataset: ImageDataset, batch: Int, transform: ImageTransform, shuffle: Bool, seed: UInt64 = 0,
                dropLast: Bool = true) throws {
        let t = transform
        guard batch >= 1, t.size >= 1, t.cropPadding >= 0, t.mean.count == dataset.channels, t.std.count == dataset.channels,
              t.std.allSatisfy({ $0 > 0 && $0.isFinite }), t.mean.allSatisfy(\.isFinite), dataset.channels == 1 || dataset.channels == 3 else {
            throw MobileKernelsError(.invalidArgument, "BatchLoader(\(dataset.name)): batch \(batch), size \(t.size), crop padding \(t.cropPadding), mean \(t.mean) and std \(t.std) for \(dataset.channels) channel(s) (1 or 3)")
        }
        guard !dropLast || dataset.count >= batch else {
            throw MobileKernelsError(.invalidArgument, "BatchLoader(\(dataset.name)): \(dataset.count) images make no whole batch of \(batch)")
        }
        (self.dataset, self.batch, self.transform, self.shuffle, self.seed, self.dropLast) = (dataset, batch, transform, shuffle, seed, dropLast)
        batchesPerEpoch = dropLast ? dataset.count / batch : (dataset.count + batch - 1) / batch
        rows = Self.axis(from: dataset.height, to: t.size)
        columns = Self.axis(from: dataset.width, to: t.size)
        scale = t.std.map { 1 / (255 * $0) }
        shift = zip(t.mean, t.std).map { -$0 / $1 }
    }

    private static func axis(from n: Int, to size: Int) -> [(Int, Int, Float)] {
        if n <= size && size - n <= 8 {
            let before = (size - n) / 2
            return (0..<size).map { i in
                let s = i - before
                return s >= 0 && s < n ? (s, s, 0) : (-1, -1, 0)
            }
        }
        let scale = Double(n) / Double(size)
        return (0..<size).map { i in
            let x = max((Double(i) + 0.5) * scale - 0.5, 0)
            let lo = min(Int(x), n - 1), hi = min(lo + 1, n - 1)
            return (lo, hi, Float(x - Double(lo)))
        }
    }

    /// Images in batch `index` (the last one may be short without `dropLast`).
    public func batchSize(_ index: Int) -> Int { min(batch, dataset.count - index * batch) }

    /// SplitMix64 of a pair (the same mixing as the dropout masks).
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var z = a &+ (b &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The order of epoch `epoch`'s images (a permutation of the data set; identity without `shuffle`).
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<dataset.count)
        guard shuffle else { return order }
        var state = Self.mix(seed, UInt64(epoch))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            state = Self.mix(state, UInt64(i))
            order.swapAt(i, Int(state % UInt64(i + 1)))
        }
        return order
    }

    /// Writes batch `index` of an epoch whose order is `order` into `images` (NHWC
    /// `[batch, size, size, 3]`; only the first `batchSize(index)` images are written) and the
    /// class indices into `labels` (resized to the batch's images).
    public func fill(epoch: Int, index: Int, order: [Int], images: inout Tensor, labels: inout [Int]) throws {
        let s = transform.size, n = batchSize(index)
        guard index >= 0, index < batchesPerEpoch, order.count == dataset.count,
              images.shape == (try TensorShape(n: batch, h: s, w: s, c: 3)) else {
            throw MobileKernelsError(.invalidArgument, "BatchLoader(\(dataset.name)): batch \(index) of \(batchesPerEpoch) into \(images.shape), expected [\(batch), \(s), \(s), 3]")
        }
        labels.removeAll(keepingCapacity: true)
        let c = dataset.channels, (h, w) = (dataset.height, dataset.width), pad = transform.cropPadding
        images.withUnsafeMutableBufferPointer { out in
            dataset.pixels.withUnsafeBufferPointer { pixels in
                for b in 0..<n {
                    let image = order[index * batch + b]
                    labels.append(Int(dataset.labels[image]))
                    var dy = 0, dx = 0, flip = false
                    if pad > 0 || transform.horizontalFlip {
                        let r = Self.mix(Self.mix(seed, UInt64(epoch) &+ 0x5EED), UInt64(image))
                        if pad > 0 {
                            dy = Int(r % UInt64(2 * pad + 1)) - pad
                            dx = Int((r >> 20) % UInt64(2 * pad + 1)) - pad
                        }
                        flip = transform.horizontalFlip && (r >> 63) == 1
                    }
                    let src = image * h * w * c
                    for y in 0..<s {
                        let oy = y + dy  // the crop's row in the size x size image
                        for x in 0..<s {
                            let ox = flip ? s - 1 - (x + dx) : x + dx
                            let o = ((b * s + y) * s + x) * 3
                            for k in 0..<3 {
                                let ch = c == 1 ? 0 : k
                                var raw: Float = 0
                                if oy >= 0 && oy < s && ox >= 0 && ox < s {
                                    let (r0, r1, fy) = rows[oy], (c0, c1, fx) = columns[ox]
                                    if r0 >= 0 && c0 >= 0 {
                                        func at(_ r: Int, _ q: Int) -> Float { Float(pixels[src + (r * w + q) * c + ch]) }
                                        let top = at(r0, c0) + (at(r0, c1) - at(r0, c0)) * fx
                                        let bottom = at(r1, c0) + (at(r1, c1) - at(r1, c0)) * fx
                                        raw = top + (bottom - top) * fy
                                    }
                                }
                                out[o + k] = raw * scale[ch] + shift[ch]
                            }
                        }
                    }
                }
            }
        }
    }

    /// The batches of epoch `epoch` in order, assembled on a background thread `ahead` batches
    /// before they are used (the kernels never wait for data), each passed to `body` with its
    /// labels (the tensor is reused: copy what must outlive the call). The same batches as `fill`.
    public func forEachBatch(epoch: Int, ahead: Int = 2, _ body: (_ index: Int, _ images: Tensor, _ labels: [Int]) throws -> Void) throws {
        let order = order(epoch: epoch)
        let count = max(ahead, 1) + 1
        let shape = try TensorShape(n: batch, h: transform.size, w: transform.size, c: 3)
        // One box per slot: the producer and the consumer never touch the same box at once (the
        // semaphores hand each over), and never a shared array.
        let slots = try (0..<count).map { _ in Slot(images: try Tensor(shape: shape)) }
        // Created at 0 and signalled up (libdispatch aborts when a semaphore is freed below its
        // initial value, which an early stop can leave `free` at); `done` when the producer exits.
        let free = DispatchSemaphore(value: 0), ready = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        for _ in 0..<count { free.signal() }
        let stop = Flag()
        let producer = Thread { [self] in
            defer { done.signal() }
            for index in 0..<batchesPerEpoch {
                free.wait()
                if stop.value { break }
                let slot = slots[index % count]
                do {
                    try fill(epoch: epoch, index: index, order: order, images: &slot.images, labels: &slot.labels)
                } catch {
                    slot.error = error
                    ready.signal()
                    return
                }
                ready.signal()
            }
        }
        producer.start()
        defer {
            // Wake the producer if it waits for a slot, and let it finish before the slots go.
            stop.value = true
            free.signal()
            done.wait()
        }
        for index in 0..<batchesPerEpoch {
            ready.wait()
            let slot = slots[index % count]
            if let error = slot.error { throw error }
            try body(index, slot.images, slot.labels)
            free.signal()
        }
    }

    private final class Slot: @unchecked Sendable {
        var images: Tensor
        var labels: [Int] = []
        var error: Error?
        init(images: Tensor) { self.images = images }
    }

    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var stored = false
        var value: Bool {
            get { lock.lock(); defer { lock.unlock() }; return stored }
            set { lock.lock(); stored = newValue; lock.unlock() }
        }
    }
}
