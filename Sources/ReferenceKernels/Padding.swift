// RefPadding: explicit zero padding on each side of the spatial dimensions.

/// Implicit padding around the image, in pixels, for convolution and pooling.
///
/// Convolution pads with zeros; max pooling ignores padded positions (PyTorch's `-inf`); average
/// pooling counts them or not (`countIncludePad`). `top`/`bottom` pad the height, `left`/`right`
/// the width. PyTorch's `padding=(ph, pw)` is `RefPadding(top: ph, left: pw, bottom: ph, right: pw)`;
/// TensorFlow "SAME" with stride 2 often needs `bottom`/`right` one larger than `top`/`left`.
/// All sides must be `>= 0` (checked by the kernels that use it).
public struct RefPadding: Equatable, Sendable {
    /// Rows of padding above row 0.
    public var top: Int
    /// Columns of padding left of column 0.
    public var left: Int
    /// Rows of padding below the last row.
    public var bottom: Int
    /// Columns of padding right of the last column.
    public var right: Int

    /// Padding with each side given explicitly.
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// The same padding `p` on all four sides (PyTorch `padding=p`).
    public static func symmetric(_ p: Int) -> RefPadding {
        RefPadding(top: p, left: p, bottom: p, right: p)
    }

    /// No padding.
    public static let zero = RefPadding(top: 0, left: 0, bottom: 0, right: 0)

    /// True when every side is `>= 0`.
    public var isValid: Bool { top >= 0 && left >= 0 && bottom >= 0 && right >= 0 }
}
