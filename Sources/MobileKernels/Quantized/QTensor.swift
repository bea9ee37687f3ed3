internal import CKernels

/// A per-tensor affine quantization: `real = scale * (q - zeroPoint)` with `q` an int8 value
/// (XNNPACK's QS8 activations; see CKernels/include/mk_qs8.h).
public struct Quantization: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The asymmetric quantization that covers `[min, max]` (widened to include 0, so real zero
    /// is exact): `scale = (max - min) / 255`, `zeroPoint = -128 - round(min / scale)`.
    public init(min: Float, max: Float) {
        let lo = Swift.min(min, 0), hi = Swift.max(max, 0)
        let scale = hi > lo ? (hi - lo) / 255 : 1
        self.scale = scale
        self.zeroPoint = Int32(Swift.max(-128, Swift.min(127, -128 - (lo / scale).rounded(.toNearestOrEven))))
    }

    /// Whether the scale is finite and positive and the zero point an int8 value.
    public var isValid: Bool { scale.isFinite && scale > 0 && (-128...127).contains(zeroPoint) }

    /// `clamp(round_half_even(x / scale) + zeroPoint, -128, 127)` (NaN gives the zero point).
    @inline(__always)
    public func quantize(_ x: Float) -> Int8 {
        var v = x / scale
        if v.isNaN { v = 0 }
        v = Swift.min(Swift.max(v, -512), 512)
        return Int8(Swift.min(127, Swift.max(-128, Int32(v.rounded(.toNearestOrEven)) + zeroPoint)))
    }

    /// `scale * Float(q - zeroPoint)`.
    @inline(__always)
    public func dequantize(_ q: Int8) -> Float { scale * Float(Int32(q) - zeroPoint) }

    public var description: String { "(scale \(scale), zero point \(zeroPoint))" }

    var cValue: mk_quantization { mk_quantization(scale: scale, zero_point: zeroPoint) }
}

/// 64-byte-aligned int8 storage (copy on write).
final class QTensorStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int8>
    let count: Int

    init(count: Int, shape: TensorShape) throws {
        guard let raw = mk_aligned_alloc(Swift.max(count, 1)) else {
            throw MobileKernelsError(.outOfMemory, "int8 tensor \(shape) (\(count) bytes)")
        }
        pointer = raw.bindMemory(to: Int8.self, capacity: count)
        self.count = count
    }

    deinit { mk_aligned_free(pointer) }
}

/// An NHWC int8 tensor with its quantization, 64-byte-aligned, with value semantics.
public struct QTensor: Sendable, CustomStringConvertible {
    public let shape: TensorShape
    public var quantization: Quantization
    var storage: QTensorStorage

    /// Every element `value`.
    public init(shape: TensorShape, quantization: Quantization, repeating value: Int8 = 0) throws {
        self.shape = shape
        self.quantization = quantization
        storage = try QTensorStorage(count: shape.count, shape: shape)
        storage.pointer.initialize(repeating: value, count: shape.count)
    }

    /// NHWC values; `.shapeMismatch` when their count is not the shape's.
    public init(shape: TensorShape, quantization: Quantization, nhwc values: [Int8]) throws {
        guard values.count == shape.count else {
            throw MobileKernelsError(.shapeMismatch, "QTensor \(shape): \(values.count) values, expected \(shape.count)")
        }
        try self.init(shape: shape, quantization: quantization)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: shape.count) }
    }

    /// `tensor` quantized element by element (`Quantization.quantize`).
    public init(quantizing tensor: Tensor, _ quantization: Quantization) throws {
        guard quantization.isValid else {
            throw MobileKernelsError(.invalidArgument, "QTensor: quantization \(quantization) needs a finite scale > 0 and an int8 zero point")
        }
        try self.init(shape: tensor.shape, quantization: quantization)
        let out = storage.pointer
        tensor.withUnsafeBufferPointer { x in
            for i in 0..<x.count { out[i] = quantization.quantize(x[i]) }
        }
    }

    /// The float tensor this one stands for (`Quantization.dequantize`).
    public func dequantized() throws -> Tensor {
        var t = try Tensor(shape: shape)
        let q = quantization, x = storage.pointer
        t.withUnsafeMutableBufferPointer { out in
            for i in 0..<out.count { out[i] = q.dequantize(x[i]) }
        }
        return t
    }

    public func toArray() -> [Int8] { Array(UnsafeBufferPointer(start: storage.pointer, count: shape.count)) }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Int8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: shape.count))
    }

    /// Calls `body` with the values for writing (copies first if the storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Int8>) throws -> R) throws -> R {
        try makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: shape.count))
    }

    mutating func makeUnique() throws {
        if !isKnownUniquelyReferenced(&storage) {
            let new = try QTensorStorage(count: shape.count, shape: shape)
            new.pointer.update(from: storage.pointer, count: shape.count)
            storage = new
        }
    }

    public var description: String { "QTensor\(shape) \(quantization)" }
}

extension Activation {
    /// Whether the int8 kernels fuse it (a clamp: none, relu, relu6, clamp).
    var isInt8Clamp: Bool {
        switch self {
        case .none, .relu, .relu6, .clamp: true
        case .hardswish, .hardsigmoid: false
        }
    }
}
