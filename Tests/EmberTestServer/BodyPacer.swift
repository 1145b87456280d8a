// Holds a response body to a byte rate. Each wait targets the moment the bytes sent so far are due,
// measured from the body's start, so sleep overshoot never accumulates into a slower rate.

struct BodyPacer {
    let bytesPerSecond: Int
    private let start = ContinuousClock.now

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = max(1, bytesPerSecond)
    }

    /// About 20 ms of bytes, so the rate is smooth at the client, within 4-64 KiB so that slow rates
    /// still show progress and fast ones don't wake too often.
    var sliceSize: Int { min(max(bytesPerSecond / 50, 4 << 10), 64 << 10) }

    func waitUntilDue(bytesSent: Int) async throws {
        try await Task.sleep(until: start + .seconds(bytesSent) / bytesPerSecond, clock: .continuous)
    }
}
