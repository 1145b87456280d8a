// A tensor as a backend holds it: a matrix of `rowCount` rows of `rowLength` elements of one type,
// at an address in that backend's memory. Weights are bound from a mapped file (on the CPU: the very
// bytes of the mapping, never copied); activations and caches are allocated by the backend.

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
}

final class Allocation {
    let pointer: UnsafeMutableRawPointer

    init(bytes: Int, alignment: Int) {
        pointer = .allocate(byteCount: max(bytes, 1), alignment: alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 1))
    }

    deinit { pointer.deallocate() }
}
