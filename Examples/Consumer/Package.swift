// swift-tools-version:6.0
// A package that depends on MobileKernels by path, as a user's package would by version.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(name: "MobileKernels", path: "../..")],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [.product(name: "MobileKernels", package: "MobileKernels")]
        ),
    ]
)
