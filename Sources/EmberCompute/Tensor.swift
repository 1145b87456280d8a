// A tensor as a model holds it: a handle. Its name, element type and shape (`rowCount` rows of
// `rowLength` elements) are everyone's; its storage belongs to the backend that made it (host memory
// for the CPU backend: the very bytes of a mapped file for a weight, an allocation for an
// activation or cache; a device buffer for a GPU backend), and only that backend reads it.

import EmberFormats

public final class Tensor: @unchecked Sendable {
    public let name: String
    public let type: TensorType
    public let rowLength: Int
    public let rowCount: Int
    /// The backend's storage of the tensor.
    public let storage: TensorStorage

    /// A tensor for `storage`: what a backend calls when it binds or allocates one.
    public init(name: String, type: TensorType, rowLength: Int, rowCount: Int, storage: TensorStorage) {
        self.name = name
        self.type = type
        self.rowLength = rowLength
        self.rowCount = rowCount
        self.storage = storage
    }

    public var rowBytes: Int { rowLength / type.blockSize * type.bytesPerBlock }
    public var byteCount: Int { rowBytes * rowCount }
}

/// Where a backend keeps a tensor's data; each backend has its own kind.
public protocol TensorStorage: AnyObject, Sendable {}
