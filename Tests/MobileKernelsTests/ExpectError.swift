import MobileKernels
import Testing

/// Records an issue unless `body` throws a `MobileKernelsError` of `kind` whose message contains
/// `text` (shared by the suites that check their errors' wording).
func expectError(_ kind: MobileKernelsError.Kind, _ text: String, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("accepted: \(text)")
    } catch let error as MobileKernelsError {
        #expect(error.kind == kind && error.message.contains(text), "\(error)")
    } catch { Issue.record("\(error)") }
}
