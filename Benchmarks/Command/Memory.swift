import ArgumentParser
import BenchmarkHarness
import Foundation
import MobileKernels

/// `benchmarks memory`: a network holds its weights once. Writes a model's random weights as a
/// safetensors file (VGG16 by default: 553 MB), loads it as `mobilekernels infer` does (the
/// file kept open through the inference) and runs one inference, with direct and with auto (Winograd) convolutions, reading this
/// process's resident memory (`/proc/self/status`) before and after. Exits 1 when the resident
/// growth exceeds 1.15x what the network accounts for (the weights it holds and the plan's
/// activations; + 8 MB), when after loading it exceeds 1.05x the weights held + 8 MB (the pages
/// of the tensors packed from the file must be given back), or when with direct convolutions
/// the weights held are more than 1.02x the file (a second copy of a weight).
struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resident memory of loading a model's weights from a safetensors file and one inference; exits 1 if any weight is held twice.")

    @Option(help: "The model (spec name).")
    var model = "vgg16"

    @Option(help: "The image size of the inference.")
    var size = 32

    @Option(help: "Where to write the weights file (removed afterwards).")
    var dir = NSTemporaryDirectory()

    func run() throws {
        guard let kind = ModelKind.specified.first(where: { $0.specName == model }) else {
            throw ValidationError("unknown model \(model)")
        }
        guard ResidentMemory.currentMB() != nil, ResidentMemory.resetPeak() else {
            print("memory: SKIPPED, not measured: /proc/self/status or /proc/self/clear_refs is missing (Linux only)")
            return
        }
        let architecture = try Architecture.make(kind)
        let path = (dir as NSString).appendingPathComponent("mk-memory-\(model)-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let parameters = try WeightSource.random(seed: 7).parameters(of: architecture)
            try SafeTensorsFile.write(architecture.parameters().map { ($0.name, $0.shape, parameters[$0.name]!) }, to: path)
        }
        let fileMB = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1e6
        let input = try Tensor(shape: TensorShape(n: 1, h: size, w: size, c: 3), repeating: 0.25)
        print(String(format: "%@: weights file %.1f MB; resident growth in MB (10^6 bytes), inference at %dx%d", model, fileMB, size, size))
        print("algorithm  held  activations  workspace  accounted   after load  after inference  peak   check")
        var failures = 0
        for algorithm in [ConvAlgorithm.direct, .auto] {
            ResidentMemory.resetPeak()
            let base = ResidentMemory.currentMB()!
            let (held, activations, workspace, loaded, after): (Double, Double, Double, Double, Double) = try {
                let file = try SafeTensorsFile(path: path)
                return try withExtendedLifetime(file) {
                    let network = try Network(architecture: architecture, weights: .safetensors(file), convAlgorithm: algorithm)
                    let loaded = ResidentMemory.currentMB()! - base
                    let plan = try network.plan(batch: 1, height: size, width: size)
                    _ = try plan.predict(input, threadPool: .serial)
                    return (Double(network.weightBytes) / 1e6, Double(plan.peakActivationBytes) / 1e6,
                            Double(plan.workspaceBytes) / 1e6, loaded, ResidentMemory.currentMB()! - base)
                }
            }()
            let peak = ResidentMemory.peakMB()! - base
            let accounted = held + activations + workspace
            var problems: [String] = []
            if peak > 1.15 * accounted + 8 { problems.append("peak above 1.15x accounted + 8 MB") }
            // What is resident after loading is what the network holds: a tensor's pages not
            // given back, or a transient copy not freed, would show.
            if loaded > 1.05 * held + 8 { problems.append("after load above 1.05x held + 8 MB") }
            if algorithm == .direct && held > 1.02 * fileMB { problems.append("weights held above 1.02x the file") }
            failures += problems.count
            print(String(format: "%-9@ %6.1f %12.1f %10.1f %10.1f %12.1f %16.1f %6.1f   ", algorithm.rawValue, held,
                         activations, workspace, accounted, loaded, after, peak) + (problems.isEmpty ? "ok" : "FAILED: " + problems.joined(separator: "; ")))
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
