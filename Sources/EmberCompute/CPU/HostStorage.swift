// The CPU backend's tensor storage: an address in host memory and what keeps it valid (the mapped
// file of a weight, the allocation of an activation or cache, or the tensor a slice was cut from).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmberFormats

final class HostStorage: TensorStorage, @unchecked Sendable {
    let address: UnsafeMutableRawPointer
    private let owner: TensorOwner

    init(address: UnsafeMutableRawPointer, owner: TensorOwner) {
        self.address = address
        self.owner = owner
    }
}

extension Tensor {
    /// Start of a CPU backend tensor's data in host memory (only the CPU backend's tensors have one).
    public var data: UnsafeMutableRawPointer { unsafeDowncast(storage, to: HostStorage.self).address }

    /// Float view of row `index` of an F32 tensor of the CPU backend.
    public func floats(row index: Int) -> UnsafeMutablePointer<Float> {
        (data + index * rowBytes).assumingMemoryBound(to: Float.self)
    }
}

/// Keeps a tensor's memory alive and frees what the backend allocated.
enum TensorOwner {
    case mapped(TensorView)
    case allocation(Allocation)
    /// Rows of another tensor, kept alive with it.
    case slice(of: Tensor)
}

/// Zeroed memory. A big block comes from an anonymous mapping, whose pages the kernel zeroes when
/// first touched: a KV cache or a prefill workspace sized for the worst case costs nothing until
/// used (writing zeros up front took a third of a cached model's load time).
final class Allocation {
    let pointer: UnsafeMutableRawPointer
    /// The mapping's length, or 0 for heap memory.
    private let mappedBytes: Int

    static let mappingThreshold = 1 << 20

    init(bytes: Int, alignment: Int) {
        let size = max(bytes, 1)
        if size >= Self.mappingThreshold, alignment <= 4096,
           let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), address != MAP_FAILED {
            pointer = address
            mappedBytes = size
        } else {
            pointer = .allocate(byteCount: size, alignment: alignment)
            pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            mappedBytes = 0
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(pointer, mappedBytes) } else { pointer.deallocate() }
    }
}
