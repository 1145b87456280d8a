// The Vulkan devices of this machine and what each offers of the features Ember uses (`ember devices`).

import CEmberVulkan

public struct VulkanDevice: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case discrete = "discrete GPU", integrated = "integrated GPU", virtual = "virtual GPU", cpu = "CPU", other
    }

    public let index: Int
    public let name: String
    public let kind: Kind
    public let vendorID: UInt32
    public let apiVersion: String
    public let deviceLocalBytes: UInt64
    public let subgroupSize: Int
    public let subgroupArithmetic: Bool
    public let subgroupShuffle: Bool
    public let float16Arithmetic: Bool
    public let int8Arithmetic: Bool
    public let storage16Bit: Bool
    public let storage8Bit: Bool
    public let pushDescriptors: Bool
    public let timestamps: Bool
    /// Nanoseconds per tick of the device's timestamps.
    public let timestampPeriod: Float
    public let hasComputeQueue: Bool
    public let maxStorageBufferRange: UInt64

    init(index: Int, info: ek_vk_device_info) {
        self.index = index
        var info = info
        name = withUnsafeBytes(of: &info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        kind = switch info.type {
        case 1: .integrated
        case 2: .discrete
        case 3: .virtual
        case 4: .cpu
        default: .other
        }
        vendorID = info.vendor_id
        apiVersion = "\(info.api_version >> 22 & 0x7F).\(info.api_version >> 12 & 0x3FF).\(info.api_version & 0xFFF)"
        deviceLocalBytes = info.device_local_bytes
        subgroupSize = Int(info.subgroup_size)
        subgroupArithmetic = info.subgroup_arithmetic != 0
        subgroupShuffle = info.subgroup_shuffle != 0
        float16Arithmetic = info.shader_float16 != 0
        int8Arithmetic = info.shader_int8 != 0
        storage16Bit = info.storage_16bit != 0
        storage8Bit = info.storage_8bit != 0
        pushDescriptors = info.push_descriptor != 0
        timestamps = info.timestamps != 0
        timestampPeriod = info.timestamp_period
        hasComputeQueue = info.compute_queue_family != UInt32.max
        maxStorageBufferRange = UInt64(info.max_storage_buffer_range)
    }

    /// The devices the Vulkan loader reports; `.unavailable` naming what is missing when there is no
    /// loader or no driver.
    public static func all() throws(VulkanError) -> [VulkanDevice] {
        var error = [CChar](repeating: 0, count: 512)
        guard ek_vk_open(&error, error.count) == 0 else {
            throw .unavailable(VulkanError.message(error))
        }
        return (0 ..< Int(ek_vk_device_count())).map { index in
            var info = ek_vk_device_info()
            _ = ek_vk_describe(Int32(index), &info)
            return VulkanDevice(index: index, info: info)
        }
    }

    /// What Ember needs that the device lacks (empty when it can run Ember).
    public var missing: [String] {
        [(hasComputeQueue, "a compute queue"), (pushDescriptors, "VK_KHR_push_descriptor"),
         (storage16Bit, "16-bit storage buffers"), (storage8Bit, "8-bit storage buffers")]
            .filter { !$0.0 }.map(\.1)
    }

    /// One line for `ember devices`.
    public var summary: String {
        let tenths = Int((Double(deviceLocalBytes) / Double(1 << 30) * 10).rounded())
        let memory = "\(tenths / 10).\(tenths % 10) GiB"
        var features = ["Vulkan \(apiVersion)", "\(memory) device memory", "subgroup \(subgroupSize)"]
        if subgroupArithmetic { features.append("subgroup arithmetic") }
        if subgroupShuffle { features.append("subgroup shuffle") }
        if float16Arithmetic { features.append("fp16 arithmetic") }
        if int8Arithmetic { features.append("int8 arithmetic") }
        if timestamps { features.append("timestamps") }
        let verdict = missing.isEmpty ? "usable" : "not usable: lacks " + missing.joined(separator: ", ")
        return "vulkan:\(index)  \(name) (\(kind.rawValue)): \(features.joined(separator: ", ")); \(verdict)"
    }
}
