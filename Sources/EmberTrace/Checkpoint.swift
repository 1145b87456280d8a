// Log checkpoints: trace-level log lines at the milestones of a run (model resolved, weights ready,
// prefill done, every 16th token...). With `--log-level trace` each goes to stderr at once, so the last
// line says where a hung run stopped; when tracing is on, each is also an instant in the trace.

import Logging

public struct Checkpoints: Sendable {
    public let logger: Logger

    /// Checkpoints of one subsystem, logged under `label` (e.g. "ember.engine").
    public init(label: String) {
        logger = Logger(label: label)
    }

    public func callAsFunction(_ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Logger.Metadata? = nil) {
        logger.trace("\(message())", metadata: metadata())
        Trace.instant(message())
    }
}
