/// torchvision's `mobilenet_v2` (names of `specs/mobilenet_v2.json`):
///
///     features.0       Conv2dNormActivation: conv 3x3 s2 (.0) + BN (.1) + ReLU6
///     features.1...17  InvertedResidual, under features.N.conv:
///                        expand ratio 1: .0 dw 3x3 Conv2dNormActivation (ReLU6), .1 project 1x1 conv, .2 BN
///                        otherwise:      .0 expand 1x1 Conv2dNormActivation (ReLU6), .1 dw 3x3 (ReLU6),
///                                        .2 project 1x1 conv, .3 BN (no activation)
///                      + "features.N.add" (the residual) when stride 1 and in == out channels
///     features.18      Conv2dNormActivation 1x1 -> last channel (1280) + ReLU6
///     avgpool          global average pool (F.adaptive_avg_pool2d in forward)
///     classifier.1     Linear(1280, numClasses) (classifier.0 is Dropout)
///
/// Width multiplier (torchvision's rules): stem and block outputs `_make_divisible(c * width, 8)`,
/// hidden = in * t, last channel `_make_divisible(1280 * max(1, width), 8)`.
extension Architecture {
    /// torchvision's inverted_residual_setting: expand ratio t, channels c, repeats n, first stride s.
    static let mobileNetV2Settings: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    static func buildMobileNetV2(width: Double, numClasses: Int) -> [Node] {
        var b = ArchitectureBuilder()
        var input = makeDivisible(32 * width, 8)
        let lastChannel = makeDivisible(1280 * max(1, width), 8)
        b.conv("features.0", in: 3, out: input, kernel: 3, stride: 2,
               weightKey: "features.0.0.weight", batchNorm: "features.0.1", activation: .relu6)
        var index = 1
        for setting in mobileNetV2Settings {
            let output = makeDivisible(Double(setting.c) * width, 8)
            for i in 0..<setting.n {
                let stride = i == 0 ? setting.s : 1
                let p = "features.\(index).conv"
                let hidden = input * setting.t  // int(round(inp * t)) with an integer t
                let blockInput = b.last
                var j = 0
                if setting.t != 1 {
                    b.conv("\(p).0", in: input, out: hidden, kernel: 1,
                           weightKey: "\(p).0.0.weight", batchNorm: "\(p).0.1", activation: .relu6)
                    j = 1
                }
                b.conv("\(p).\(j)", in: hidden, out: hidden, kernel: 3, stride: stride, groups: hidden,
                       weightKey: "\(p).\(j).0.weight", batchNorm: "\(p).\(j).1", activation: .relu6)
                b.conv("\(p).\(j + 1)", in: hidden, out: output, kernel: 1,
                       weightKey: "\(p).\(j + 1).weight", batchNorm: "\(p).\(j + 2)", activation: .none)
                if stride == 1 && input == output {
                    b.append("features.\(index).add", .add(activation: .none), inputs: [blockInput, b.last])
                }
                input = output
                index += 1
            }
        }
        b.conv("features.\(index)", in: input, out: lastChannel, kernel: 1,
               weightKey: "features.\(index).0.weight", batchNorm: "features.\(index).1", activation: .relu6)
        b.append("avgpool", .globalAveragePool)
        b.linear("classifier.1", in: lastChannel, out: numClasses, dropout: 0.2)
        return b.nodes
    }
}
