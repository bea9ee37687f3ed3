/// torchvision's `alexnet` (names of `specs/alexnet.json`):
///
///     features.0     conv 11x11 s4 p2 3->64 with bias + ReLU (fused)
///     features.2     MaxPool 3x3 s2
///     features.3     conv 5x5 p2 64->192 + ReLU
///     features.5     MaxPool 3x3 s2
///     features.6     conv 3x3 p1 192->384 + ReLU
///     features.8     conv 3x3 p1 384->256 + ReLU
///     features.10    conv 3x3 p1 256->256 + ReLU
///     features.12    MaxPool 3x3 s2 (-> 6x6 at 224)
///     avgpool        AdaptiveAvgPool2d((6, 6))
///     flatten        torch.flatten(x, 1) in forward: classifier.1's columns are in (c, h, w) order
///     classifier.1   Linear(9216, 4096) + ReLU      (classifier.0 / .3 are Dropout)
///     classifier.4   Linear(4096, 4096) + ReLU
///     classifier.6   Linear(4096, numClasses)
///
/// The smallest input it takes is 63x63 (features.12 needs a 3x3 input), as in PyTorch.
extension Architecture {
    static func buildAlexNet(numClasses: Int) -> [Node] {
        var b = ArchitectureBuilder()
        func conv(_ index: Int, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int) {
            b.conv("features.\(index)", in: inChannels, out: outChannels, kernel: kernel, stride: stride, padding: padding,
                   weightKey: "features.\(index).weight", biasKey: "features.\(index).bias", activation: .relu)
        }
        conv(0, 3, 64, kernel: 11, stride: 4, padding: 2)
        b.append("features.2", .maxPool(kernel: 3, stride: 2, padding: 0))
        conv(3, 64, 192, kernel: 5, stride: 1, padding: 2)
        b.append("features.5", .maxPool(kernel: 3, stride: 2, padding: 0))
        conv(6, 192, 384, kernel: 3, stride: 1, padding: 1)
        conv(8, 384, 256, kernel: 3, stride: 1, padding: 1)
        conv(10, 256, 256, kernel: 3, stride: 1, padding: 1)
        b.append("features.12", .maxPool(kernel: 3, stride: 2, padding: 0))
        b.append("avgpool", .adaptiveAvgPool(outputH: 6, outputW: 6))
        b.append("flatten", .flatten)
        b.linear("classifier.1", in: 256 * 6 * 6, out: 4096, activation: .relu, dropout: 0.5)
        b.linear("classifier.4", in: 4096, out: 4096, activation: .relu, dropout: 0.5)
        b.linear("classifier.6", in: 4096, out: numClasses)
        return b.nodes
    }
}
