// The GPU's own timeline in the Chrome trace (`EMBER_TRACE_LEVEL=op`): a timestamp before and after
// each operation of a step, read back after the step's wait and drawn as spans on a "gpu" row. GPU
// ticks are placed on the trace clock by taking the step's last timestamp as the moment the wait
// returned, so a span's length is exact and its place is off by at most the wait's wake-up.

import CEmberVulkan
import EmberTrace

final class GPUTimeline {
    /// Timestamps per step: two per operation.
    static let capacity: UInt32 = 2048

    private let context: VulkanContext
    let pool: UInt64
    private let track: TraceTrack
    /// The operations timed in the current list, in order.
    private var names: [String] = []
    private var ticks: [UInt64] = []

    /// A timeline, when tracing records operations and the device has timestamps.
    init?(context: VulkanContext) {
        guard context.device.timestamps, context.device.timestampPeriod > 0,
              let track = Trace.makeTrack("gpu (\(context.device.name))", level: .op) else { return nil }
        let pool = ek_vk_query_pool_create(context.handle, Self.capacity)
        guard pool != 0 else { return nil }
        self.context = context
        self.pool = pool
        self.track = track
    }

    deinit { ek_vk_query_pool_destroy(context.handle, pool) }

    /// Opens operation `name`'s span in `commands` (false when the pool is full): `end` closes it.
    func begin(_ name: String, in commands: inout CommandList) -> Bool {
        let first = UInt32(2 * names.count)
        guard first + 2 <= Self.capacity else { return false }
        names.append(name)
        if first == 0 { commands.resetQueries(pool: pool, count: Self.capacity) }
        commands.timestamp(pool: pool, query: first)
        return true
    }

    /// Closes the span `begin` opened last.
    func end(in commands: inout CommandList) { commands.timestamp(pool: pool, query: UInt32(2 * names.count - 1)) }

    /// After the wait: the timed operations as spans ending where the wait returned.
    func emit(waitReturned: UInt64) {
        defer { names.removeAll(keepingCapacity: true) }
        guard !names.isEmpty else { return }
        ticks = [UInt64](repeating: 0, count: 2 * names.count)
        guard ek_vk_timestamps(context.handle, pool, UInt32(ticks.count), &ticks) == 0 else { return }
        let period = Double(context.device.timestampPeriod), last = ticks.last!
        for (index, name) in names.enumerated() {
            let start = ticks[2 * index], end = max(ticks[2 * index + 1], start)
            let before = UInt64(Double(last &- start) * period)
            Trace.completed(name, level: .op, start: waitReturned &- min(before, waitReturned),
                            duration: UInt64(Double(end - start) * period), on: track)
        }
    }

    /// Forgets the operations timed in a list that will not run.
    func discard() { names.removeAll(keepingCapacity: true) }
}
