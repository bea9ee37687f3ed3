import ArgumentParser
import Foundation
import MobileKernels
import NetworkOracle

@main
struct MobileKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mobilekernels",
        abstract: "Run MobileNet V1/V2/V3, ShuffleNet V1, VGG16 and AlexNet on MobileKernels.",
        discussion: """
            Weights are a PyTorch state_dict saved with safetensors.torch.save_file (torchvision's
            key names; see the specs). Images are .npy float32 arrays, [N, 3, H, W] by default.
            """,
        subcommands: [Infer.self, Grad.self, Train.self, Eval.self, Quantize.self, Plot.self, Inspect.self, Models.self])
}

/// The models by their spec names, with the ShuffleNetV1 group variants.
let modelNames: [String] = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"]
    + [1, 2, 3, 4, 8].map { "shufflenet_v1_g\($0)" } + ["vgg16", "alexnet"]

func modelKind(_ name: String) throws -> ModelKind {
    if name.hasPrefix("shufflenet_v1_g"), let g = Int(name.dropFirst("shufflenet_v1_g".count)), [1, 2, 3, 4, 8].contains(g) {
        return .shuffleNetV1(groups: g)
    }
    guard let kind = ModelKind(specName: name) else {
        throw ValidationError("unknown model \(name); one of: \(modelNames.joined(separator: ", "))")
    }
    return kind
}

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Classify the images of an .npy file.")

    @Option(help: "The model: \(modelNames.joined(separator: ", ")).")
    var model: String

    @Option(help: "The weights (.safetensors). Without it, deterministic random weights (for timing only).")
    var weights: String?

    @Option(help: "The images: float32 .npy, [N, 3, H, W] (or [N, H, W, 3] with --layout nhwc).")
    var input: String

    @Option(help: "Write the logits [N, classes] as float32 .npy here.")
    var output: String?

    @Option(help: "nchw (PyTorch's order) or nhwc.")
    var layout: String = "nchw"

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "How many classes to print per image.")
    var top: Int = 5

    @Option(help: "Number of classes of the classifier.")
    var classes: Int = 1000

    @OptionGroup var architectureOptions: ArchitectureOptions

    @Option(help: "Kernel variant: auto, scalar, avx2, avx512, neon, blis.")
    var variant: String = "auto"

    @Option(help: "Dense convolutions: auto (Winograd for the 3x3 stride-1 layers of 32+ channels) or direct.")
    var convAlgorithm: String = "auto"

    @Flag(help: "Print the time of every layer (median of the repetitions).")
    var profile = false

    @Flag(help: "Run in int8: --weights is a model from `mobilekernels quantize` (without --weights, random weights calibrated on the input images, for timing only).")
    var int8 = false

    @Option(help: "Timed repetitions after the first run (latency is their median).")
    var `repeat`: Int = 5

    func run() throws {
        let kind = try modelKind(model)
        guard let variant = Variant(rawValue: self.variant) else { throw ValidationError("unknown variant \(self.variant)") }
        guard let algorithm = ConvAlgorithm(rawValue: convAlgorithm), algorithm != .winograd else {
            throw ValidationError("unknown --conv-algorithm \(convAlgorithm) (auto or direct)")
        }
        guard layout == "nchw" || layout == "nhwc" else { throw ValidationError("--layout is nchw or nhwc") }
        let (shape, values) = try Npy.read(path: input)
        guard shape.count == 4 else { throw ValidationError("\(input): expected a 4-D array, got shape \(shape)") }
        let (n, c, h, w) = layout == "nchw" ? (shape[0], shape[1], shape[2], shape[3]) : (shape[0], shape[3], shape[1], shape[2])
        guard c == 3 else { throw ValidationError("\(input): expected 3 channels, got shape \(shape) (\(layout))") }
        let file = try weights.map { try SafeTensorsFile(path: $0) }
        if let file, QuantizedModel.isQuantized(file) != int8 {
            throw ValidationError(int8 ? "\(weights!): a float checkpoint; --int8 takes a model from `mobilekernels quantize`"
                                       : "\(weights!): an int8 model; run it with --int8")
        }
        let source: WeightSource = file.map { .safetensors($0) } ?? .random()
        let architecture = try architectureOptions.make(kind, numClasses: classes, checkpoint: file)
        let tensorShape = try TensorShape(n: n, h: h, w: w, c: 3)
        let image = layout == "nchw" ? try Tensor(shape: tensorShape, nchw: values) : try Tensor(shape: tensorShape, nhwc: values)
        let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
        let predict: (inout Tensor) throws -> Void
        let profileLayers: () throws -> [(node: String, milliseconds: Double)]
        let outputShape: TensorShape
        let description: String
        if int8 {
            let model = try file.map { try QuantizedModel(file: $0, architecture: architecture) }
                ?? QuantizedModel.calibrate(architecture: architecture, weights: source, images: image, threadPool: pool)
            let network = try QuantizedNetwork(model, variant: variant)
            let plan = try network.plan(batch: n, height: h, width: w)
            predict = { try plan.predict(image, into: &$0, threadPool: pool) }
            profileLayers = { try plan.profile(image, threadPool: pool, repetitions: max(1, self.`repeat`)) }
            outputShape = plan.outputShape
            let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
            description = "int8 \(variant.rawValue): weights \(mib(network.weightBytes)), activations \(mib(plan.peakActivationBytes))"
        } else {
            let network = try Network(architecture: architecture, weights: source, variant: variant, convAlgorithm: algorithm)
            let plan = try network.plan(batch: n, height: h, width: w)
            predict = { try plan.predict(image, into: &$0, threadPool: pool) }
            profileLayers = { try plan.profile(image, threadPool: pool, repetitions: max(1, self.`repeat`)) }
            outputShape = plan.outputShape
            description = "\(network.variant.rawValue)\(algorithm == .direct ? " direct" : ""): " + memory(network, plan)
        }
        var logits = try Tensor(shape: outputShape)
        try predict(&logits)
        var times: [Double] = []
        for _ in 0..<max(0, self.`repeat`) {
            let start = DispatchTime.now().uptimeNanoseconds
            try predict(&logits)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        for (i, best) in topK(logits, k: top).enumerated() {
            let probabilities = softmax(logits)[i]
            print("image \(i): " + best.map { "\($0.index) (\(String(format: "%.4f", probabilities[$0.index])))" }.joined(separator: ", "))
        }
        if !times.isEmpty {
            let median = times.sorted()[times.count / 2]
            print("\(model) \(h)x\(w), batch \(n), \(pool.threadCount) threads, "
                + String(format: "%.3f ms median of %d runs (%.1f images/s); ", median, times.count, Double(n) / median * 1e3)
                + description)
        }
        if profile {
            let layers = try profileLayers()
            let total = layers.reduce(0) { $0 + $1.milliseconds }
            print("per layer (ms, median; sum \(String(format: "%.3f", total))):")
            for (name, ms) in layers { print(String(format: "  %8.4f  ", ms) + name) }
        }
        if let output {
            try Npy.write(shape: [n, outputShape.c], values: logits.toArray(), to: output)
        }
        if weights == nil { print("note: random weights (pass --weights FILE.safetensors for real predictions)") }
    }
}

struct Grad: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The loss and every parameter's gradient for a batch of labelled images, as PyTorch's autograd computes them.",
        discussion: """
            The network runs as in PyTorch's model.train() with every Dropout off: BatchNorm normalizes \
            with the batch's statistics; the loss is the mean cross-entropy. The output holds `loss` \
            [1] and each parameter's gradient under its state_dict name and shape (running \
            statistics have none). --engine kernels (the default) runs the training plan on our \
            kernels; --engine reference the naive float32 Swift oracle they are checked against.
            """)

    @Option(help: "The model: \(modelNames.joined(separator: ", ")).")
    var model: String

    @Option(help: "The weights (.safetensors, the model's state_dict).")
    var weights: String

    @Option(help: "The images: float32 .npy, [N, 3, H, W].")
    var input: String

    @Option(help: "The class of each image: int64 or int32 .npy, [N].")
    var labels: String

    @Option(help: "Number of classes of the classifier.")
    var classes: Int = 1000

    @OptionGroup var architectureOptions: ArchitectureOptions

    @Option(help: "Write the loss and the gradients here (.safetensors).")
    var output: String

    @Option(help: "Threads (the reference engine uses one; the result does not depend on it).")
    var threads: Int?

    @Option(help: "kernels (the training plan on our kernels) or reference (the naive Swift oracle).")
    var engine: String = "kernels"

    func run() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        let architecture = try architectureOptions.make(try modelKind(model), numClasses: classes, checkpoint: SafeTensorsFile(path: weights))
        let (shape, images) = try Npy.read(path: input)
        guard shape.count == 4, shape[1] == 3 else {
            throw ValidationError("\(input): expected float32 [N, 3, H, W], got shape \(shape)")
        }
        let (labelShape, labelValues) = try Npy.readLabels(path: labels)
        guard labelShape.count == 1 else { throw ValidationError("\(labels): expected a 1-D array [N], got shape \(labelShape)") }
        guard engine == "kernels" || engine == "reference" else {
            throw ValidationError("--engine must be kernels or reference, not \(engine)")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let (n, h, w) = (shape[0], shape[2], shape[3])
        let loss: Float, tensors: [(name: String, shape: [Int], values: [Float])]
        if engine == "reference" {
            let step = try ReferenceTrainingStep.run(architecture, weights: try .safetensors(path: weights), imagesNCHW: images,
                                                     n: n, h: h, w: w, labels: labelValues)
            (loss, tensors) = (step.loss, step.tensors(architecture))
        } else {
            let plan = try TrainingPlan(architecture, weights: try .safetensors(path: weights), batch: n, height: h, width: w)
            let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
            let step = try plan.step(images: try Tensor(shape: TensorShape(n: n, h: h, w: w, c: 3), nchw: images), labels: labelValues,
                                     threadPool: pool)
            loss = step.loss
            tensors = [("loss", [1], [step.loss])] + architecture.parameters().compactMap { name, shape in
                step.gradients[name].map { (name, shape, $0) }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        try SafeTensorsFile.write(tensors, metadata: ["model": model, "engine": engine], to: output)
        print(String(format: "%@ %dx%d, batch %d: loss %.6f; %d gradients written to %@ (%@ engine, %.2f s)", model, h, w, n,
                     loss, tensors.count - 1, output, engine, seconds))
    }
}

/// "weights W MiB, activations A MiB, workspace S MiB": what a network and its plan keep resident.
func memory(_ network: Network, _ plan: InferencePlan) -> String {
    let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
    return "weights \(mib(network.weightBytes)), activations \(mib(plan.peakActivationBytes)), workspace \(mib(plan.workspaceBytes))"
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a safetensors file's tensors and check them against a model.")

    @Argument(help: "The .safetensors file.")
    var file: String

    @Option(help: "Check against this model's state_dict spec.")
    var model: String?

    func run() throws {
        let st = try SafeTensorsFile(path: file)
        for t in st.tensors { print("\(t.name)  \(t.dtype)  \(t.shape)") }
        print("\(st.tensors.count) tensors")
        guard let model else { return }
        let architecture = try Architecture.make(try modelKind(model))
        var problems: [String] = []
        let names = Set(st.tensors.map(\.name))
        for (name, shape) in architecture.parameters() {
            guard let info = st.info(name) else { problems.append("missing \(name) \(shape)"); continue }
            if info.shape != shape { problems.append("\(name): shape \(info.shape), expected \(shape)") }
            if !["F32", "F16", "BF16"].contains(info.dtype) { problems.append("\(name): dtype \(info.dtype) (F32, F16 or BF16 needed)") }
        }
        let expected = Set(architecture.parameters().map(\.name))
        for name in names.sorted() where !expected.contains(name) && !name.hasSuffix("num_batches_tracked") {
            problems.append("unexpected \(name)")
        }
        if problems.isEmpty {
            print("matches \(model): \(expected.count) tensors, \(architecture.parameterCount) parameters")
            let network = try Network(architecture: architecture, weights: .safetensors(st))
            print("resident at 224x224, batch 1: " + memory(network, try network.plan()))
        } else {
            for p in problems { print(p) }
            throw ExitCode(1)
        }
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The models, their parameters, MACs, weight and activation memory at 224x224.")

    func run() throws {
        print("model                  params      MMACs   weights MiB   activations MiB (planned / unplanned)   workspace MiB")
        for name in modelNames {
            let kind = try modelKind(name)
            let network = try Network(kind, weights: .random())
            let plan = try network.plan()
            let macs = try network.architecture.macs(height: 224, width: 224)
            let padded = name.padding(toLength: 20, withPad: " ", startingAt: 0)
            let activations = String(format: "%.1f / %.1f", Double(plan.peakActivationBytes) / 1_048_576,
                                     Double(plan.unplannedActivationBytes) / 1_048_576)
            print(padded + String(format: " %9d %10.1f   %11.1f   %@ %15.1f", network.architecture.parameterCount,
                                  Double(macs) / 1e6, Double(network.weightBytes) / 1_048_576,
                                  String(repeating: " ", count: max(0, 21 - activations.count)) + activations, Double(plan.workspaceBytes) / 1_048_576))
        }
    }
}
