// The heartbeat of long operations: silent for short ones, a line per interval naming the operation,
// its progress and its time for long ones, nothing for phases that show themselves, nothing after stop.

import EmberTestSupport
import EmberTrace
import Foundation
import Testing

@Suite struct HeartbeatTests {
    @Test func aLongOperationBeatsWithItsProgressUntilStopped() async throws {
        let lines = RecordedLines(), counter = ProgressCounter()
        counter.start(total: 4096)
        counter.advance(to: 1536)
        let heartbeat = Heartbeat("prompt", delay: .milliseconds(50), interval: .milliseconds(50),
                                  progress: { counter.describe("tokens") }, write: lines.append)
        try await Task.sleep(for: .milliseconds(400))
        heartbeat.stop()
        let count = lines.all.count
        #expect(count >= 2, "\(lines.all)")
        #expect(lines.all.allSatisfy { $0.hasPrefix("ember: prompt: 1536 of 4096 tokens (") && $0.hasSuffix(" s)") }, "\(lines.all)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(lines.all.count == count, "a beat came after stop")
    }

    @Test func aShortOperationOrADonePhaseIsSilent() async throws {
        let lines = RecordedLines(), counter = ProgressCounter()
        Heartbeat("short", delay: .seconds(3), write: lines.append).stop()
        counter.start(total: 10)
        counter.advance(to: 10)
        let done = Heartbeat("done", delay: .milliseconds(10), interval: .milliseconds(10),
                             progress: { counter.describe("tokens") }, write: lines.append)
        try await Task.sleep(for: .milliseconds(200))
        done.stop()
        #expect(lines.all.isEmpty, "\(lines.all)")
        #expect(counter.describe("tokens") == nil)
    }
}
