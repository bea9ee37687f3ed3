// swift-tools-version:6.0
// MobileKernels: fast CPU building blocks of efficient convolutional networks.
//
// The map of the package. No target passes unsafe compiler flags, so other packages can depend on this one
// by version: ISA-specific C functions carry `__attribute__((target(...)))` and are picked at run
// time from the CPU feature table (see CKernels/common/cpu.c).
import PackageDescription

let package = Package(
    name: "MobileKernels",
    products: [
        // MARK: - Public API
        .library(name: "MobileKernels", targets: ["MobileKernels"]),
        .library(name: "ReferenceKernels", targets: ["ReferenceKernels"]),
        .library(name: "CKernels", targets: ["CKernels"]),
        .executable(name: "benchmarks", targets: ["benchmarks"]),
        .executable(name: "mobilekernels", targets: ["mobilekernels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Public API

        /// Swift layers and models over the C kernels: Tensor, ThreadPool, Variant, layers, errors.
        .target(
            name: "MobileKernels",
            dependencies: ["CKernels", "CZlib"],
            path: "Sources/MobileKernels"
        ),
        /// Naive, obviously-correct Swift loops: the oracle of every test and the baseline of
        /// every benchmark. Depends on nothing.
        .target(
            name: "ReferenceKernels",
            path: "Sources/ReferenceKernels",
            linkerSettings: [.linkedLibrary("m")]  // sqrtf (batch-norm folding)
        ),
        /// The command-line tool: `mobilekernels infer | grad | inspect | models` (grad runs the
        /// training oracle of NetworkOracle until the backward kernels land).
        .executableTarget(
            name: "mobilekernels",
            dependencies: [
                "MobileKernels",
                "NetworkOracle",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/mobilekernels"
        ),
        /// The benchmark command: `swift run -c release benchmarks` (see BenchmarkHarness).
        .executableTarget(
            name: "benchmarks",
            dependencies: [
                "BenchmarkHarness",
                "MobileKernels",
                "NetworkOracle",
                "ReferenceKernels",
                "CAllocCount",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/Command"
        ),

        // MARK: - Implementation details

        /// The benchmark harness as a library, so its statistics, case tables and writers are
        /// tested: peak measurement, cases derived from the model architectures, timing, reports.
        .target(
            name: "BenchmarkHarness",
            dependencies: ["MobileKernels", "ReferenceKernels", "NetworkOracle", "CKernels", "CPeak"],
            path: "Benchmarks/Harness"
        ),
        /// The oracle of whole networks, shared by the model tests and the harness's baseline:
        /// an `Architecture` run on ReferenceKernels' naive loops as PyTorch's eval-mode forward
        /// does it (`referenceForward`), and the deterministic inputs both use (`pseudoRandom`).
        /// A library (test targets cannot be depended on); ReferenceKernels itself stays free of
        /// MobileKernels.
        .target(
            name: "NetworkOracle",
            dependencies: ["MobileKernels", "ReferenceKernels"],
            path: "Tests/Support/NetworkOracle"
        ),
        /// The harness's FMA and bandwidth loops (mk_peak.h): benchmark-only C, kept out of the
        /// CKernels ABI; ISA code through per-function target attributes, as in CKernels.
        .target(
            name: "CPeak",
            dependencies: ["CKernels"],
            path: "Benchmarks/CPeak"
        ),

        /// `benchmarks allocations`' malloc counter (alloc_count.h): wraps the benchmarks
        /// executable's malloc family to count the calling thread's heap allocations. Linked into
        /// that executable only (a library user's process is never touched).
        .target(
            name: "CAllocCount",
            path: "Benchmarks/CAllocCount"
        ),

        /// The whole C ABI: CPU dispatch, thread pool, microkernels and operators (ckernels.h).
        .target(
            name: "CKernels",
            dependencies: ["CBLIS"],
            path: "CKernels",
            exclude: ["README.md"],
            publicHeadersPath: "include",
            linkerSettings: [.linkedLibrary("blis"), .linkedLibrary("pthread"), .linkedLibrary("m")]
        ),
        /// System library: zlib (Debian's zlib1g-dev), to read the data sets' .gz files.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        /// System library: Debian's libblis-dev (`make deps` installs it). See shim.h for why it
        /// includes <cblas.h> and not <blis.h>.
        .systemLibrary(
            name: "CBLIS",
            path: "Sources/CBLIS",
            providers: [.apt(["libblis-dev"])]
        ),

        // MARK: - Tests

        /// Test-only C: runs the catalogue's microkernels directly (not part of the CKernels ABI).
        .target(
            name: "CKernelsTesting",
            dependencies: ["CKernels"],
            path: "Tests/CKernelsTesting"
        ),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels", "CKernelsTesting", "ReferenceKernels"],
            path: "Tests/CKernelsTests"
        ),
        .testTarget(
            name: "MobileKernelsTests",
            dependencies: ["MobileKernels", "ReferenceKernels", "NetworkOracle"],
            path: "Tests/MobileKernelsTests"
        ),
        .testTarget(
            name: "BenchmarkHarnessTests",
            dependencies: ["BenchmarkHarness", "MobileKernels"],
            path: "Tests/BenchmarkHarnessTests"
        ),
        .testTarget(
            name: "ReferenceKernelsTests",
            dependencies: ["ReferenceKernels"],
            path: "Tests/ReferenceKernelsTests"
        ),
        /// Fuzz targets for the weight-file readers (safetensors, its JSON header, .npy): a plain
        /// crash-reproducing runner in normal builds, a libFuzzer binary when built by
        /// `make fuzz` (Tests/Fuzz/fuzz.mk passes the fuzzer flags on the command line).
        .executableTarget(
            name: "weights-fuzz",
            dependencies: ["MobileKernels"],
            path: "Tests/Fuzz/WeightsFuzz"
        ),
    ]
)
