// Where a model runs: the CPU (the default) or a Vulkan GPU (`--gpu`, `--device vulkan[:N]`).

import EmberCompute
import EmberVulkan

public enum ComputeDevice: Equatable, Sendable, CustomStringConvertible {
    case cpu
    /// Vulkan device N (`ember devices` lists them).
    case vulkan(Int)

    /// Parses `cpu`, `gpu`, `vulkan` or `vulkan:N`; nil for anything else.
    public init?(_ text: String) {
        switch text.lowercased() {
        case "cpu": self = .cpu
        case "gpu", "vulkan": self = .vulkan(0)
        default:
            let parts = text.lowercased().split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0] == "vulkan", let index = Int(parts[1]), index >= 0 else { return nil }
            self = .vulkan(index)
        }
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case let .vulkan(index): "vulkan:\(index)"
        }
    }

    /// A backend on this device; a GPU that cannot be opened is an error saying why.
    public func makeBackend(threads: Int?) throws -> Backend {
        switch self {
        case .cpu:
            return CPUBackend(threadCount: threads ?? ThreadPool.defaultThreadCount)
        case let .vulkan(index):
            do {
                return try VulkanBackend(device: index, threadCount: threads ?? ThreadPool.defaultThreadCount)
            } catch {
                throw EngineError.device("--device vulkan:\(index): \(error)")
            }
        }
    }
}
