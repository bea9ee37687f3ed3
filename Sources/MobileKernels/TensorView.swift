/// A window on NHWC float storage that layers read and write in place: `shape.c` channels
/// starting at channel `channelOffset` of pixels `pixelStride` floats apart. A view of a whole
/// dense tensor has offset 0 and stride `shape.c`; a channel slice of a wider tensor (one input
/// of a concatenation, one half of a split) has the wider tensor's channel count as its stride.
///
/// `Layer.forward(_:into:threadPool:)` takes views, so a layer reads a slice of one buffer and
/// writes a slice of another with no copy (every C operator takes pixel strides). A view does not
/// copy on write: writes through it reach the storage it was made from. Make one with
/// `Tensor.view(channels:)` to read, and `Tensor.withMutableView(channels:_:)` to write (which
/// first gives the tensor storage of its own).
public struct TensorView: @unchecked Sendable, CustomStringConvertible {
    /// The shape the view presents: `c` is the number of channels in the window.
    public let shape: TensorShape
    /// The window's first channel within each pixel of the storage.
    public let channelOffset: Int
    /// Floats from one pixel to the next (at least `channelOffset + shape.c`).
    public let pixelStride: Int
    let storage: TensorStorage

    /// A view of `shape.pixels` pixels of `storage`, `pixelStride` floats apart (default: dense).
    init(storage: TensorStorage, shape: TensorShape, channelOffset: Int = 0, pixelStride: Int? = nil) {
        let stride = pixelStride ?? shape.c
        precondition(channelOffset >= 0 && channelOffset + shape.c <= stride
                     && (shape.pixels - 1) * stride + channelOffset + shape.c <= storage.count,
                     "view \(shape) at channel \(channelOffset), stride \(stride) does not fit \(storage.count) floats")
        self.shape = shape
        self.channelOffset = channelOffset
        self.pixelStride = stride
        self.storage = storage
    }

    /// The first element: channel `channelOffset` of pixel 0.
    var pointer: UnsafeMutablePointer<Float> { storage.pointer + channelOffset }

    /// Whether the view's pixels are contiguous (stride equal to its channel count).
    public var isDense: Bool { pixelStride == shape.c }

    public var description: String {
        isDense ? "\(shape)" : "\(shape) at channel \(channelOffset) of \(pixelStride)"
    }
}

extension Tensor {
    /// The whole tensor, or channels `channels` of each pixel, as a view to read (for instance
    /// the input of `Layer.forward(_:into:threadPool:)`). The view shares this tensor's storage;
    /// write through `withMutableView` instead, which respects copy on write.
    /// - Throws: `.shapeMismatch` for an empty range or one outside `0..<shape.c`.
    public func view(channels: Range<Int>? = nil) throws -> TensorView {
        let range = channels ?? 0..<shape.c
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= shape.c else {
            throw MobileKernelsError(.shapeMismatch, "tensor \(shape) has no channels \(range)")
        }
        return TensorView(storage: storage, shape: try TensorShape(n: shape.n, h: shape.h, w: shape.w, c: range.count),
                          channelOffset: range.lowerBound, pixelStride: shape.c)
    }

    /// Calls `body` with a view of the whole tensor, or of channels `channels`, to write into
    /// (storage shared with another tensor is copied first). The view must not escape `body`.
    /// - Throws: `.shapeMismatch` for an empty range or one outside `0..<shape.c`; what `body` throws.
    public mutating func withMutableView<R>(channels: Range<Int>? = nil,
                                            _ body: (TensorView) throws -> R) throws -> R {
        // The window's geometry only: a view held across makeUnique() would be a second reference
        // to the storage, and every write would copy the whole tensor.
        let (shape, channelOffset, pixelStride) = try {
            let view = try view(channels: channels)
            return (view.shape, view.channelOffset, view.pixelStride)
        }()
        makeUnique()
        return try body(TensorView(storage: storage, shape: shape, channelOffset: channelOffset,
                                   pixelStride: pixelStride))
    }
}
