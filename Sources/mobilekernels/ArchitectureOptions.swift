import ArgumentParser
import MobileKernels

/// The options that pick a model's variant, shared by `train`, `eval`, `infer` and `gradients`:
/// the stem stride and stem pool not given come from the checkpoint's metadata (which `train`
/// writes), else the published form; the width multiplier (not recorded) defaults to 1.
struct ArchitectureOptions: ParsableArguments {
    @Option(help: "Width multiplier (MobileNets).")
    var width: Float = 1.0

    @Option(help: "The first convolution's stride: 2 as published, 1 for the small-image variant (MobileNets, ShuffleNetV1; 4x the work). Default: the checkpoint's, else 2.")
    var stemStride: Int?

    @Flag(inversion: .prefixedNo, help: "ShuffleNetV1: keep the max pool after the first convolution (as published) or drop it (--no-stem-pool; with --stem-stride 1 the CIFAR form, 16x the work). Default: the checkpoint's, else kept.")
    var stemPool: Bool?

    /// `kind` with these options, falling back on `checkpoint`'s metadata.
    func make(_ kind: ModelKind, numClasses: Int, checkpoint: SafeTensorsFile?) throws -> Architecture {
        // The metadata is read only for what the options leave open: flags override a bad record.
        let recorded = stemStride != nil && stemPool != nil ? nil : try checkpoint.map { try Architecture.recordedVariant($0.metadata) }
        return try Architecture.make(kind, widthMultiplier: width, numClasses: numClasses,
                                     stemStride: stemStride ?? recorded?.stemStride ?? 2,
                                     stemPool: stemPool ?? recorded?.stemPool ?? true)
    }
}
