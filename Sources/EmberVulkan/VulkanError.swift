// What can go wrong on the GPU path, each case a sentence a user can act on.

public enum VulkanError: Error, Equatable, CustomStringConvertible {
    /// No loader, no instance, no such device, or a device without what Ember needs.
    case unavailable(String)
    /// A Vulkan call failed with `result` (a VkResult).
    case failed(call: String, result: Int32)
    /// VK_ERROR_DEVICE_LOST: the driver reset the device; its buffers are gone.
    case deviceLost
    /// The device did not finish a submission within the wait's limit.
    case timeout(seconds: Double)

    public var description: String {
        switch self {
        case let .unavailable(why): why
        case let .failed(call, result): "\(call) failed on the GPU (VkResult \(result))"
        case .deviceLost: "the GPU was lost (VK_ERROR_DEVICE_LOST): the driver reset it"
        case let .timeout(seconds): "the GPU did not finish its work within \(seconds) s"
        }
    }

    /// The message the C runtime wrote into `buffer` (NUL-terminated).
    static func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The error for `result` of `call`, nil on success (VK_SUCCESS).
    static func check(_ result: Int32, _ call: String) throws(VulkanError) {
        switch result {
        case 0: return
        case -4: throw .deviceLost
        default: throw .failed(call: call, result: result)
        }
    }
}
