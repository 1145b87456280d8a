// Why a model could not be built from a file or run on a batch.

import EmberCompute
import EmberFormats

public enum ModelError: Error, Equatable, CustomStringConvertible {
    case unsupportedArchitecture(String)
    case metadata(MetadataError)
    case invalidHyperParameter(key: String, reason: String)
    case missingTensor(String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case backend(BackendError)
    case batchTooLarge(tokens: Int, limit: Int)
    case tooManyLogitRows(requested: Int, limit: Int)
    case contextFull(needed: Int, capacity: Int)
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    case unsupportedCache(String)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(name):
            "model architecture \"\(name)\" is not supported yet (supported: \(ModelLoader.architectures.joined(separator: ", ")))"
        case let .metadata(error):
            "\(error)"
        case let .invalidHyperParameter(key, reason):
            "model metadata \"\(key)\": \(reason)"
        case let .missingTensor(name):
            "model file lacks tensor \"\(name)\""
        case let .shapeMismatch(tensor, expected, found):
            "tensor \"\(tensor)\" has shape \(found), expected \(expected)"
        case let .backend(error):
            "\(error)"
        case let .batchTooLarge(tokens, limit):
            "batch of \(tokens) tokens exceeds the model's batch limit of \(limit)"
        case let .tooManyLogitRows(requested, limit):
            "batch asks for logits of \(requested) sequences, at most \(limit) fit one step"
        case let .contextFull(needed, capacity):
            "context is full: \(needed) positions needed, the KV cache holds \(capacity) (raise -c)"
        case let .tokenOutOfRange(token, size):
            "token id \(token) is outside the vocabulary of \(size)"
        case let .unsupportedCache(reason):
            reason
        }
    }
}

extension ModelError {
    /// Runs `decode` (which reads metadata), reporting a metadata error as `.metadata` and passing a
    /// ModelError on.
    static func decodingMetadata<T>(_ decode: () throws -> T) throws(ModelError) -> T {
        do {
            return try decode()
        } catch let error as MetadataError {
            throw .metadata(error)
        } catch let error as ModelError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }
}
