// A step's GPU work as values, collected while the model describes the step and recorded into a
// command buffer only when the host needs a result: one submit and one wait per step. A list equal
// to one recorded before (the same operations on the same buffers: a decode step of the same batch
// shape) replays that command buffer, since everything that changes from step to step (token ids,
// positions) is read by the shaders from the step buffer.

import CEmberVulkan

struct Dispatch: Equatable {
    let pipeline: UInt32
    let buffers: [VulkanBuffer]
    let push: [UInt32]
    let groups: [UInt32]

    static func == (a: Dispatch, b: Dispatch) -> Bool {
        a.pipeline == b.pipeline && a.push == b.push && a.groups == b.groups && a.buffers.count == b.buffers.count
            && zip(a.buffers, b.buffers).allSatisfy { $0 === $1 }
    }
}

enum Command: Equatable {
    case dispatch(Dispatch)
    case barrier
    case copy(from: VulkanBuffer, sourceOffset: Int, to: VulkanBuffer, destinationOffset: Int, bytes: Int)
    case fill(VulkanBuffer, offset: Int, bytes: Int)
    /// GPU timestamps (GPUTimeline): the pool's first `count` queries reset, and one query written.
    case resetQueries(pool: UInt64, count: UInt32)
    case timestamp(pool: UInt64, query: UInt32)

    static func == (a: Command, b: Command) -> Bool {
        switch (a, b) {
        case let (.dispatch(x), .dispatch(y)): x == y
        case (.barrier, .barrier): true
        case let (.copy(s1, o1, d1, p1, n1), .copy(s2, o2, d2, p2, n2)): s1 === s2 && o1 == o2 && d1 === d2 && p1 == p2 && n1 == n2
        case let (.fill(b1, o1, n1), .fill(b2, o2, n2)): b1 === b2 && o1 == o2 && n1 == n2
        case let (.resetQueries(p1, c1), .resetQueries(p2, c2)): p1 == p2 && c1 == c2
        case let (.timestamp(p1, q1), .timestamp(p2, q2)): p1 == p2 && q1 == q2
        default: false
        }
    }
}

extension VulkanRecording {
    /// Records `commands` from the start.
    func record(_ commands: [Command]) throws(VulkanError) {
        try begin()
        for command in commands {
            switch command {
            case let .dispatch(d):
                dispatch(d.pipeline, d.buffers.map { VulkanBinding($0) }, push: d.push,
                         groups: (Int(d.groups[0]), Int(d.groups[1]), Int(d.groups[2])))
            case .barrier: barrier()
            case let .copy(source, sourceOffset, destination, destinationOffset, bytes):
                copy(from: source, offset: sourceOffset, to: destination, offset: destinationOffset, bytes: bytes)
            case let .fill(buffer, offset, bytes): fill(buffer, offset: offset, bytes: bytes)
            case let .resetQueries(pool, count): ek_vk_reset_queries(handle, pool, count)
            case let .timestamp(pool, query): ek_vk_timestamp(handle, pool, query)
            }
        }
        barrier()
        try end()
    }
}
