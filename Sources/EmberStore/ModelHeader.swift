// The header of a model file read from its first bytes: a GGUF or safetensors header gives the byte
// range of every tensor, which the downloader cuts its requests along and the remote reader
// prefetches by. Any other file has no known structure.

import EmberFormats

public struct ModelHeader: Sendable {
    public enum Format: Sendable {
        case gguf(GGUFFile)
        case safetensors(SafetensorsHeader)
        /// Not a model format Ember knows: no tensor boundaries.
        case unknown
    }

    /// The first bytes of the file, at least the whole header (none when the header was read in place
    /// from a mapped file).
    public let bytes: [UInt8]
    /// Size of the whole file.
    public let fileSize: Int
    public let format: Format

    /// The tensors' byte ranges in file order (empty for an unknown format).
    public var tensorRanges: [Range<Int>] {
        switch format {
        case let .gguf(file): file.tensorRanges
        case let .safetensors(header): header.tensors.map(\.range)
        case .unknown: []
        }
    }

    /// The header parsed from `bytes`, nil when it runs past them (read more and try again); that is
    /// found cheaply (a GGUF header is scanned before it is parsed), so it can be asked as each buffer
    /// arrives. A header that is malformed makes the file `unknown` here: the full parse after the
    /// download reports it.
    static func parse(_ bytes: [UInt8], fileSize: Int) -> ModelHeader? {
        bytes.withUnsafeBytes { raw -> ModelHeader? in
            if raw.count >= 4, raw.loadUnaligned(as: UInt32.self) == 0x4655_4747 {  // "GGUF"
                guard GGUFHeaderScan(raw, fileSize: fileSize) != .partial else { return nil }
                do throws(GGUFError) {
                    let file = try GGUFFile(prefix: MappedFile(copying: raw, path: "header"), fileSize: fileSize)
                    return ModelHeader(bytes: bytes, fileSize: fileSize, format: .gguf(file))
                } catch {
                    return error.isTruncation ? nil : ModelHeader(bytes: bytes, fileSize: fileSize, format: .unknown)
                }
            }
            if SafetensorsHeader.looksLike(raw) {
                do throws(SafetensorsError) {
                    let header = try SafetensorsHeader(prefix: raw, fileSize: fileSize)
                    return ModelHeader(bytes: bytes, fileSize: fileSize, format: .safetensors(header))
                } catch {
                    if case .truncated = error { return nil }
                }
            }
            return ModelHeader(bytes: bytes, fileSize: fileSize, format: .unknown)
        }
    }

    /// The header of a whole file, parsed in place.
    static func read(_ file: MappedFile) throws(StoreError) -> ModelHeader {
        if file.count >= 4, file.bytes.loadUnaligned(as: UInt32.self) == 0x4655_4747 {
            do {
                return ModelHeader(bytes: [], fileSize: file.count, format: .gguf(try GGUFFile(file: file)))
            } catch {
                throw .invalidModel(path: file.path, reason: error.description)
            }
        }
        if SafetensorsHeader.looksLike(file.bytes) {
            do {
                return ModelHeader(bytes: [], fileSize: file.count, format: .safetensors(try SafetensorsHeader(prefix: file.bytes, fileSize: file.count)))
            } catch {
                throw .invalidModel(path: file.path, reason: error.description)
            }
        }
        return ModelHeader(bytes: [], fileSize: file.count, format: .unknown)
    }
}
