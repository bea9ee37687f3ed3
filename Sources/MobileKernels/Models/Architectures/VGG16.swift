/// torchvision's `vgg16` (configuration D, no batch norm; names of `specs/vgg16.json`):
///
///     features.{0,2,5,7,10,12,14,17,19,21,24,26,28}   conv 3x3 pad 1 with bias + ReLU (fused)
///     features.{4,9,16,23,30}                          MaxPool 2x2 s2
///     avgpool        AdaptiveAvgPool2d((7, 7)) (identity at 224x224)
///     flatten        torch.flatten(x, 1) in forward: classifier.0's columns are in (c, h, w) order
///     classifier.0   Linear(25088, 4096) + ReLU      (classifier.2 / .5 are Dropout)
///     classifier.3   Linear(4096, 4096) + ReLU
///     classifier.6   Linear(4096, numClasses)
extension Architecture {
    /// torchvision's cfgs["D"]: channels of each conv, 0 for a max pool.
    static let vgg16Config = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]

    static func buildVGG16(numClasses: Int) -> [Node] {
        var b = ArchitectureBuilder()
        var channels = 3
        var index = 0  // the module index in `features` (a ReLU follows every conv)
        for item in vgg16Config {
            if item == 0 {
                b.append("features.\(index)", .maxPool(kernel: 2, stride: 2, padding: 0))
                index += 1
            } else {
                b.conv("features.\(index)", in: channels, out: item, kernel: 3, padding: 1,
                       weightKey: "features.\(index).weight", biasKey: "features.\(index).bias", activation: .relu)
                channels = item
                index += 2
            }
        }
        b.append("avgpool", .adaptiveAvgPool(outputH: 7, outputW: 7))
        b.append("flatten", .flatten)
        b.linear("classifier.0", in: channels * 7 * 7, out: 4096, activation: .relu)
        b.linear("classifier.3", in: 4096, out: 4096, activation: .relu, dropout: 0.5)
        b.linear("classifier.6", in: 4096, out: numClasses, dropout: 0.5)
        return b.nodes
    }
}
