import MobileKernels
import Testing

@Suite("Tensor, TensorShape, ThreadPool, Variant")
struct TensorTests {
    @Test func shapeValidation() throws {
        #expect(throws: MobileKernelsError.self) { try TensorShape(n: 0, h: 1, w: 1, c: 1) }
        #expect(throws: MobileKernelsError.self) { try TensorShape(n: 1, h: -3, w: 1, c: 1) }
        do {
            _ = try TensorShape(n: 1 << 20, h: 1 << 20, w: 1 << 20, c: 1 << 20)
            Issue.record("an overflowing shape was accepted")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .sizeOverflow)
            #expect(error.message.contains("[1048576, 1048576, 1048576, 1048576]"))
        }
        // Fits in Int but not in memory: a clear out-of-memory error, not a crash.
        do {
            _ = try Tensor(shape: TensorShape(n: 1, h: 1 << 20, w: 1 << 20, c: 1 << 20))
            Issue.record("a 4 PiB tensor was allocated")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .outOfMemory || error.kind == .sizeOverflow)
        }
        let shape = try TensorShape(n: 2, h: 3, w: 4, c: 5)
        #expect(shape.count == 120)
        #expect(shape.pixels == 24)
        #expect(shape.description == "[2, 3, 4, 5]")
    }

    @Test func nchwRoundTrip() throws {
        let shape = try TensorShape(n: 2, h: 3, w: 4, c: 5)
        let nchw = (0..<shape.count).map(Float.init)
        let t = try Tensor(shape: shape, nchw: nchw)
        #expect(t.toNCHW() == nchw)
        // NCHW index ((n * C + c) * H + y) * W + x lands at NHWC [n, y, x, c].
        #expect(t[n: 1, y: 2, x: 3, c: 4] == Float(((1 * 5 + 4) * 3 + 2) * 4 + 3))
        #expect(t[n: 0, y: 0, x: 1, c: 0] == 1)
        #expect(t.toArray()[1] == Float(12))  // NHWC [0,0,0,1] = NCHW channel 1 start
        #expect(throws: MobileKernelsError.self) { try Tensor(shape: shape, nchw: [1, 2, 3]) }
        #expect(throws: MobileKernelsError.self) { try Tensor(shape: shape, nhwc: []) }
    }

    @Test func copyOnWriteAndAlignment() throws {
        let shape = try TensorShape(h: 3, w: 3, c: 7)
        let a = try Tensor(shape: shape, repeating: 1.5)
        var b = a
        #expect(a.sharesStorage(with: b))
        b[n: 0, y: 1, x: 1, c: 3] = 9
        #expect(!a.sharesStorage(with: b))
        #expect(a[n: 0, y: 1, x: 1, c: 3] == 1.5)
        #expect(b[n: 0, y: 1, x: 1, c: 3] == 9)
        a.withUnsafeBufferPointer { #expect(Int(bitPattern: $0.baseAddress) % 64 == 0) }
        var c = b
        c.withUnsafeMutableBufferPointer { $0[0] = -1 }
        #expect(b[n: 0, y: 0, x: 0, c: 0] == 1.5)
        #expect(c[n: 0, y: 0, x: 0, c: 0] == -1)
        c.withUnsafeBufferPointer { #expect(Int(bitPattern: $0.baseAddress) % 64 == 0) }
    }

    @Test func threadPools() throws {
        #expect(throws: MobileKernelsError.self) { try ThreadPool(threads: 0) }
        #expect(throws: MobileKernelsError.self) { try ThreadPool(threads: 100_000) }
        #expect(try ThreadPool(threads: 2).threadCount == 2)
        #expect(ThreadPool.shared.threadCount == Machine.processorCount)
        #expect(ThreadPool.serial.threadCount == 1)
    }

    @Test func variants() {
        #expect(Variant.available.contains(.scalar))
        #expect(!Variant.available.contains(.auto))
        #expect(Variant.best.isAvailable)
        #expect(Variant.auto.isAvailable)
        #expect(!Machine.cpuName.isEmpty)
        #if arch(x86_64)
        #expect(!Variant.neon.isAvailable)
        #expect(Variant.avx512.isAvailable == Machine.features.contains("avx512f"))
        #endif
    }
}
