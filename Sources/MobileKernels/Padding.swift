/// Zero padding on each side of a convolution or pooling window.
public struct Padding: Hashable, Sendable, CustomStringConvertible {
    public var top: Int
    public var left: Int
    public var bottom: Int
    public var right: Int

    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// The same padding `p` on every side (PyTorch's `padding=p`).
    public static func symmetric(_ p: Int) -> Padding { Padding(top: p, left: p, bottom: p, right: p) }

    public static let zero = Padding(top: 0, left: 0, bottom: 0, right: 0)

    /// TensorFlow's "SAME" padding for an input of `inputH` x `inputW`: the output is
    /// ceil(input / stride), and when the total padding is odd the extra row or column goes to the
    /// bottom or right.
    public static func same(inputH: Int, inputW: Int, kernelH: Int, kernelW: Int, strideH: Int = 1,
                            strideW: Int = 1, dilationH: Int = 1, dilationW: Int = 1) -> Padding {
        func split(_ input: Int, _ kernel: Int, _ stride: Int, _ dilation: Int) -> (Int, Int) {
            let extent = dilation * (kernel - 1) + 1
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + extent - input, 0)
            return (total / 2, total - total / 2)
        }
        let (top, bottom) = split(inputH, kernelH, strideH, dilationH)
        let (left, right) = split(inputW, kernelW, strideW, dilationW)
        return Padding(top: top, left: left, bottom: bottom, right: right)
    }

    public var description: String {
        top == left && left == bottom && bottom == right ? "\(top)" : "(t \(top), l \(left), b \(bottom), r \(right))"
    }
}
