/// MobileNetV1 (Howard et al. 2017) as `specs/reference_models.py` defines it (names of
/// `specs/mobilenet_v1.json`):
///
///     features.0      conv 3x3 s2 3->32 (.0) + BN (.1) + ReLU
///     features.N      N = 1...13: depthwise 3x3 (.0) + BN (.1) + ReLU, pointwise 1x1 (.3) + BN (.4) + ReLU
///     avgpool         global average pool (F.adaptive_avg_pool2d in forward)
///     classifier      Linear(1024, numClasses)
///
/// Nodes are named by the conv modules ("features.3.0" depthwise, "features.3.3" pointwise).
/// Width multiplier alpha: every channel count c becomes int(c * alpha) (truncation, as in Keras's
/// MobileNet and most PyTorch ports), the classifier's input included.
extension Architecture {
    /// (output channels, depthwise stride) of features.1 ... features.13.
    static let mobileNetV1Blocks: [(channels: Int, stride: Int)] = [
        (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
        (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
    ]

    static func buildMobileNetV1(width: Double, numClasses: Int) throws -> [Node] {
        func scaled(_ channels: Int) throws -> Int {
            let result = Int(Double(channels) * width)
            guard result >= 1 else {
                throw MobileKernelsError(.invalidArgument, "mobilenet_v1: widthMultiplier \(width) leaves int(\(channels) * \(width)) = 0 channels")
            }
            return result
        }
        var b = ArchitectureBuilder()
        var channels = try scaled(32)
        b.conv("features.0.0", in: 3, out: channels, kernel: 3, stride: 2,
               weightKey: "features.0.0.weight", batchNorm: "features.0.1", activation: .relu)
        for (index, block) in mobileNetV1Blocks.enumerated() {
            let p = "features.\(index + 1)"
            let out = try scaled(block.channels)
            b.conv("\(p).0", in: channels, out: channels, kernel: 3, stride: block.stride, groups: channels,
                   weightKey: "\(p).0.weight", batchNorm: "\(p).1", activation: .relu)
            b.conv("\(p).3", in: channels, out: out, kernel: 1,
                   weightKey: "\(p).3.weight", batchNorm: "\(p).4", activation: .relu)
            channels = out
        }
        b.append("avgpool", .globalAveragePool)
        b.linear("classifier", in: channels, out: numClasses)
        return b.nodes
    }
}
