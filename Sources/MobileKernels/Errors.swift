internal import CKernels

/// Every error MobileKernels throws: what went wrong (`kind`) and a message that names the layer,
/// the shapes or the file involved.
public struct MobileKernelsError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Equatable, Sendable {
        /// A required buffer was missing.
        case nullPointer = "null pointer"
        /// A size, stride or parameter is out of range (zero dimension, bad clamp bounds, ...).
        case invalidArgument = "invalid argument"
        /// A tensor's shape does not match what the layer expects.
        case shapeMismatch = "shape mismatch"
        /// A product of sizes does not fit in memory addresses.
        case sizeOverflow = "size overflow"
        /// The requested kernel variant does not exist on this CPU or for this layer.
        case unsupported = "unsupported variant"
        /// An allocation failed.
        case outOfMemory = "out of memory"
        /// A worker thread could not be started.
        case threadError = "thread error"
        /// A weight file (safetensors, .npy) could not be read or written, is malformed, or holds
        /// a tensor of a type that cannot be loaded.
        case invalidFile = "invalid file"
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

extension MobileKernelsError.Kind {
    init(_ status: mk_status) {
        switch status {
        case MK_STATUS_NULL_POINTER: self = .nullPointer
        case MK_STATUS_INVALID_ARGUMENT: self = .invalidArgument
        case MK_STATUS_SHAPE_MISMATCH: self = .shapeMismatch
        case MK_STATUS_SIZE_OVERFLOW: self = .sizeOverflow
        case MK_STATUS_UNSUPPORTED: self = .unsupported
        case MK_STATUS_OUT_OF_MEMORY: self = .outOfMemory
        case MK_STATUS_THREAD_ERROR: self = .threadError
        default: self = .invalidArgument
        }
    }
}

/// Throws the error matching `status` unless it is MK_STATUS_OK. `context` names what was being
/// done ("BiasActivation(channels: 96) on [1, 56, 56, 96]").
@inline(__always)
/// A C operator's reshape, then (when it succeeded) its run: the first status that is not OK.
func then(_ first: mk_status, _ next: () -> mk_status) -> mk_status {
    first == MK_STATUS_OK ? next() : first
}

func check(_ status: mk_status, _ context: @autoclosure () -> String) throws {
    guard status != MK_STATUS_OK else { return }
    let kind = MobileKernelsError.Kind(status)
    var message = "\(context()): \(String(cString: mk_status_string(status)))"
    if kind == .unsupported {
        let names = Variant.available.map(\.rawValue).joined(separator: ", ")
        message += " (this CPU runs: \(names))"
    }
    throw MobileKernelsError(kind, message)
}
