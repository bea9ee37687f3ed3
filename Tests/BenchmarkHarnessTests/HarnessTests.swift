import BenchmarkHarness
import Foundation
import MobileKernels
import Testing

@Suite("Benchmark harness")
struct HarnessTests {
    @Test func percentilesAndSpread() {
        // NumPy: np.percentile([1, 2, 3, 4], 50) = 2.5, 90 -> 3.7, 10 -> 1.3.
        let t = Timing(samples: [4, 1, 3, 2])
        #expect(t.median == 2.5)
        #expect(abs(t.p90 - 3.7) < 1e-12)
        #expect(abs(t.p10 - 1.3) < 1e-12)
        #expect(t.min == 1)
        #expect(abs(t.spread - (3.7 - 1.3) / 2.5) < 1e-12)
        #expect(t.isNoisy)
        #expect(Timing(samples: [5]).median == 5)
        #expect(Timing(samples: [5]).p90 == 5)
        #expect(Timing(samples: []).median == 0)
        #expect(!Timing(samples: [1.0, 1.01, 1.02, 0.99]).isNoisy)
        #expect(Timing.percentile([10, 20, 30], 0) == 10 && Timing.percentile([10, 20, 30], 1) == 30)
    }

    @Test func measureRunsWarmupAndRepetitions() {
        var calls: [Int] = []
        let t = measure(warmup: 2, minRepetitions: 5, minTime: 0) { calls.append($0) }
        #expect(t.samples.count == 5)
        #expect(calls == Array(0..<7))  // call indices continue through the timed calls (rotation)
    }

    @Test func formatting() {
        #expect(format(3.14159, 2) == "3.14")
        #expect(format(0.5, 0) == "1" || format(0.5, 0) == "0")
        #expect(format(-0.0004, 3) == "0.000")
        #expect(format(-2.5, 1) == "-2.5")
        #expect(format(.nan, 1) == "-")
        #expect(formatMs(12.3456) == "12.346")
        #expect(formatMs(0.012345) == "0.0123")  // three significant digits
        var table = Table(["a", "b", "n"])
        table.add(["x", "yy", "1.5"])
        #expect(table.render() == "a  b     n\n-  --  ---\nx  yy  1.5")
    }

    @Test("shape table: the depthwise layers of MobileNetV2 come from its architecture")
    func shapeTable() throws {
        let layers = try convLayers(of: [.mobileNetV2], resolution: 224) { $0.isDepthwise }
        // 17 depthwise convs in 10 distinct geometries (features.1..17 conv.0/conv.1).
        #expect(layers.reduce(0) { $0 + $1.names.count } == 17)
        #expect(layers.count == 10)
        let first = try #require(layers.first)
        #expect(first.names == ["features.1.conv.0"])
        #expect(first.conv.inChannels == 32 && first.conv.kernelH == 3 && first.conv.strideH == 1)
        #expect(first.input == FeatureSize(h: 112, w: 112, c: 32))
        #expect(first.output == FeatureSize(h: 112, w: 112, c: 32))
        let s2 = try #require(layers.first { $0.names.contains("features.2.conv.1") })
        #expect(s2.conv.inChannels == 96 && s2.conv.strideH == 2 && s2.output.h == 56)
        // features.15-17 share dw3x3/s1 C=960 at 7x7.
        let last = try #require(layers.last)
        #expect(last.names == ["features.15.conv.1", "features.16.conv.1", "features.17.conv.1"])
        #expect(last.layerName == "features.15.conv.1 (+2 more)")
        // V3-Large has 5x5 layers; at 64x64 every layer is still there, only smaller.
        let v3 = try convLayers(of: [.mobileNetV3Large], resolution: 224) { $0.isDepthwise }
        #expect(v3.contains { $0.conv.kernelH == 5 && $0.conv.inChannels == 72 && $0.input.h == 56 && $0.conv.strideH == 2 })
        let quick = try convLayers(of: [.mobileNetV2], resolution: 64) { $0.isDepthwise }
        #expect(quick.reduce(0) { $0 + $1.names.count } == 17)
    }

    @Test("FLOP and byte counts, checked by hand")
    func counts() throws {
        let layers = try convLayers(of: [.mobileNetV2], resolution: 224) { $0.isDepthwise }
        let c = try depthwiseCase(layers[0])
        // dw3x3 C=32 on 112x112, stride 1: 2 * 32 * 112 * 112 * 9 FLOPs.
        #expect(c.flops == 2 * 32 * 112 * 112 * 9)
        // Bytes: input and output 112*112*32 floats each, 32*9 weights, 32 biases.
        #expect(c.bytes == Double(4 * (2 * 112 * 112 * 32 + 32 * 9 + 32)))
        #expect(c.shape == "dw3x3/s1 C=32 112x112")
        #expect(c.params == CaseParams(n: 1, h: 112, w: 112, cin: 32, cout: 32, kh: 3, kw: 3, stride: 1, groups: 32))
        #expect(c.reduction == 9)
        let s2 = try depthwiseCase(try #require(layers.first { $0.conv.strideH == 2 && $0.conv.inChannels == 96 }))
        #expect(s2.flops == 2 * 96 * 56 * 56 * 9)
        let act = try #require(try activationCases(quick: false).first { $0.shape == "1x112x112x96" && $0.layer == "bias+hardswish" })
        #expect(act.bytes == Double(112 * 112 * 96 * 8))
        #expect(act.family.isMemoryBound)
        #expect(rotationCount(footprintBytes: 1000) == 1)
        #expect(rotationCount(footprintBytes: 4 << 20) == 4)
        #expect(rotationCount(footprintBytes: 100 << 20) == 2)
    }

    @Test("FLOP and byte counts of the conv, grouped, shuffle, pool, FC, SE and model cases, by hand")
    func moreCounts() throws {
        let pointwise = try pointwiseCases(resolution: 224)
        let first = try #require(pointwise.first { $0.shape == "conv1x1 32->16 112x112" })
        #expect(first.family == .conv1x1 && first.flops == 2 * 112 * 112 * 32 * 16 && first.reduction == 32)
        #expect(first.bytes == Double(4 * (112 * 112 * 32 + 112 * 112 * 16 + 16 * 32 + 16)))
        #expect(first.variants.contains(.blis))
        let grouped = try groupedCases(resolution: 224)
        let g = try #require(grouped.first { $0.shape == "gconv1x1 g=3 240->60 28x28" })
        #expect(g.flops == 2 * 28 * 28 * 60 * 80 && g.reduction == 80 && g.params.groups == 3)
        #expect(grouped.contains { $0.shape == "gconv1x1 g=3 240->60 28x28 +shuffle" && !$0.variants.contains(.blis) })
        let shuffle = try #require(try shuffleCases(of: .shuffleNetV1(groups: 3), resolution: 224).first)
        #expect(shuffle.family.isMemoryBound && shuffle.bytes == Double(8 * 28 * 28 * 240) && shuffle.shape == "shuffle g=3 C=60 56x56")
        // A layer Winograd runs is two cases, direct and winograd, with the direct FLOP count.
        let dense = try denseConvCases(resolution: 224)
        let vgg = try #require(dense.first { $0.shape == "conv3x3 64->64 224x224 direct" })
        #expect(vgg.family == .conv && vgg.flops == 2 * 224 * 224 * 64 * 64 * 9 && vgg.reduction == 576)
        let wino = try #require(dense.first { $0.shape == "conv3x3 64->64 224x224 winograd" })
        #expect(wino.flops == vgg.flops && wino.layer.hasSuffix(" winograd"))
        #expect(dense.contains { $0.shape == "conv11x11/s4 3->64 224x224" })  // not Winograd: one case
        let pools = try poolCases(resolution: 224)
        #expect(pools.contains { $0.shape == "maxpool 2x2/s2 C=64 224x224" && $0.flops == Double(112 * 112 * 64 * 4) })
        #expect(pools.contains { $0.shape == "avgpool 3x3/s2 p1 C=24 56x56" })
        let fc = try #require(try fcCases().first { $0.shape == "fc 25088->4096" })
        #expect(fc.flops == 2 * 25088 * 4096 && fc.family.isMemoryBound)
        let se = try #require(try seCases(resolution: 224).first)
        #expect(se.family == .se && se.reduction > 0)
        let model = try modelCase(.mobileNetV2, resolution: 224)
        #expect(model.flops > 2 * 300.7e6 && model.flops < 2 * 300.9e6 && model.variants == [.auto, .avx2, .scalar, .blis])
        #expect(Set(implementedFamilies).isSuperset(of: [.conv1x1, .gconv, .shuffle, .conv, .pool, .fc, .se]))
    }

    @Test("a case's runner matches its reference, and a wrong output is caught")
    func verification() throws {
        let layers = try convLayers(of: [.mobileNetV3Small], resolution: 32) { $0.isDepthwise }
        let c = try depthwiseCase(layers[0])
        let runner = try c.makeRunner(.auto, .serial, true)
        try runner.run(0)
        let want = c.reference()
        #expect(outputsMatch(runner.output(), want, reduction: c.reduction))
        var wrong = want
        wrong[wrong.count / 2] += 0.01
        #expect(!outputsMatch(wrong, want, reduction: c.reduction))
        #expect(!outputsMatch(Array(want.dropLast()), want, reduction: c.reduction))
    }

    func sampleRows() -> [Row] {
        let params = CaseParams(n: 1, h: 7, w: 7, cin: 960, cout: 960, kh: 3, kw: 3, stride: 1, groups: 960)
        let a = Row(family: "dwconv", model: "mobilenet_v2", layer: "features.15.conv.1, \"x\"", shape: "dw3x3/s1 C=960 7x7",
                    params: params, variant: "avx512", threads: 2, medianMs: 0.01, minMs: 0.009, p90Ms: 0.012,
                    flops: 846_720, bytes: 380_000, gflops: 84.672, gbps: 38, pctPeak: 36.2, speedupVsReference: 150,
                    verified: true, failed: false, noisy: false)
        var b = a
        b.variant = "reference"
        b.speedupVsReference = nil
        b.pctPeak = nil
        b.model = nil
        return [a, b]
    }

    @Test func jsonContract() throws {
        var peak = MachinePeak()
        peak.fmaGflops = ["avx512": [1: 117, 2: 233]]
        peak.l1 = 190
        peak.copy = 30
        let data = try jsonReport(sampleRows(), machine: MachineInfo(peak: peak))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let machine = try #require(object["machine"] as? [String: Any])
        for key in ["cpu", "isa", "cores", "swift", "config", "peak_gflops", "bandwidth_gbps"] {
            #expect(machine[key] != nil, "machine.\(key)")
        }
        let peakJSON = try #require(machine["peak_gflops"] as? [String: [String: Double]])
        #expect(peakJSON["avx512"]?["2"] == 233)
        let bandwidth = try #require(machine["bandwidth_gbps"] as? [String: Double])
        #expect(Set(bandwidth.keys) == ["l1", "l2", "dram", "copy"])
        let rows = try #require(object["rows"] as? [[String: Any]])
        #expect(rows.count == 2)
        let keys: Set<String> = ["family", "model", "layer", "shape", "params", "variant", "threads", "median_ms", "min_ms",
                                 "p90_ms", "flops", "bytes", "gflops", "gbps", "pct_peak", "speedup_vs_reference", "verified"]
        #expect(keys.isSubset(of: Set(rows[0].keys)))
        #expect(rows[0]["median_ms"] as? Double == 0.01)
        #expect((rows[0]["params"] as? [String: Int])?["groups"] == 960)
        #expect(rows[1]["speedup_vs_reference"] is NSNull)
        #expect(rows[1]["model"] is NSNull)
        #expect(rows[0]["verified"] as? Bool == true)
    }

    @Test func csvWriter() {
        let csv = csvReport(sampleRows())
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4)  // header, two rows, final newline
        #expect(lines[0].hasPrefix("family,model,layer,shape,n,h,w,cin,cout,kh,kw,stride,groups,variant,threads,median_ms"))
        // The layer holds a comma and quotes: quoted, quotes doubled.
        #expect(lines[1].hasPrefix("dwconv,mobilenet_v2,\"features.15.conv.1, \"\"x\"\"\",dw3x3/s1 C=960 7x7,1,7,7,960,960,3,3,1,960,avx512,2,0.01,"))
        #expect(lines[2].contains(",reference,2,"))
        #expect(lines[1].split(separator: ",").count > 20)
    }

    @Test func svgChart() {
        var peak = MachinePeak()
        peak.fmaGflops = ["avx512": [1: 117, 2: 233]]
        let svg = BenchmarkHarness.svgChart(sampleRows(), peak: peak, title: "test <chart>")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("test &lt;chart&gt;"))
        #expect(svg.contains("FMA peak 233"))
        #expect(svg.hasSuffix("</svg>\n"))
    }
}
