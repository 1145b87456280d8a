// A step's GPU work, collected while the model describes the step and recorded into a command buffer
// only when the host needs a result: one submit and one wait per step. A list equal to one recorded
// before (the same operations on the same buffers: a decode step of the same batch shape) replays that
// command buffer, since everything that changes from step to step (token ids, positions) is read by the
// shaders from the step buffer. The commands are encoded as words in one array that keeps its
// capacity, so describing a step allocates nothing and comparing two lists compares their words.

import CEmberVulkan

struct CommandList: Equatable {
    private enum Tag: UInt64 {
        /// pipeline, buffer count, push word count, 3 group counts, then per buffer its handle and
        /// size, then the push words.
        case dispatch
        case barrier
        /// source, source offset, destination, destination offset, bytes.
        case copy
        /// buffer, offset, bytes (zeroed).
        case fill
        /// GPU timestamps (GPUTimeline): pool and count of queries reset; pool and query written.
        case resetQueries, timestamp
    }

    private var words: [UInt64] = []
    /// Commands in the list.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func removeAll() {
        words.removeAll(keepingCapacity: true)
        count = 0
    }

    private mutating func append(_ tag: Tag) {
        words.append(tag.rawValue)
        count += 1
    }

    /// Runs `groups` workgroups of `pipeline` with `buffers` bound whole (bindings 0, 1, ...) and
    /// `push` as its push constants.
    mutating func dispatch<let B: Int, let P: Int>(_ pipeline: UInt32, _ buffers: InlineArray<B, VulkanBuffer>,
                                                   push: InlineArray<P, UInt32>, groups: (x: Int, y: Int, z: Int)) {
        append(.dispatch)
        words.append(UInt64(pipeline))
        words.append(UInt64(B))
        words.append(UInt64(P))
        words.append(UInt64(groups.x))
        words.append(UInt64(groups.y))
        words.append(UInt64(groups.z))
        for index in buffers.indices {
            words.append(buffers[index].raw.buffer)
            words.append(buffers[index].raw.size)
        }
        for index in push.indices { words.append(UInt64(push[index])) }
    }

    /// Makes every earlier write visible to every later read (and to the host after the wait).
    mutating func barrier() { append(.barrier) }

    mutating func copy(from source: VulkanBuffer, offset sourceOffset: Int, to destination: VulkanBuffer, offset destinationOffset: Int,
                       bytes: Int) {
        append(.copy)
        words.append(source.raw.buffer)
        words.append(UInt64(sourceOffset))
        words.append(destination.raw.buffer)
        words.append(UInt64(destinationOffset))
        words.append(UInt64(bytes))
    }

    mutating func fill(_ buffer: VulkanBuffer, offset: Int, bytes: Int) {
        append(.fill)
        words.append(buffer.raw.buffer)
        words.append(UInt64(offset))
        words.append(UInt64(bytes))
    }

    mutating func resetQueries(pool: UInt64, count: UInt32) {
        append(.resetQueries)
        words.append(pool)
        words.append(UInt64(count))
    }

    mutating func timestamp(pool: UInt64, query: UInt32) {
        append(.timestamp)
        words.append(pool)
        words.append(UInt64(query))
    }

    /// Records the list into `recording`, from the start.
    func record(into recording: VulkanRecording) throws(VulkanError) {
        try recording.begin()
        var bindings: [ek_vk_binding] = [], push: [UInt32] = []
        var at = 0
        func next() -> UInt64 {
            defer { at += 1 }
            return words[at]
        }
        while at < words.count {
            switch Tag(rawValue: next())! {
            case .dispatch:
                let pipeline = UInt32(next()), bufferCount = Int(next()), pushCount = Int(next())
                let x = UInt32(next()), y = UInt32(next()), z = UInt32(next())
                bindings = (0 ..< bufferCount).map { _ in ek_vk_binding(buffer: next(), offset: 0, range: next()) }
                push = (0 ..< pushCount).map { _ in UInt32(next()) }
                push.withUnsafeBytes { push in
                    ek_vk_dispatch(recording.handle, pipeline, bindings, UInt32(bindings.count), push.baseAddress, UInt32(push.count), x, y, z)
                }
            case .barrier: recording.barrier()
            case .copy:
                let source = next(), sourceOffset = next(), destination = next(), destinationOffset = next(), bytes = next()
                ek_vk_copy(recording.handle, source, sourceOffset, destination, destinationOffset, bytes)
            case .fill:
                let buffer = next(), offset = next(), bytes = next()
                ek_vk_fill(recording.handle, buffer, offset, bytes, 0)
            case .resetQueries:
                let pool = next(), count = UInt32(next())
                ek_vk_reset_queries(recording.handle, pool, count)
            case .timestamp:
                let pool = next(), query = UInt32(next())
                ek_vk_timestamp(recording.handle, pool, query)
            }
        }
        recording.barrier()
        try recording.end()
    }
}
