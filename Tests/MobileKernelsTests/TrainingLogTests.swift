import Foundation
import MobileKernels
import Testing

// The training logs `train --log` and Benchmarks/training/torch_train.py write, and the plot of
// test accuracy against training time that `mobilekernels plot` draws from them.

private func run(_ framework: String, model: String, minutes: [Double], accuracies: [Double], stem: Int? = nil,
                 pool: Bool? = nil) -> TrainingLog {
    var elapsed = 0.0
    let epochs = zip(minutes, accuracies).enumerated().map { i, e -> TrainingLog.Epoch in
        let seconds = 60 * e.0 - elapsed
        elapsed = 60 * e.0
        return .init(epoch: i + 1, train_loss: 1 / Double(i + 1), train_accuracy: e.1 - 0.01, test_accuracy: e.1,
                     images_per_s: 59_904 / seconds, seconds: seconds, elapsed_s: elapsed)
    }
    return TrainingLog(framework: framework, model: model, data: "fashion-mnist", size: 32, batch: 128, threads: 2, lr: 0.05,
                       layout: "nhwc", stem_stride: stem, stem_pool: pool, epochs: epochs)
}

@Suite("Training logs and their plot")
struct TrainingLogTests {
    @Test("a log round-trips through its JSON; PyTorch's (extra keys, no stem_stride) reads")
    func roundTrip() throws {
        let dir = NSTemporaryDirectory() + "mk-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ours = run("mobilekernels", model: "shufflenet_v1_g3", minutes: [1, 2, 3], accuracies: [0.8, 0.85, 0.9], stem: 1, pool: false)
        try ours.write(to: dir + "/ours.json")
        #expect(try TrainingLog.read(dir + "/ours.json") == ours)
        // A diverged run's NaN / infinite loss round-trips (as strings; PyTorch's script writes the same).
        var diverged = ours
        diverged.epochs[1].train_loss = .nan
        diverged.epochs[2].train_loss = .infinity
        try diverged.write(to: dir + "/diverged.json")
        let back = try TrainingLog.read(dir + "/diverged.json")
        #expect(back.epochs[1].train_loss.isNaN && back.epochs[2].train_loss == .infinity && back.epochs[0] == ours.epochs[0])
        let torch = """
            {"framework": "pytorch 2.13.0+cpu", "model": "mobilenet_v1", "data": "fashion-mnist", "size": 32, "stem_stride": 2,
             "batch": 128, "threads": 2, "lr": 0.05, "layout": "channels_last", "epochs": [{"epoch": 1, "train_loss": 0.5,
             "train_accuracy": 0.8, "test_accuracy": 0.82, "images_per_s": 300.0, "seconds": 199.7, "elapsed_s": 199.7}]}
            """
        try torch.write(toFile: dir + "/torch.json", atomically: true, encoding: .utf8)
        let read = try TrainingLog.read(dir + "/torch.json")
        #expect(read.framework == "pytorch 2.13.0+cpu" && read.epochs.count == 1 && read.epochs[0].test_accuracy == 0.82)
        #expect(read.zero_init_residual == nil)  // a log from before the key
        // zero_init_residual round-trips, and the label names it where it is not the model's default.
        var zeroed = ours
        zeroed.zero_init_residual = true
        try zeroed.write(to: dir + "/zeroed.json")
        #expect(try TrainingLog.read(dir + "/zeroed.json") == zeroed)
        #expect(zeroed.modelVariant == "shufflenet_v1_g3 s1 no pool")
        zeroed.zero_init_residual = false
        #expect(zeroed.modelVariant == "shufflenet_v1_g3 s1 no pool no zero-init")
        var v2 = run("mobilekernels", model: "mobilenet_v2", minutes: [1], accuracies: [0.5])
        v2.zero_init_residual = false
        #expect(v2.modelVariant == "mobilenet_v2")
        v2.zero_init_residual = true
        #expect(v2.modelVariant == "mobilenet_v2 zero-init")
    }

    @Test("malformed logs are clear errors")
    func malformed() throws {
        let dir = NSTemporaryDirectory() + "mk-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var empty = run("mobilekernels", model: "vgg16", minutes: [1], accuracies: [0.5])
        empty.epochs = []
        var percent = run("mobilekernels", model: "vgg16", minutes: [1], accuracies: [0.5])
        percent.epochs[0].test_accuracy = 91.5  // a percentage, not a fraction
        var zeroTime = run("mobilekernels", model: "vgg16", minutes: [1], accuracies: [0.5])
        zeroTime.epochs[0].elapsed_s = 0
        for (name, log) in [("empty", empty), ("percent", percent), ("zero", zeroTime)] {
            try log.write(to: "\(dir)/\(name).json")
            #expect(throws: MobileKernelsError.self, "\(name)") { _ = try TrainingLog.read("\(dir)/\(name).json") }
        }
        try "{\"framework\": 3}".write(toFile: dir + "/other.json", atomically: true, encoding: .utf8)
        #expect(throws: MobileKernelsError.self) { _ = try TrainingLog.read(dir + "/other.json") }
        #expect(throws: MobileKernelsError.self) { _ = try TrainingLog.read(dir + "/missing.json") }
    }

    @Test("the SVG has a line per run through every epoch, ours solid and PyTorch's dashed, on a log time axis")
    func svg() throws {
        let runs = [run("mobilekernels", model: "mobilenet_v1", minutes: [1, 2, 3, 4], accuracies: [0.80, 0.85, 0.88, 0.9]),
                    run("pytorch 2.13.0", model: "mobilenet_v1", minutes: [4, 8, 12, 16], accuracies: [0.79, 0.85, 0.88, 0.905]),
                    run("mobilekernels", model: "shufflenet_v1_g3", minutes: [0.5, 1], accuracies: [0.7, 0.91], stem: 1),
                    run("mobilekernels", model: "shufflenet_v1_g3", minutes: [1, 2], accuracies: [0.75, 0.92], stem: 1, pool: false)]
        let svg = TrainingLog.svg(runs, title: "A & B")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains(">A &amp; B</text>"))
        let lines = Array(svg.components(separatedBy: "<polyline").dropFirst())
        #expect(lines.count == 4)
        let points = lines.map { $0.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0].split(separator: " ").count }
        #expect(points == [4, 4, 2, 2])
        #expect(lines.map { $0.contains("stroke-dasharray") } == [false, true, false, false])
        // One colour per model: both MobileNetV1 runs share one, ShuffleNet has another.
        func colour(_ line: String) -> String { line.components(separatedBy: "stroke=\"")[1].components(separatedBy: "\"")[0] }
        #expect(colour(lines[0]) == colour(lines[1]) && colour(lines[0]) != colour(lines[2]))
        // ... and each variant of a model its own: ShuffleNet with and without its stem pool differ.
        #expect(colour(lines[2]) != colour(lines[3]) && colour(lines[3]) != colour(lines[0]))
        #expect(svg.contains("mobilenet_v1 (ours, 2T)") && svg.contains("mobilenet_v1 (pytorch, 2T)") && svg.contains("shufflenet_v1_g3 s1 (ours, 2T)")
                && svg.contains("shufflenet_v1_g3 s1 no pool (ours, 2T)"))
        // The legend's column fits its longest entry (38 characters at about 7 px, after 46 px
        // of line and gap): the picture is wider than the 760 px that cut entries off.
        let width = Double(svg.components(separatedBy: "width=\"")[1].components(separatedBy: "\"")[0]) ?? 0
        #expect(width >= 550 + 46 + 38 * 7)
        // Log scale: 1, 2 and 5 minute ticks, equal spacing per decade (x of 1 -> 10 = 10 -> 100).
        #expect(svg.contains(">1</text>") && svg.contains(">2</text>") && svg.contains(">5</text>") && svg.contains(">10</text>"))
        // Every point inside the plot area (x in [60, 550], y in [40, 410]).
        let coordinates = lines.flatMap { $0.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0].split(separator: " ") }
        let inside = coordinates.allSatisfy { pair in
            let xy = pair.split(separator: ",").compactMap { Double(String($0)) }
            return xy.count == 2 && (60...550).contains(xy[0]) && (40...410).contains(xy[1])
        }
        #expect(inside)
    }
}
