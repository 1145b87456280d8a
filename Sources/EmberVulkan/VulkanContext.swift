// A Vulkan device opened for compute: buffers, compute pipelines cached by (shader, specialization
// constants), and recordings (a command buffer and its fence) that are recorded once and submitted as
// often as needed. The backend builds on these; nothing here knows about models.

import CEmberShaders
import CEmberVulkan

public final class VulkanContext: @unchecked Sendable {
    let handle: OpaquePointer
    public let device: VulkanDevice
    /// A shader and up to four specialization constants: looked up on every dispatch of a step, so
    /// without an array.
    private struct PipelineKey: Hashable {
        let shader: String
        let constants: SIMD4<UInt32>
        let count: Int
    }
    private var pipelines: [PipelineKey: UInt32] = [:]

    /// Whether device-local memory that the host can map is mapped (false: it is reached as on a
    /// discrete GPU, through staging copies; for tests).
    let mapsDeviceMemory: Bool

    /// Opens device `index` (`ember devices` lists them).
    public init(device index: Int = 0, mapsDeviceMemory: Bool = true) throws(VulkanError) {
        self.mapsDeviceMemory = mapsDeviceMemory
        let devices = try VulkanDevice.all()
        guard devices.indices.contains(index) else {
            throw .unavailable(devices.isEmpty ? "no Vulkan device: the loader found no driver (Debian: apt install mesa-vulkan-drivers for lavapipe, or a GPU's driver)"
                                               : "no Vulkan device \(index): \(devices.count) found (ember devices lists them)")
        }
        var error = [CChar](repeating: 0, count: 512)
        guard let handle = ek_vk_context_create(Int32(index), &error, error.count) else {
            throw .unavailable(VulkanError.message(error))
        }
        self.handle = handle
        device = devices[index]
    }

    deinit { ek_vk_context_destroy(handle) }

    /// A zeroed storage buffer: device-local, or host-visible (mapped: `contents`).
    public func makeBuffer(bytes: Int, hostVisible: Bool) throws(VulkanError) -> VulkanBuffer {
        var raw = ek_vk_buffer()
        let kind: Int32 = hostVisible ? 1 : mapsDeviceMemory ? 0 : 2
        try VulkanError.check(ek_vk_buffer_create(handle, UInt64(max(bytes, 4)), kind, &raw), "vkAllocateMemory (\(bytes) bytes)")
        return VulkanBuffer(context: self, raw: raw)
    }

    /// The pipeline of shader `name` (Shaders/`name`.comp) with these specialization constants, made on
    /// first use and cached.
    public func pipeline<let N: Int>(_ name: String, bindings: Int, pushBytes: Int, constants: InlineArray<N, UInt32>) throws(VulkanError) -> UInt32 {
        precondition(N <= 4, "at most four specialization constants")
        var packed = SIMD4<UInt32>()
        for index in constants.indices { packed[index] = constants[index] }
        let key = PipelineKey(shader: name, constants: packed, count: N)
        if let id = pipelines[key] { return id }
        guard let shader = ek_shader_named(name) else { throw .unavailable("no shader named \(name)") }
        var id: UInt32 = 0
        let result = withUnsafeBytes(of: packed) { constants in
            ek_vk_pipeline_create(handle, shader.pointee.code, shader.pointee.bytes, UInt32(bindings), UInt32(pushBytes),
                                  constants.baseAddress!.assumingMemoryBound(to: UInt32.self), UInt32(N), &id)
        }
        try VulkanError.check(result, "vkCreateComputePipelines (\(name))")
        pipelines[key] = id
        return id
    }

    public var pipelineCount: Int { pipelines.count }

    /// Device objects made so far (memory, pipelines, command buffers, query pools): unchanged by a
    /// step that allocates nothing on the device.
    public var objectsMade: Int { Int(ek_vk_objects_made(handle)) }

    public func makeRecording() throws(VulkanError) -> VulkanRecording {
        guard let recording = ek_vk_recording_create(handle) else { throw .failed(call: "vkAllocateCommandBuffers", result: -1) }
        return VulkanRecording(context: self, handle: recording)
    }
}

public final class VulkanBuffer: @unchecked Sendable {
    let context: VulkanContext
    var raw: ek_vk_buffer

    init(context: VulkanContext, raw: ek_vk_buffer) {
        self.context = context
        self.raw = raw
    }

    deinit { ek_vk_buffer_destroy(context.handle, &raw) }

    public var byteCount: Int { Int(raw.size) }
    /// The host's view of a host-visible buffer (nil for device-local memory).
    public var contents: UnsafeMutableRawPointer? { raw.mapped }
}

/// A buffer range bound to a dispatch.
public struct VulkanBinding {
    public let buffer: VulkanBuffer
    public let offset: Int
    public let bytes: Int

    public init(_ buffer: VulkanBuffer, offset: Int = 0, bytes: Int? = nil) {
        self.buffer = buffer
        self.offset = offset
        self.bytes = bytes ?? buffer.byteCount - offset
    }
}

/// A command buffer: `begin`, dispatches, barriers and copies, `end`; then `submit` and `wait` as many
/// times as the work is needed.
public final class VulkanRecording: @unchecked Sendable {
    let context: VulkanContext
    let handle: OpaquePointer

    init(context: VulkanContext, handle: OpaquePointer) {
        self.context = context
        self.handle = handle
    }

    deinit { ek_vk_recording_destroy(handle) }

    public func begin() throws(VulkanError) { try VulkanError.check(ek_vk_begin(handle), "vkBeginCommandBuffer") }

    /// Records a dispatch of `groups` workgroups of `pipeline` over `bindings` (bindings 0, 1, ...) with
    /// `push` as its push constants (32-bit words).
    public func dispatch(_ pipeline: UInt32, _ bindings: [VulkanBinding], push: [UInt32] = [], groups: (Int, Int, Int)) {
        let raw = bindings.map { ek_vk_binding(buffer: $0.buffer.raw.buffer, offset: UInt64($0.offset), range: UInt64($0.bytes)) }
        push.withUnsafeBytes { push in
            ek_vk_dispatch(handle, pipeline, raw, UInt32(raw.count), push.baseAddress, UInt32(push.count),
                           UInt32(groups.0), UInt32(groups.1), UInt32(groups.2))
        }
    }

    /// Makes every earlier write visible to every later read (and to the host after the wait).
    public func barrier() { ek_vk_barrier(handle) }

    public func copy(from source: VulkanBuffer, offset sourceOffset: Int = 0, to destination: VulkanBuffer, offset destinationOffset: Int = 0,
                     bytes: Int) {
        ek_vk_copy(handle, source.raw.buffer, UInt64(sourceOffset), destination.raw.buffer, UInt64(destinationOffset), UInt64(bytes))
    }

    public func fill(_ buffer: VulkanBuffer, offset: Int = 0, bytes: Int, with value: UInt32 = 0) {
        ek_vk_fill(handle, buffer.raw.buffer, UInt64(offset), UInt64(bytes), value)
    }

    public func end() throws(VulkanError) { try VulkanError.check(ek_vk_end(handle), "vkEndCommandBuffer") }

    /// Submits the recorded work and waits for it, at most `timeout` seconds.
    public func run(timeout: Double = 60) throws(VulkanError) {
        try submit()
        try wait(timeout: timeout)
    }

    public func submit() throws(VulkanError) { try VulkanError.check(ek_vk_submit(handle), "vkQueueSubmit") }

    /// Waits at most `timeout` seconds for the last submission.
    public func wait(timeout: Double) throws(VulkanError) {
        let result = ek_vk_wait(handle, UInt64(timeout * 1e9))
        if result == 2 { throw .timeout(seconds: timeout) }
        try VulkanError.check(result, "vkWaitForFences")
    }
}
