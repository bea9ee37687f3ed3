import Foundation
@testable import MobileKernels
import Testing

/// An inference plan's convolutions run one at a time, so they share one workspace (Winograd's
/// transformed tiles) instead of holding one each.
@Suite("One workspace per inference plan")
struct PlanWorkspaceTests {
    @Test("a plan's workspace is its largest convolution's, not the sum; it grows for two threads; the logits do not change")
    func shared() throws {
        let network = try Network(.alexnet, weights: .random(seed: 12), numClasses: 10)
        let size = 63
        let plan = try network.plan(batch: 2, height: size, width: size)
        // Each convolution planned alone, on a workspace of its own, on buffers of its shapes.
        let shapes = try network.architecture.featureSizes(height: size, width: size).map {
            try TensorShape(n: 2, h: $0.h, w: $0.w, c: $0.c)
        }
        func view(_ shape: TensorShape) throws -> TensorView { TensorView(storage: try TensorStorage(count: shape.count, shape: shape), shape: shape) }
        var own: [Int] = []
        for node in network.architecture.nodes {
            guard case let .conv(conv) = network.compiled[node.id] else { continue }
            let workspace = Conv2D.Workspace()
            _ = try Conv2D.Step(conv, input: try view(shapes[node.inputs[0]]), residual: nil, output: try view(shapes[node.id]),
                                workspace: workspace)
            own.append(workspace.bytes)
        }
        #expect(own.filter { $0 > 0 }.count == 3, "AlexNet's three 3x3 layers run Winograd: \(own)")
        #expect(plan.workspaceBytes == own.max())
        #expect(plan.workspaceBytes < own.reduce(0, +))

        let input = try Tensor(shape: plan.inputShape, nhwc: (0..<plan.inputShape.count).map { Float($0 % 97) / 97 - 0.5 })
        let one = try plan.predict(input, threadPool: .serial).toArray()
        let serialBytes = plan.workspaceBytes
        let pool = try ThreadPool(threads: 2)
        let two = try plan.predict(input, threadPool: pool).toArray()
        #expect(plan.workspaceBytes > serialBytes, "two threads' tile buffers")
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
        #expect(try plan.predict(input, threadPool: .serial).toArray().map(\.bitPattern) == one.map(\.bitPattern))
    }
}
