/// torchvision's `mobilenet_v3_large` and `mobilenet_v3_small` (names of
/// `specs/mobilenet_v3_{large,small}.json`), BN eps 1e-3 and momentum 0.01:
///
///     features.0         Conv2dNormActivation: conv 3x3 s2 3->16 (.0) + BN (.1) + Hardswish
///     features.N         N = 1...15 (large) / 1...11 (small), InvertedResidual, under features.N.block,
///                        J counting the sub-layers that exist:
///                          expand 1x1 Conv2dNormActivation (only if expanded != input channels),
///                          depthwise kxk Conv2dNormActivation (stride s),
///                          SqueezeExcitation (if used; .fc1/.fc2, ReLU then Hardsigmoid),
///                          project 1x1 Conv2dNormActivation (no activation)
///                        + "features.N.add" (the residual) when stride 1 and in == out channels;
///                        activation ReLU ("RE") or Hardswish ("HS") per block
///     features.16 / .12  Conv2dNormActivation 1x1 -> 6 x last block output (960 / 576) + Hardswish
///     avgpool            AdaptiveAvgPool2d(1)
///     classifier.0       Linear(960 -> 1280 / 576 -> 1024) + Hardswish (classifier.2 is Dropout)
///     classifier.3       Linear(-> numClasses)
///
/// Width multiplier: torchvision's `_mobilenet_v3_conf` (`_make_divisible(c * width, 8)` for every
/// channel count of the table and for the classifier's hidden width); not dilated, full tail.
extension Architecture {
    /// One row of torchvision's `_mobilenet_v3_conf` (dilation 1): bneck_conf(input, kernel,
    /// expanded, out, use_se, activation, stride, dilation).
    struct MobileNetV3Block {
        let input: Int
        let kernel: Int
        let expanded: Int
        let out: Int
        let squeezeExcitation: Bool
        let hardswish: Bool
        let stride: Int

        init(_ input: Int, _ kernel: Int, _ expanded: Int, _ out: Int, _ se: Bool, _ activation: String, _ stride: Int) {
            self.input = input
            self.kernel = kernel
            self.expanded = expanded
            self.out = out
            self.squeezeExcitation = se
            self.hardswish = activation == "HS"
            self.stride = stride
        }
    }

    static let mobileNetV3LargeBlocks: [MobileNetV3Block] = [
        .init(16, 3, 16, 16, false, "RE", 1),
        .init(16, 3, 64, 24, false, "RE", 2),  // C1
        .init(24, 3, 72, 24, false, "RE", 1),
        .init(24, 5, 72, 40, true, "RE", 2),  // C2
        .init(40, 5, 120, 40, true, "RE", 1),
        .init(40, 5, 120, 40, true, "RE", 1),
        .init(40, 3, 240, 80, false, "HS", 2),  // C3
        .init(80, 3, 200, 80, false, "HS", 1),
        .init(80, 3, 184, 80, false, "HS", 1),
        .init(80, 3, 184, 80, false, "HS", 1),
        .init(80, 3, 480, 112, true, "HS", 1),
        .init(112, 3, 672, 112, true, "HS", 1),
        .init(112, 5, 672, 160, true, "HS", 2),  // C4
        .init(160, 5, 960, 160, true, "HS", 1),
        .init(160, 5, 960, 160, true, "HS", 1),
    ]

    static let mobileNetV3SmallBlocks: [MobileNetV3Block] = [
        .init(16, 3, 16, 16, true, "RE", 2),  // C1
        .init(16, 3, 72, 24, false, "RE", 2),  // C2
        .init(24, 3, 88, 24, false, "RE", 1),
        .init(24, 5, 96, 40, true, "HS", 2),  // C3
        .init(40, 5, 240, 40, true, "HS", 1),
        .init(40, 5, 240, 40, true, "HS", 1),
        .init(40, 5, 120, 48, true, "HS", 1),
        .init(48, 5, 144, 48, true, "HS", 1),
        .init(48, 5, 288, 96, true, "HS", 2),  // C4
        .init(96, 5, 576, 96, true, "HS", 1),
        .init(96, 5, 576, 96, true, "HS", 1),
    ]

    static func buildMobileNetV3(large: Bool, width: Double, numClasses: Int) -> [Node] {
        let blocks = large ? mobileNetV3LargeBlocks : mobileNetV3SmallBlocks
        func adjust(_ channels: Int) -> Int { makeDivisible(Double(channels) * width, 8) }
        let eps: Float = 1e-3
        var b = ArchitectureBuilder()
        b.batchNormMomentum = 0.01  // torchvision: partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        var channels = adjust(blocks[0].input)
        b.conv("features.0", in: 3, out: channels, kernel: 3, stride: 2,
               weightKey: "features.0.0.weight", batchNorm: "features.0.1", eps: eps, activation: .hardswish)
        for (n, block) in blocks.enumerated() {
            let p = "features.\(n + 1).block"
            let input = adjust(block.input)
            let expanded = adjust(block.expanded)
            let out = adjust(block.out)
            precondition(input == channels, "MobileNetV3 table: block \(n + 1) takes \(input) channels, gets \(channels)")
            let activation: Activation = block.hardswish ? .hardswish : .relu
            let blockInput = b.last
            var j = 0
            if expanded != input {
                b.conv("\(p).\(j)", in: input, out: expanded, kernel: 1,
                       weightKey: "\(p).\(j).0.weight", batchNorm: "\(p).\(j).1", eps: eps, activation: activation)
                j += 1
            }
            b.conv("\(p).\(j)", in: expanded, out: expanded, kernel: block.kernel, stride: block.stride, groups: expanded,
                   weightKey: "\(p).\(j).0.weight", batchNorm: "\(p).\(j).1", eps: eps, activation: activation)
            j += 1
            if block.squeezeExcitation {
                let squeeze = makeDivisible(Double(expanded / 4), 8)
                b.append("\(p).\(j)", .squeezeExcitation(SqueezeExcitationSpec(channels: expanded, squeezeChannels: squeeze, prefix: "\(p).\(j)")))
                j += 1
            }
            b.conv("\(p).\(j)", in: expanded, out: out, kernel: 1,
                   weightKey: "\(p).\(j).0.weight", batchNorm: "\(p).\(j).1", eps: eps, activation: .none)
            if block.stride == 1 && input == out {
                b.append("features.\(n + 1).add", .add(activation: .none), inputs: [blockInput, b.last])
            }
            channels = out
        }
        let head = "features.\(blocks.count + 1)"
        let lastConv = 6 * channels
        b.conv(head, in: channels, out: lastConv, kernel: 1,
               weightKey: "\(head).0.weight", batchNorm: "\(head).1", eps: eps, activation: .hardswish)
        b.append("avgpool", .globalAveragePool)
        let lastChannel = adjust(large ? 1280 : 1024)
        b.linear("classifier.0", in: lastConv, out: lastChannel, activation: .hardswish)
        b.linear("classifier.3", in: lastChannel, out: numClasses, dropout: 0.2)
        return b.nodes
    }
}
