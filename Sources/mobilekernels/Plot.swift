import ArgumentParser
import Foundation
import MobileKernels

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plot test accuracy against training time from training logs (train --log, torch_train.py --log) as SVG, and print their table.")

    @Argument(help: "The logs (JSON).")
    var logs: [String]

    @Option(help: "Write the SVG here.")
    var output: String

    @Option(help: "The plot's title.")
    var title: String = "Test accuracy against training time"

    func run() throws {
        guard !logs.isEmpty else { throw ValidationError("plot needs at least one log") }
        let runs = try logs.map { try TrainingLog.read($0) }
        try TrainingLog.svg(runs, title: title).write(toFile: output, atomically: true, encoding: .utf8)
        print("| model | framework | threads | epochs | test accuracy | best | images/s | training time |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in runs {
            let last = r.epochs.last!, images = r.epochs.reduce(0.0) { $0 + $1.images_per_s * $1.seconds }
            print(String(format: "| %@ | %@ | %d | %d | %.2f%% | %.2f%% | %.0f | %@ |", r.modelVariant, r.framework, r.threads, r.epochs.count,
                         100 * last.test_accuracy, 100 * r.epochs.map(\.test_accuracy).max()!, images / last.elapsed_s,
                         formatDuration(last.elapsed_s)))
        }
        print("wrote \(output)")
    }
}
