/// ShuffleNetV1 1.0x (Zhang et al. 2017) as `specs/reference_models.py` defines it (names of
/// `specs/shufflenet_v1_g3.json` for g = 3; the other group counts use the same scheme):
///
///     conv1           conv 3x3 s2 3->24 (.0) + BN (.1) + ReLU
///     maxpool         MaxPool 3x3 s2 p1 (left out with `stemPool: false`, the CIFAR form)
///     stageS.U        S = 2, 3, 4 with 4 / 8 / 4 units, stage width C (table below), mid = C / 4:
///                       stageS.U.conv1     1x1 conv in->mid, groups g (1 for stage2.0) + bn1 + ReLU
///                       stageS.U.shuffle   channel shuffle, g groups (also in stage2.0; identity for g = 1)
///                       stageS.U.conv2     depthwise 3x3 pad 1, stride 2 in unit 0 + bn2
///                       stageS.U.conv3     1x1 conv mid->C_main, groups g + bn3 (no activation)
///                     unit 0: stageS.U.avgpool  AvgPool 3x3 s2 p1 (count_include_pad) of the unit input,
///                             stageS.U.cat      ReLU(concat([pooled, main])), C_main = C - in
///                     else:   stageS.U.add      ReLU(input + main), C_main = C
///     mean            global average pool (x.mean((2, 3)) in forward)
///     fc              Linear(C, numClasses)
///
/// Stage widths (paper Table 1): g=1 144/288/576, g=2 200/400/800, g=3 240/480/960,
/// g=4 272/544/1088, g=8 384/768/1536. No width multiplier.
extension Architecture {
    /// Stage 2's output channels by group count; stages 3 and 4 double it each time.
    static let shuffleNetV1Stage2Channels: [Int: Int] = [1: 144, 2: 200, 3: 240, 4: 272, 8: 384]
    /// Units in stages 2, 3, 4.
    static let shuffleNetV1Repeats = [4, 8, 4]

    static func buildShuffleNetV1(groups: Int, numClasses: Int, stemPool: Bool = true) -> [Node] {
        guard let stage2 = shuffleNetV1Stage2Channels[groups] else {
            preconditionFailure("ShuffleNetV1 has no stage widths for \(groups) groups")
        }
        var b = ArchitectureBuilder()
        b.conv("conv1", in: 3, out: 24, kernel: 3, stride: 2,
               weightKey: "conv1.0.weight", batchNorm: "conv1.1", activation: .relu)
        if stemPool { b.append("maxpool", .maxPool(kernel: 3, stride: 2, padding: 1)) }
        var input = 24
        for (stageIndex, repeats) in shuffleNetV1Repeats.enumerated() {
            let stage = stageIndex + 2
            let output = stage2 << stageIndex
            for unit in 0..<repeats {
                let p = "stage\(stage).\(unit)"
                let stride = unit == 0 ? 2 : 1
                let mid = output / 4
                let main = stride == 2 ? output - input : output
                let unitInput = b.last
                b.conv("\(p).conv1", in: input, out: mid, kernel: 1, groups: stage == 2 && unit == 0 ? 1 : groups,
                       weightKey: "\(p).conv1.weight", batchNorm: "\(p).bn1", activation: .relu)
                b.append("\(p).shuffle", .channelShuffle(groups: groups))
                b.conv("\(p).conv2", in: mid, out: mid, kernel: 3, stride: stride, groups: mid,
                       weightKey: "\(p).conv2.weight", batchNorm: "\(p).bn2", activation: .none)
                let mainBranch = b.conv("\(p).conv3", in: mid, out: main, kernel: 1, groups: groups,
                                        weightKey: "\(p).conv3.weight", batchNorm: "\(p).bn3", activation: .none)
                if stride == 1 {
                    b.append("\(p).add", .add(activation: .relu), inputs: [unitInput, mainBranch])
                } else {
                    let pooled = b.append("\(p).avgpool", .avgPool(kernel: 3, stride: 2, padding: 1, countIncludePad: true),
                                          inputs: [unitInput])
                    b.append("\(p).cat", .concat(activation: .relu), inputs: [pooled, mainBranch])
                }
                input = output
            }
        }
        b.append("mean", .globalAveragePool)
        b.linear("fc", in: input, out: numClasses)
        return b.nodes
    }
}
