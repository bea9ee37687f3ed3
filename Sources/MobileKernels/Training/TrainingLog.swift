import Foundation

/// One training run's per-epoch figures, as `train --log` and Benchmarks/training/torch_train.py
/// write them (snake_case keys; `elapsed_s` is the training time so far, evaluation excluded).
public struct TrainingLog: Codable, Sendable, Equatable {
    public struct Epoch: Codable, Sendable, Equatable {
        public var epoch: Int
        public var train_loss: Double, train_accuracy: Double, test_accuracy: Double
        public var images_per_s: Double, seconds: Double, elapsed_s: Double

        public init(epoch: Int, train_loss: Double, train_accuracy: Double, test_accuracy: Double, images_per_s: Double,
                    seconds: Double, elapsed_s: Double) {
            (self.epoch, self.train_loss, self.train_accuracy, self.test_accuracy) = (epoch, train_loss, train_accuracy, test_accuracy)
            (self.images_per_s, self.seconds, self.elapsed_s) = (images_per_s, seconds, elapsed_s)
        }
    }

    /// "mobilekernels", or e.g. "pytorch 2.13.0+cpu".
    public var framework: String
    public var model: String
    public var data: String
    public var size: Int, batch: Int, threads: Int
    public var lr: Double
    public var layout: String
    /// The first convolution's stride (nil: the published 2).
    public var stem_stride: Int?
    /// ShuffleNetV1: whether the max pool after the first convolution was kept (nil: kept, as published).
    public var stem_pool: Bool?
    /// Whether the initial weights zeroed each residual branch's last BatchNorm scale
    /// (`WeightSource.initialization(zeroResidualBranches:)`; nil: not recorded, or not initialized).
    public var zero_init_residual: Bool?
    public var epochs: [Epoch]

    public init(framework: String, model: String, data: String, size: Int, batch: Int, threads: Int, lr: Double, layout: String,
                stem_stride: Int? = nil, stem_pool: Bool? = nil, zero_init_residual: Bool? = nil, epochs: [Epoch]) {
        (self.framework, self.model, self.data, self.size, self.batch, self.threads) = (framework, model, data, size, batch, threads)
        (self.lr, self.layout, self.stem_stride, self.stem_pool, self.epochs) = (lr, layout, stem_stride, stem_pool, epochs)
        self.zero_init_residual = zero_init_residual
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A diverged run's loss is NaN or infinite: written as strings, which `read` takes.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// Reads a log; `.invalidFile` for a missing file, JSON of another shape, no epochs, or an
    /// epoch without a positive time or with an accuracy outside [0, 1].
    public static func read(_ path: String) throws -> TrainingLog {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MobileKernelsError(.invalidFile, "\(path): cannot read")
        }
        let log: TrainingLog
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { log = try decoder.decode(TrainingLog.self, from: data) } catch {
            throw MobileKernelsError(.invalidFile, "\(path) is not a training log (train --log or torch_train.py --log): \(error)")
        }
        guard !log.epochs.isEmpty, log.epochs.allSatisfy({ $0.elapsed_s.isFinite && $0.elapsed_s > 0 && (0...1).contains($0.test_accuracy) }) else {
            throw MobileKernelsError(.invalidFile, "\(path): a training log needs at least one epoch, each with a positive time and an accuracy in [0, 1]")
        }
        return log
    }

    var isOurs: Bool { framework == "mobilekernels" }

    /// The model and its variant as the plot's legend and table name it: "shufflenet_v1_g3 s1 no pool";
    /// " no zero-init" or " zero-init" when the run's `zero_init_residual` is not its model's default.
    public var modelVariant: String {
        var zeroInit = ""
        if let zero = zero_init_residual, let kind = ModelKind(specName: model), zero != kind.zeroesResidualBranches {
            zeroInit = zero ? " zero-init" : " no zero-init"
        }
        return "\(model)\(stem_stride == 1 ? " s1" : "")\(stem_pool == false ? " no pool" : "")\(zeroInit)"
    }
}

extension TrainingLog {
    /// Test accuracy (%) against training minutes on a log scale, as SVG: one colour per model,
    /// ours solid with filled points, the others dashed with open ones; a legend of model,
    /// framework and threads.
    public static func svg(_ runs: [TrainingLog], title: String = "Test accuracy against training time") -> String {
        precondition(!runs.isEmpty && runs.allSatisfy { !$0.epochs.isEmpty }, "TrainingLog.svg needs runs with epochs")
        func legend(_ r: TrainingLog) -> String {
            "\(r.modelVariant) (\(r.isOurs ? "ours" : r.framework.split(separator: " ").first.map(String.init) ?? r.framework), \(r.threads)T)"
        }
        // The legend's column is as wide as its longest entry (about 7 px a character at 12 px).
        let legendWidth = Double(runs.map { legend($0).count }.max()!) * 7 + 60
        let (left, right, top, bottom) = (60.0, max(210.0, legendWidth), 40.0, 50.0)
        let (width, height) = (550 + right, 460.0)
        let minutes = runs.flatMap { $0.epochs.map { $0.elapsed_s / 60 } }
        let accuracies = runs.flatMap { $0.epochs.map { 100 * $0.test_accuracy } }
        let x0 = floor(log10(minutes.min()!)), x1 = max(ceil(log10(minutes.max()!)), x0 + 1)
        let y0 = min(floor(accuracies.min()! / 5) * 5, 95), y1 = min(ceil(accuracies.max()! / 2) * 2 + 1, 100)
        func px(_ m: Double) -> Double { left + (log10(m) - x0) / (x1 - x0) * (width - left - right) }
        func py(_ a: Double) -> Double { top + (y1 - a) / (y1 - y0) * (height - top - bottom) }
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22"]
        // One colour per model variant: ours and PyTorch's run of it share one (solid / dashed).
        var models: [String] = []
        for r in runs where !models.contains(r.modelVariant) { models.append(r.modelVariant) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(left))" y="22" font-size="15">\(escape(title))</text>

            """
        // Grid and axes.
        let yStep = (y1 - y0) > 20 ? 5.0 : (y1 - y0) > 8 ? 2.0 : 1.0
        var a = ceil(y0 / yStep) * yStep
        while a <= y1 + 1e-9 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(a)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(a)))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(a) + 4))\" text-anchor=\"end\">\(Int(a))%</text>\n"
            a += yStep
        }
        for decade in Int(x0)...Int(x1) {
            for m in [1.0, 2.0, 5.0] {
                let v = m * pow(10, Double(decade))
                guard log10(v) >= x0 - 1e-9, log10(v) <= x1 + 1e-9 else { continue }
                let label = v >= 1 ? String(format: "%.0f", v) : String(format: "%g", v)
                out += "<line x1=\"\(f(px(v)))\" y1=\"\(f(top))\" x2=\"\(f(px(v)))\" y2=\"\(f(height - bottom))\" stroke=\"#ddd\"/>"
                out += "<text x=\"\(f(px(v)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(label)</text>\n"
            }
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(height - top - bottom))\" fill=\"none\" stroke=\"#444\"/>\n"
        out += "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">training time (minutes, log scale; evaluation excluded)</text>\n"
        out += "<text transform=\"translate(16 \(f((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">test accuracy</text>\n"
        // One line per run.
        for (i, r) in runs.enumerated() {
            let colour = palette[models.firstIndex(of: r.modelVariant)! % palette.count]
            let dash = r.isOurs ? "" : " stroke-dasharray=\"6 4\""
            let points = r.epochs.map { "\(f(px($0.elapsed_s / 60))),\(f(py(100 * $0.test_accuracy)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(points)\"/>\n"
            for e in r.epochs {
                out += "<circle cx=\"\(f(px(e.elapsed_s / 60)))\" cy=\"\(f(py(100 * e.test_accuracy)))\" r=\"2.5\" fill=\"\(r.isOurs ? colour : "white")\" stroke=\"\(colour)\"/>"
            }
            out += "\n"
            let ly = top + 8 + Double(i) * 18
            out += "<line x1=\"\(f(width - right + 12))\" y1=\"\(f(ly))\" x2=\"\(f(width - right + 40))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>"
            out += "<text x=\"\(f(width - right + 46))\" y=\"\(f(ly + 4))\">\(escape(legend(r)))</text>\n"
        }
        return out + "</svg>\n"
    }
}
