import Foundation
import MobileKernels
import Testing

/// The state_dict specs in Tests/Fixtures/specs (copies of specs/*.json), found from this file's
/// real location (symlinks resolved), walking up to the first folder holding Fixtures/specs or
/// Tests/Fixtures/specs.
private enum SpecFixtures {
    static func directory(filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while true {
            for relative in ["Fixtures/specs", "Tests/Fixtures/specs"] {
                let candidate = dir.appendingPathComponent(relative)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                    return candidate
                }
            }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw SpecError("no Tests/Fixtures/specs above \(filePath)")
    }

    /// The ordered [key, shape] list of specs/<name>.json.
    static func load(_ name: String) throws -> [(name: String, shape: [Int])] {
        let url = try directory().appendingPathComponent("\(name).json")
        let data = try Data(contentsOf: url)
        guard let entries = try JSONSerialization.jsonObject(with: data) as? [Any] else {
            throw SpecError("\(url.path) is not a JSON array")
        }
        return try entries.enumerated().map { index, entry in
            guard let pair = entry as? [Any], pair.count == 2, let key = pair[0] as? String, let dims = pair[1] as? [Any] else {
                throw SpecError("\(url.lastPathComponent) entry \(index) is not [key, shape]")
            }
            let shape = try dims.map { dim -> Int in
                if let value = dim as? Int { return value }
                if let value = dim as? NSNumber { return value.intValue }
                throw SpecError("\(url.lastPathComponent) entry \(index) (\(key)) has a non-integer dimension")
            }
            return (key, shape)
        }
    }

    struct SpecError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// The spec README's table: tensors, learnable parameters, MACs at 224 in units of 0.1 M, BN eps.
private let specTable: [(kind: ModelKind, tensors: Int, parameters: Int, macsTenthsOfMillion: Int, eps: Float?)] = [
    (.mobileNetV1, 137, 4_231_976, 5_687, 1e-5),
    (.mobileNetV2, 262, 3_504_872, 3_008, 1e-5),
    (.mobileNetV3Large, 266, 5_483_032, 2_166, 1e-3),
    (.mobileNetV3Small, 210, 2_542_856, 565, 1e-3),
    (.shuffleNetV1(groups: 3), 247, 1_865_728, 1_375, 1e-5),
    (.alexnet, 16, 61_100_840, 7_142, nil),
    (.vgg16, 32, 138_357_544, 154_703, nil),
]

private func output(_ arch: Architecture, _ name: String, height: Int = 224, width: Int = 224) throws -> FeatureSize? {
    guard let node = arch.node(named: name) else { return nil }
    return try arch.featureSizes(height: height, width: width)[node.id]
}

private func convs(_ arch: Architecture) -> [(node: Node, conv: ConvSpec)] {
    arch.nodes.compactMap { node in
        if case let .conv(conv) = node.operation { return (node, conv) }
        return nil
    }
}

private func linears(_ arch: Architecture) -> [LinearSpec] {
    arch.nodes.compactMap { node in
        if case let .linear(linear) = node.operation { return linear }
        return nil
    }
}

/// Expects `body` to throw MobileKernelsError(.invalidArgument) whose message contains `fragment`.
private func expectInvalid(_ fragment: String = "", sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an invalidArgument error", sourceLocation: sourceLocation)
    } catch let error as MobileKernelsError {
        #expect(error.kind == .invalidArgument, "\(error)", sourceLocation: sourceLocation)
        #expect(fragment.isEmpty || error.message.contains(fragment), "\(error) should mention \(fragment)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Architecture: the seven networks as data")
struct ArchitectureTests {
    @Test("parameters() is the state_dict spec, key by key", arguments: ModelKind.specified)
    func parametersMatchSpec(kind: ModelKind) throws {
        let expected = try SpecFixtures.load(kind.specName)
        let actual = try Architecture.make(kind).parameters()
        for (index, (want, got)) in zip(expected, actual).enumerated() where want.name != got.name || want.shape != got.shape {
            Issue.record("\(kind.specName): first difference at tensor \(index): spec \(want.name) \(want.shape), architecture \(got.name) \(got.shape)")
            return
        }
        #expect(actual.count == expected.count, "\(kind.specName): \(actual.count) tensors, spec has \(expected.count); first extra: \(actual.count > expected.count ? actual[expected.count].name : expected[actual.count].name)")
    }

    @Test("parameter count, tensor count, MACs at 224 and BN eps as in the spec README")
    func readmeTable() throws {
        for row in specTable {
            let arch = try Architecture.make(row.kind)
            #expect(arch.parameters().count == row.tensors, "\(row.kind)")
            #expect(arch.parameterCount == row.parameters, "\(row.kind)")
            let macs = try arch.macs(height: 224, width: 224)
            #expect(Int((Double(macs) / 100_000).rounded()) == row.macsTenthsOfMillion, "\(row.kind): \(macs) MACs")
            #expect(try arch.layerShapes(height: 224, width: 224).reduce(0) { $0 + $1.macs } == macs)
            let epsilons = Set(convs(arch).compactMap { $0.conv.batchNorm?.eps })
            #expect(epsilons == (row.eps.map { [$0] } ?? []), "\(row.kind): BN eps \(epsilons)")
            // torchvision's MobileNetV3 builds its BatchNorms with momentum 0.01; the rest keep
            // PyTorch's 0.1.
            let momenta = Set(convs(arch).compactMap { $0.conv.batchNorm?.momentum })
            let v3 = row.kind == .mobileNetV3Large || row.kind == .mobileNetV3Small
            #expect(momenta == (row.eps == nil ? [] : [v3 ? 0.01 : 0.1]), "\(row.kind): BN momentum \(momenta)")
        }
    }

    @Test("the last node gives 1x1x1000 logits at 224", arguments: ModelKind.all)
    func logits(kind: ModelKind) throws {
        let arch = try Architecture.make(kind)
        #expect(arch.numClasses == 1000)
        #expect(arch.nodes[0].operation == .input(channels: 3))
        #expect(try arch.featureSizes(height: 224, width: 224).last == FeatureSize(h: 1, w: 1, c: 1000))
        for (index, node) in arch.nodes.enumerated() {
            #expect(node.id == index)
            #expect(node.inputs.allSatisfy { $0 < index })
            switch node.operation {
            case .add, .concat: #expect(node.inputs.count == 2, "\(node.name)")
            case .input: #expect(node.inputs.isEmpty)
            default: #expect(node.inputs.count == 1, "\(node.name)")
            }
        }
        #expect(Set(arch.nodes.map(\.name)).count == arch.nodes.count, "node names are unique")
    }

    @Test("hand-checked intermediate sizes at 224")
    func intermediateSizes() throws {
        let checks: [(ModelKind, String, FeatureSize)] = [
            (.mobileNetV1, "features.0.0", FeatureSize(h: 112, w: 112, c: 32)),
            (.mobileNetV1, "features.2.0", FeatureSize(h: 56, w: 56, c: 64)),
            (.mobileNetV1, "features.13.3", FeatureSize(h: 7, w: 7, c: 1024)),
            (.mobileNetV2, "features.1.conv.1", FeatureSize(h: 112, w: 112, c: 16)),
            (.mobileNetV2, "features.2.conv.1", FeatureSize(h: 56, w: 56, c: 96)),
            (.mobileNetV2, "features.3.add", FeatureSize(h: 56, w: 56, c: 24)),
            (.mobileNetV2, "features.17.conv.2", FeatureSize(h: 7, w: 7, c: 320)),
            (.mobileNetV2, "features.18", FeatureSize(h: 7, w: 7, c: 1280)),
            (.mobileNetV3Large, "features.4.block.2", FeatureSize(h: 28, w: 28, c: 72)),
            (.mobileNetV3Large, "features.16", FeatureSize(h: 7, w: 7, c: 960)),
            (.mobileNetV3Large, "classifier.0", FeatureSize(h: 1, w: 1, c: 1280)),
            (.mobileNetV3Small, "features.1.block.1", FeatureSize(h: 56, w: 56, c: 16)),
            (.mobileNetV3Small, "features.12", FeatureSize(h: 7, w: 7, c: 576)),
            (.mobileNetV3Small, "classifier.0", FeatureSize(h: 1, w: 1, c: 1024)),
            (.shuffleNetV1(groups: 3), "maxpool", FeatureSize(h: 56, w: 56, c: 24)),
            (.shuffleNetV1(groups: 3), "stage2.0.avgpool", FeatureSize(h: 28, w: 28, c: 24)),
            (.shuffleNetV1(groups: 3), "stage2.0.conv3", FeatureSize(h: 28, w: 28, c: 216)),
            (.shuffleNetV1(groups: 3), "stage2.0.cat", FeatureSize(h: 28, w: 28, c: 240)),
            (.shuffleNetV1(groups: 3), "stage2.3.add", FeatureSize(h: 28, w: 28, c: 240)),
            (.shuffleNetV1(groups: 3), "stage3.7.add", FeatureSize(h: 14, w: 14, c: 480)),
            (.shuffleNetV1(groups: 3), "stage4.3.add", FeatureSize(h: 7, w: 7, c: 960)),
            (.vgg16, "features.30", FeatureSize(h: 7, w: 7, c: 512)),
            (.vgg16, "flatten", FeatureSize(h: 1, w: 1, c: 25088)),
            (.alexnet, "features.0", FeatureSize(h: 55, w: 55, c: 64)),
            (.alexnet, "features.5", FeatureSize(h: 13, w: 13, c: 192)),
            (.alexnet, "features.12", FeatureSize(h: 6, w: 6, c: 256)),
            (.alexnet, "flatten", FeatureSize(h: 1, w: 1, c: 9216)),
        ]
        for (kind, name, expected) in checks {
            let arch = try Architecture.make(kind)
            #expect(try output(arch, name) == expected, "\(kind) \(name)")
        }
    }

    @Test("block structure: residual adds, SE blocks, depthwise and pointwise convs")
    func blockStructure() throws {
        func count(_ arch: Architecture, _ predicate: (MobileKernels.Operation) -> Bool) -> Int {
            arch.nodes.filter { predicate($0.operation) }.count
        }
        let isAdd: (MobileKernels.Operation) -> Bool = { if case .add = $0 { true } else { false } }
        let isSE: (MobileKernels.Operation) -> Bool = { if case .squeezeExcitation = $0 { true } else { false } }

        let v1 = try Architecture.make(.mobileNetV1)
        #expect(convs(v1).filter { $0.conv.isDepthwise }.count == 13)
        #expect(convs(v1).filter { $0.conv.isPointwise }.count == 13)

        let v2 = try Architecture.make(.mobileNetV2)
        #expect(count(v2, isAdd) == 10)
        #expect(v2.node(named: "features.3.add")?.inputs == [v2.node(named: "features.2.conv.2")!.id, v2.node(named: "features.3.conv.2")!.id])
        #expect(convs(v2).filter { $0.conv.isDepthwise }.count == 17)

        let large = try Architecture.make(.mobileNetV3Large)
        #expect(count(large, isAdd) == 10)
        #expect(count(large, isSE) == 8)
        if case let .squeezeExcitation(se) = large.node(named: "features.4.block.2")?.operation {
            #expect(se == SqueezeExcitationSpec(channels: 72, squeezeChannels: 24, prefix: "features.4.block.2"))
        } else {
            Issue.record("features.4.block.2 is not the SE block")
        }
        // dw -> SE -> project, in that order.
        let dw = try #require(large.node(named: "features.4.block.1"))
        let se = try #require(large.node(named: "features.4.block.2"))
        let project = try #require(large.node(named: "features.4.block.3"))
        #expect(se.inputs == [dw.id] && project.inputs == [se.id])
        if case let .conv(conv) = dw.operation {
            #expect(conv.kernelH == 5 && conv.strideH == 2 && conv.padTop == 2 && conv.isDepthwise && conv.activation == .relu)
        }
        #expect(linears(large).map(\.activation) == [.hardswish, .none])

        let small = try Architecture.make(.mobileNetV3Small)
        #expect(count(small, isAdd) == 6)
        #expect(count(small, isSE) == 9)

        let shuffle = try Architecture.make(.shuffleNetV1(groups: 3))
        let unit = try #require(shuffle.node(named: "stage3.1.add"))
        #expect(unit.operation == .add(activation: .relu))
        #expect(unit.inputs == [shuffle.node(named: "stage3.0.cat")!.id, shuffle.node(named: "stage3.1.conv3")!.id])
        let cat = try #require(shuffle.node(named: "stage3.0.cat"))
        #expect(cat.operation == .concat(activation: .relu))
        #expect(cat.inputs == [shuffle.node(named: "stage3.0.avgpool")!.id, shuffle.node(named: "stage3.0.conv3")!.id])
        #expect(shuffle.node(named: "stage3.0.avgpool")?.operation == .avgPool(kernel: 3, stride: 2, padding: 1, countIncludePad: true))
        #expect(shuffle.node(named: "stage3.0.avgpool")?.inputs == [shuffle.node(named: "stage2.3.add")!.id])
        #expect(shuffle.node(named: "stage2.0.shuffle")?.operation == .channelShuffle(groups: 3))
    }

    @Test("ShuffleNetV1 for every group count: stage widths and consistent grouped convs",
          arguments: ModelKind.shuffleNetV1Groups)
    func shuffleNetGroups(groups: Int) throws {
        let widths: [Int: [Int]] = [1: [144, 288, 576], 2: [200, 400, 800], 3: [240, 480, 960], 4: [272, 544, 1088], 8: [384, 768, 1536]]
        let arch = try Architecture.make(.shuffleNetV1(groups: groups))
        #expect(try output(arch, "stage2.0.cat") == FeatureSize(h: 28, w: 28, c: widths[groups]![0]))
        #expect(try output(arch, "stage2.3.add") == FeatureSize(h: 28, w: 28, c: widths[groups]![0]))
        #expect(try output(arch, "stage3.7.add") == FeatureSize(h: 14, w: 14, c: widths[groups]![1]))
        #expect(try output(arch, "stage4.3.add") == FeatureSize(h: 7, w: 7, c: widths[groups]![2]))
        #expect(linears(arch).map(\.inFeatures) == [widths[groups]![2]])
        for (node, conv) in convs(arch) {
            #expect(conv.inChannels % conv.groups == 0 && conv.outChannels % conv.groups == 0, "\(node.name)")
            #expect(conv.weightShape[1] * conv.groups == conv.inChannels, "\(node.name)")
            if node.name.hasSuffix(".conv3") || (node.name.hasSuffix(".conv1") && node.name != "stage2.0.conv1") {
                #expect(conv.groups == groups, "\(node.name)")
            }
        }
        #expect(arch.node(named: "stage2.0.conv1").map { if case let .conv(c) = $0.operation { c.groups } else { 0 } } == 1)
        // Every tensor of parameters() is a conv/BN/linear tensor of consistent size.
        let shapes = Dictionary(uniqueKeysWithValues: arch.parameters().map { ($0.name, $0.shape) })
        for (_, conv) in convs(arch) {
            #expect(shapes[conv.weightKey] == [conv.outChannels, conv.inChannels / conv.groups, 1 + 2 * conv.padTop, 1 + 2 * conv.padTop])
            #expect(shapes[conv.batchNorm!.runningVarKey] == [conv.outChannels])
        }
        #expect(arch.parameters().count == 5 + 16 * 15 + 2)
        #expect(try arch.featureSizes(height: 224, width: 224).last == FeatureSize(h: 1, w: 1, c: 1000))
    }

    @Test("10 classes at 32x32: every model but AlexNet (which PyTorch also rejects below 63x63)",
          arguments: ModelKind.all)
    func smallInputs(kind: ModelKind) throws {
        let arch = try Architecture.make(kind, numClasses: 10)
        #expect(arch.numClasses == 10)
        #expect(linears(arch).last?.outFeatures == 10)
        #expect(arch.parameters().last?.shape == [10])
        if kind == .alexnet {
            expectInvalid("features.12") { _ = try arch.featureSizes(height: 32, width: 32) }
            expectInvalid("features.12") { _ = try arch.featureSizes(height: 62, width: 224) }
            #expect(try arch.featureSizes(height: 63, width: 63).last == FeatureSize(h: 1, w: 1, c: 10))
            #expect(try output(arch, "features.12", height: 63, width: 63) == FeatureSize(h: 1, w: 1, c: 256))
            return
        }
        let sizes = try arch.featureSizes(height: 32, width: 32)
        #expect(sizes.last == FeatureSize(h: 1, w: 1, c: 10))
        #expect(try arch.macs(height: 32, width: 32) > 0)
        if kind == .vgg16 {
            // features.30 leaves 1x1; the adaptive pool replicates it to 7x7.
            #expect(try output(arch, "features.30", height: 32, width: 32) == FeatureSize(h: 1, w: 1, c: 512))
            #expect(try output(arch, "avgpool", height: 32, width: 32) == FeatureSize(h: 7, w: 7, c: 512))
        }
    }

    @Test("non-square and odd input sizes follow PyTorch's floor arithmetic")
    func oddSizes() throws {
        let v2 = try Architecture.make(.mobileNetV2)
        #expect(try output(v2, "features.18", height: 225, width: 160) == FeatureSize(h: 8, w: 5, c: 1280))
        let vgg = try Architecture.make(.vgg16)
        #expect(try output(vgg, "features.30", height: 300, width: 250) == FeatureSize(h: 9, w: 7, c: 512))
        #expect(try output(vgg, "avgpool", height: 300, width: 250) == FeatureSize(h: 7, w: 7, c: 512))
        let shuffle = try Architecture.make(.shuffleNetV1(groups: 3))
        #expect(try output(shuffle, "stage4.3.add", height: 1, width: 1) == FeatureSize(h: 1, w: 1, c: 960))
    }

    @Test("width multipliers follow torchvision (V2, V3) and int(c * alpha) (V1)")
    func widthMultipliers() throws {
        func channels(_ kind: ModelKind, _ width: Float) throws -> (stem: Int, blocks: [Int], last: Int, classifierIn: Int) {
            let arch = try Architecture.make(kind, widthMultiplier: width)
            let all = convs(arch)
            let blockOutputs = all.filter {
                $0.node.name.hasSuffix(".conv.2") && !$0.node.name.hasPrefix("features.1.")
                    || $0.node.name == "features.1.conv.1"
            }.map(\.conv.outChannels)
            return (all.first!.conv.outChannels, blockOutputs, all.last!.conv.outChannels, linears(arch)[0].inFeatures)
        }
        let half = try channels(.mobileNetV2, 0.5)
        #expect(half.stem == 16 && half.last == 1280 && half.classifierIn == 1280)
        #expect(half.blocks == [8, 16, 16, 16, 16, 16, 32, 32, 32, 32, 48, 48, 48, 80, 80, 80, 160])
        let threeQuarters = try channels(.mobileNetV2, 0.75)
        #expect(threeQuarters.stem == 24 && threeQuarters.last == 1280)
        #expect(threeQuarters.blocks == [16, 24, 24, 24, 24, 24, 48, 48, 48, 48, 72, 72, 72, 120, 120, 120, 240])
        let wide = try channels(.mobileNetV2, 1.4)
        #expect(wide.stem == 48 && wide.last == 1792 && wide.classifierIn == 1792)
        #expect(wide.blocks == [24, 32, 32, 48, 48, 48, 88, 88, 88, 88, 136, 136, 136, 224, 224, 224, 448])
        let v2Half = try Architecture.make(.mobileNetV2, widthMultiplier: 0.5)
        #expect(try v2Half.featureSizes(height: 224, width: 224).last == FeatureSize(h: 1, w: 1, c: 1000))
        #expect(v2Half.widthMultiplier == 0.5)

        let v3 = try Architecture.make(.mobileNetV3Small, widthMultiplier: 0.75)
        #expect(try output(v3, "features.0") == FeatureSize(h: 112, w: 112, c: 16))
        #expect(try output(v3, "features.12") == FeatureSize(h: 7, w: 7, c: 432))  // 6 * _make_divisible(72, 8)
        #expect(linears(v3).map(\.outFeatures) == [768, 1000])
        if case let .squeezeExcitation(se) = v3.node(named: "features.1.block.1")?.operation {
            #expect(se.channels == 16 && se.squeezeChannels == 8)
        } else {
            Issue.record("features.1.block.1 is not an SE block")
        }
        let v3Large = try Architecture.make(.mobileNetV3Large, widthMultiplier: 0.5)
        #expect(linears(v3Large).map(\.outFeatures) == [640, 1000])
        #expect(try output(v3Large, "features.16") == FeatureSize(h: 7, w: 7, c: 480))

        let v1 = try Architecture.make(.mobileNetV1, widthMultiplier: 0.25)
        #expect(convs(v1).first?.conv.outChannels == 8)
        #expect(linears(v1).first?.inFeatures == 256)
        #expect(try output(v1, "features.13.3") == FeatureSize(h: 7, w: 7, c: 256))
        let v1Odd = try Architecture.make(.mobileNetV1, widthMultiplier: 0.3)
        #expect(convs(v1Odd).map(\.conv.outChannels).prefix(3) == [9, 9, 19])  // int(32 * 0.3), int(64 * 0.3)
    }

    @Test("bad arguments throw invalidArgument")
    func badArguments() throws {
        for width: Float in [0, -1, .nan, .infinity, 4.5] {
            expectInvalid("widthMultiplier") { _ = try Architecture.make(.mobileNetV2, widthMultiplier: width) }
        }
        for kind in [ModelKind.vgg16, .alexnet, .shuffleNetV1(groups: 3)] {
            expectInvalid("width multiplier") { _ = try Architecture.make(kind, widthMultiplier: 0.5) }
        }
        expectInvalid("0 channels") { _ = try Architecture.make(.mobileNetV1, widthMultiplier: 0.01) }
        for classes in [0, -3, Architecture.maxClasses + 1] {
            expectInvalid("numClasses") { _ = try Architecture.make(.mobileNetV2, numClasses: classes) }
        }
        expectInvalid("groups") { _ = try Architecture.make(.shuffleNetV1(groups: 5)) }
        let v2 = try Architecture.make(.mobileNetV2)
        expectInvalid("0x224") { _ = try v2.featureSizes(height: 0, width: 224) }
        expectInvalid("224x-1") { _ = try v2.macs(height: 224, width: -1) }
        let vgg = try Architecture.make(.vgg16)
        expectInvalid("features.30") { _ = try vgg.featureSizes(height: 16, width: 16) }
        #expect(try vgg.featureSizes(height: 32, width: 32).count == vgg.nodes.count)
        do {
            _ = try v2.macs(height: 1 << 40, width: 1 << 40)
            Issue.record("an overflowing MAC count was returned")
        } catch let error as MobileKernelsError {
            #expect(error.kind == .sizeOverflow)
        }
    }

    @Test("ModelKind names")
    func modelKinds() {
        #expect(ModelKind.all.count == 11)
        #expect(ModelKind.specified.count == 7)
        #expect(ModelKind.specified.map(\.specName) == [
            "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v1_g3", "vgg16", "alexnet",
        ])
        for kind in ModelKind.all {
            #expect(ModelKind(specName: kind.specName) == kind)
            #expect(kind.description == kind.specName)
        }
        #expect(ModelKind(specName: "shufflenet_v1_g5") == nil)
        #expect(ModelKind(specName: "shufflenet_v1_g03") == nil)
        #expect(ModelKind(specName: "resnet50") == nil)
    }
}
