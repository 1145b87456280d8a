// A tensor's storage on the GPU: its parts in device memory (one for activations and caches; several
// for a weight larger than one binding can see).

import EmberCompute

final class VulkanStorage: TensorStorage, @unchecked Sendable {
    let parts: [DeviceArena.Part]

    init(parts: [DeviceArena.Part]) {
        self.parts = parts
    }
}

extension Tensor {
    var gpuParts: [DeviceArena.Part] {
        guard let storage = storage as? VulkanStorage else { preconditionFailure("tensor \(name) does not live on the GPU") }
        return storage.parts
    }

    /// The single part of an activation or cache tensor.
    var gpu: DeviceArena.Part {
        let parts = gpuParts
        precondition(parts.count == 1, "tensor \(name) is split across buffers")
        return parts[0]
    }

    /// Where the tensor starts in its buffer, in 4-byte words (activations are F32).
    var wordOffset: UInt32 { UInt32(gpu.offset / 4) }
}
