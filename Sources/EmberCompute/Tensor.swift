// A tensor as a backend holds it: a matrix of `rowCount` rows of `rowLength` elements of one type,
// at an address in that backend's memory. Weights are bound from a mapped file (on the CPU: the very
// bytes of the mapping, never copied); activations and caches are allocated by the backend.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmberFormats

public final class Tensor: @unchecked Sendable {
    public let name: String
    public let type: TensorType
    public let rowLength: Int
    public let rowCount: Int
    /// Start of the data in the owning backend's address space.
    public let data: UnsafeMutableRawPointer
    /// What keeps `data` valid: the mapped file of a weight, or the allocation of an activation.
    private let owner: TensorOwner

    init(name: String, type: TensorType, rowLength: Int, rowCount: Int, data: UnsafeMutableRawPointer, owner: TensorOwner) {
        self.name = name
        self.type = type
        self.rowLength = rowLength
        self.rowCount = rowCount
        self.data = data
        self.owner = owner
    }

    public var rowBytes: Int { rowLength / type.blockSize * type.bytesPerBlock }
    public var byteCount: Int { rowBytes * rowCount }

    /// Rows `range` of this tensor as a tensor of their own, sharing its memory: the parts of a fused
    /// weight (Phi-3's QKV, its gate and up projections).
    public func rows(_ range: Range<Int>, name: String) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= rowCount)
        return Tensor(name: name, type: type, rowLength: rowLength, rowCount: range.count, data: data + range.lowerBound * rowBytes,
                      owner: .slice(of: self))
    }

    /// Float view of row `index` of an F32 tensor.
    @inlinable
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
