// Writes a model as a GGUF file (version 3): the metadata, the tensor infos, then each tensor's bytes
// at its aligned offset, streamed from their views (a model larger than memory is never held whole).
// The file appears under its name only once it is complete and on disk.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum GGUFWriteError: Error, Equatable, CustomStringConvertible {
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .io(path, reason): "cannot write \(path): \(reason)"
        }
    }
}

public enum GGUFWriter {
    /// Writes `metadata` and `tensors` (in that order) to `path`; `progress` hears the bytes written
    /// so far and the file's size.
    public static func write(metadata: [(key: String, value: GGUFValue)], tensors: [TensorView], to path: String,
                             alignment: Int = GGUFFile.defaultAlignment, progress: (Int, Int) -> Void = { _, _ in }) throws(GGUFWriteError) {
        var header = GGUFEncoder()
        let keys = alignment == GGUFFile.defaultAlignment ? metadata : metadata + [("general.alignment", .uint32(UInt32(alignment)))]
        let dataBytes = header.layout(metadata: keys, tensors: tensors.map { ($0.name, $0.shape, $0.type, $0.bytes.count) }, alignment: alignment)
        let size = header.bytes.count + dataBytes

        let partial = path + ".partial"
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .io(path: partial, reason: lastError()) }
        var closed = false
        defer { if !closed { close(descriptor); unlink(partial) } }
        var written = 0
        func append(_ bytes: UnsafeRawBufferPointer) throws(GGUFWriteError) {
            var done = 0
            while done < bytes.count {
                let count = Glibc.write(descriptor, bytes.baseAddress! + done, min(bytes.count - done, 64 << 20))
                guard count > 0 else { throw .io(path: partial, reason: count == 0 ? "nothing written" : lastError()) }
                done += count
            }
            written += bytes.count
            progress(written, size)
        }
        /// `array`'s first `count` bytes.
        func append(_ array: [UInt8], count: Int) throws(GGUFWriteError) {
            try array.withUnsafeBytes { bytes in Result { () throws(GGUFWriteError) in try append(UnsafeRawBufferPointer(rebasing: bytes[0 ..< count])) } }.get()
        }
        try append(header.bytes, count: header.bytes.count)
        let zeros = [UInt8](repeating: 0, count: alignment)
        for tensor in tensors where !tensor.bytes.isEmpty {
            try append(tensor.bytes)
            let padding = (alignment - tensor.bytes.count % alignment) % alignment
            if padding > 0 { try append(zeros, count: padding) }
        }
        guard fsync(descriptor) == 0 else { throw .io(path: partial, reason: lastError()) }
        closed = true
        guard close(descriptor) == 0, rename(partial, path) == 0 else {
            let reason = lastError()
            unlink(partial)
            throw .io(path: path, reason: reason)
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
