import MobileKernels
import Testing

/// Records an issue unless `body` throws a `MobileKernelsError` of `kind` whose message contains
/// `text` (shared by the suites that check their errors' wording).
@discardableResult
func expectError(_ kind: MobileKernelsError.Kind, _ text: String, sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) -> MobileKernelsError? {
    expectError(kind, mentioning: [text], sourceLocation: sourceLocation, body)
}

/// The error `body` throws, recorded as an issue unless it is a `MobileKernelsError` of `kind`
/// whose message contains every string in `mentions`.
@discardableResult
func expectError(_ kind: MobileKernelsError.Kind, mentioning mentions: [String] = [],
                 sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> MobileKernelsError? {
    do {
        try body()
        Issue.record("no error thrown (expected \(kind.rawValue) mentioning \(mentions))", sourceLocation: sourceLocation)
        return nil
    } catch let error as MobileKernelsError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for m in mentions {
            #expect(error.message.contains(m), "message \"\(error.message)\" does not mention \"\(m)\"", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
