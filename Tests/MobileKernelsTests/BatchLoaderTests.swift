import Foundation
import MobileKernels
import Testing

// BatchLoader: the geometry (28x28 padded to 32, resized bilinearly to 64 as PyTorch's
// align_corners=False), normalization, grayscale to 3 channels, crops and flips that are shifts
// and mirrors of the plain image, per-epoch shuffles, batches a pure function of (epoch, index),
// the background thread's batches equal to fill's; errors.

private func dataset(count: Int, h: Int, w: Int, c: Int) throws -> ImageDataset {
    let pixels = (0..<(count * h * w * c)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) }
    return try ImageDataset(name: "synthetic", height: h, width: w, channels: c, classes: 10, pixels: pixels,
                            labels: (0..<count).map { UInt8($0 % 10) })
}

@Suite("BatchLoader")
struct BatchLoaderTests {
    @Test("28x28 gray padded to 32: values, padding, normalization, three channels")
    func padded() throws {
        let set = try dataset(count: 5, h: 28, w: 28, c: 1)
        let t = ImageTransform(size: 32, mean: [0.25], std: [0.5])
        let loader = try BatchLoader(dataset: set, batch: 2, transform: t, shuffle: false)
        var images = try Tensor(shape: TensorShape(n: 2, h: 32, w: 32, c: 3)), labels: [Int] = []
        try loader.fill(epoch: 0, index: 1, order: loader.order(epoch: 0), images: &images, labels: &labels)
        #expect(labels == [2, 3])
        let v = images.toArray()
        for b in 0..<2 {
            for y in 0..<32 {
                for x in 0..<32 {
                    let inside = (2..<30).contains(y) && (2..<30).contains(x)
                    let raw: Float = inside ? Float(set.pixels[((2 + b) * 28 + y - 2) * 28 + x - 2]) : 0
                    let want = (raw / 255 - 0.25) / 0.5
                    for k in 0..<3 {
                        let got = v[((b * 32 + y) * 32 + x) * 3 + k]
                        #expect(abs(got - want) <= 1e-6, "image \(b) (\(y), \(x)) channel \(k): \(got) vs \(want)")
                    }
                }
            }
        }
    }

    @Test("28x28 RGB resized to 64 as bilinear with align_corners=False")
    func resized() throws {
        let set = try dataset(count: 1, h: 28, w: 28, c: 3)
        let loader = try BatchLoader(dataset: set, batch: 1, transform: ImageTransform(size: 64, mean: [0, 0, 0], std: [1, 1, 1]),
                                     shuffle: false)
        var images = try Tensor(shape: TensorShape(n: 1, h: 64, w: 64, c: 3)), labels: [Int] = []
        try loader.fill(epoch: 0, index: 0, order: [0], images: &images, labels: &labels)
        let v = images.toArray()
        func src(_ i: Int) -> (Int, Int, Double) {
            let x = max((Double(i) + 0.5) * 28 / 64 - 0.5, 0)
            return (Int(x), min(Int(x) + 1, 27), x - Double(Int(x)))
        }
        for y in [0, 1, 31, 62, 63] {
            for x in [0, 5, 40, 63] {
                let (r0, r1, fy) = src(y), (c0, c1, fx) = src(x)
                for k in 0..<3 {
                    func p(_ r: Int, _ c: Int) -> Double { Double(set.pixels[(r * 28 + c) * 3 + k]) / 255 }
                    let want = (p(r0, c0) * (1 - fx) + p(r0, c1) * fx) * (1 - fy) + (p(r1, c0) * (1 - fx) + p(r1, c1) * fx) * fy
                    #expect(abs(Double(v[((y * 64) + x) * 3 + k]) - want) <= 1e-5, "(\(y), \(x)) channel \(k)")
                }
            }
        }
    }

    @Test("crops and flips: shifted or mirrored plain images, a function of (seed, epoch, image)")
    func augmentation() throws {
        let set = try dataset(count: 6, h: 32, w: 32, c: 3)
        let plainT = ImageTransform(size: 32, mean: [0, 0, 0], std: [1, 1, 1])
        var augT = plainT
        augT.cropPadding = 4
        augT.horizontalFlip = true
        let plain = try BatchLoader(dataset: set, batch: 6, transform: plainT, shuffle: false)
        let aug = try BatchLoader(dataset: set, batch: 6, transform: augT, shuffle: false, seed: 7)
        var p = try Tensor(shape: TensorShape(n: 6, h: 32, w: 32, c: 3)), a = p, again = p, other = p, labels: [Int] = []
        try plain.fill(epoch: 0, index: 0, order: plain.order(epoch: 0), images: &p, labels: &labels)
        try aug.fill(epoch: 3, index: 0, order: aug.order(epoch: 3), images: &a, labels: &labels)
        try aug.fill(epoch: 3, index: 0, order: aug.order(epoch: 3), images: &again, labels: &labels)
        try aug.fill(epoch: 4, index: 0, order: aug.order(epoch: 4), images: &other, labels: &labels)
        #expect(a.toArray() == again.toArray())
        #expect(a.toArray() != other.toArray())
        let pv = p.toArray(), av = a.toArray()
        var flips = 0, shifted = 0
        for b in 0..<6 {
            // Some shift (dy, dx) in [-4, 4] and flip reproduce the augmented image from the plain one.
            var found: (Int, Int, Bool)?
            search: for flip in [false, true] {
                for dy in -4...4 {
                    for dx in -4...4 {
                        var same = true
                        check: for y in 0..<32 {
                            for x in 0..<32 {
                                let sy = y + dy, sx0 = x + dx, sx = flip ? 31 - sx0 : sx0
                                for k in 0..<3 {
                                    let want: Float = (0..<32).contains(sy) && (0..<32).contains(sx0) ? pv[((b * 32 + sy) * 32 + sx) * 3 + k] : 0
                                    if av[((b * 32 + y) * 32 + x) * 3 + k] != want { same = false; break check }
                                }
                            }
                        }
                        if same { found = (dy, dx, flip); break search }
                    }
                }
            }
            let f = try #require(found, "image \(b) is no crop or flip of the plain one")
            if f.2 { flips += 1 }
            if f.0 != 0 || f.1 != 0 { shifted += 1 }
        }
        #expect(flips > 0 && flips < 6 && shifted > 0, "flips \(flips), shifted \(shifted) of 6")
    }

    @Test("shuffles are permutations per epoch; the background thread's batches are fill's")
    func shuffleAndPrefetch() throws {
        let set = try dataset(count: 23, h: 28, w: 28, c: 1)
        var t = ImageTransform(size: 32, mean: [0.3], std: [0.4])
        t.cropPadding = 4
        for dropLast in [true, false] {
            let loader = try BatchLoader(dataset: set, batch: 5, transform: t, shuffle: true, seed: 3, dropLast: dropLast)
            #expect(loader.batchesPerEpoch == (dropLast ? 4 : 5))
            let o1 = loader.order(epoch: 1), o2 = loader.order(epoch: 2)
            #expect(o1.sorted() == Array(0..<23) && o2.sorted() == Array(0..<23) && o1 != o2 && o1 == loader.order(epoch: 1))
            var seen: [Int] = []
            try loader.forEachBatch(epoch: 2, ahead: 2) { index, images, labels in
                var want = try Tensor(shape: images.shape), wantLabels: [Int] = []
                try loader.fill(epoch: 2, index: index, order: o2, images: &want, labels: &wantLabels)
                let n = loader.batchSize(index)
                #expect(labels == wantLabels && labels.count == n)
                #expect(Array(images.toArray()[0..<(n * 32 * 32 * 3)]) == Array(want.toArray()[0..<(n * 32 * 32 * 3)]))
                seen.append(index)
            }
            #expect(seen == Array(0..<loader.batchesPerEpoch))
        }
        // Stopping early (a throwing body) ends the background thread cleanly.
        let loader = try BatchLoader(dataset: set, batch: 2, transform: t, shuffle: true)
        struct Stop: Error {}
        #expect(throws: Stop.self) { try loader.forEachBatch(epoch: 0) { index, _, _ in if index == 1 { throw Stop() } } }
        // ... also when the producer is ahead and waiting for a slot (a slow body).
        for stopAt in [0, 1, 3] {
            #expect(throws: Stop.self) {
                try loader.forEachBatch(epoch: 1, ahead: 2) { index, _, _ in
                    usleep(20_000)
                    if index == stopAt { throw Stop() }
                }
            }
        }
    }

    @Test("bad options throw")
    func errors() throws {
        let set = try dataset(count: 3, h: 28, w: 28, c: 1)
        let t = ImageTransform(size: 32, mean: [0.3], std: [0.4])
        #expect(throws: MobileKernelsError.self) { _ = try BatchLoader(dataset: set, batch: 4, transform: t, shuffle: false) }
        #expect(throws: MobileKernelsError.self) {
            _ = try BatchLoader(dataset: set, batch: 1, transform: ImageTransform(size: 32, mean: [0.3], std: [0]), shuffle: false)
        }
        #expect(throws: MobileKernelsError.self) {
            _ = try BatchLoader(dataset: set, batch: 1, transform: ImageTransform(size: 32, mean: [0, 0, 0], std: [1, 1, 1]), shuffle: false)
        }
        let loader = try BatchLoader(dataset: set, batch: 1, transform: t, shuffle: false)
        var wrong = try Tensor(shape: TensorShape(n: 1, h: 28, w: 28, c: 3)), labels: [Int] = []
        #expect(throws: MobileKernelsError.self) { try loader.fill(epoch: 0, index: 0, order: [0, 1, 2], images: &wrong, labels: &labels) }
    }
}
