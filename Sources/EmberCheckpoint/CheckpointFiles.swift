// The files of a Hugging Face checkpoint directory that Ember reads: config.json, the tokenizer
// files, generation_config.json, and the safetensors shards (those model.safetensors.index.json
// names, or model.safetensors, or every .safetensors file). Weights only in pickle formats are
// refused: Ember never unpickles.

import EmberFormats
import Foundation

public struct CheckpointFiles: Sendable {
    public let directory: String
    /// The safetensors shards, in name order.
    public let shards: [String]
    /// Tensor name to shard, when an index names it.
    public let weightMap: [String: String]?

    public init(directory: String) throws(CheckpointError) {
        self.directory = directory
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted() } catch {
            throw .unreadable(path: directory, reason: "\(error)")
        }
        func path(_ name: String) -> String { directory.hasSuffix("/") ? directory + name : directory + "/" + name }
        func optional(_ name: String) -> String? { names.contains(name) ? path(name) : nil }
        func required(_ name: String) throws(CheckpointError) -> String {
            guard let found = optional(name) else { throw .missingFile(directory: directory, name: name) }
            return found
        }
        if let index = optional(CheckpointLayout.indexFile) {
            struct Index: Decodable { let weight_map: [String: String] }
            let map = try CheckpointJSON.decode(Index.self, path: index).weight_map
            for shard in Set(map.values) where !names.contains(shard) || shard.contains("/") {
                throw .missingFile(directory: directory, name: shard)
            }
            weightMap = map
            shards = Set(map.values).sorted().map(path)
        } else {
            weightMap = nil
            shards = names.filter { $0.hasSuffix(".safetensors") }.map(path)
        }
        if shards.isEmpty {
            let pickles = names.filter(CheckpointLayout.isPickle)
            if !pickles.isEmpty { throw .pickleOnly(directory: directory, files: pickles) }
            throw .noWeights(directory: directory)
        }
        // Read by CheckpointMetadata; named here so that a directory without them is refused before any weight is read.
        _ = try required("config.json")
        _ = try required("tokenizer.json")
    }

}

/// Reading a checkpoint's JSON files into Decodable types, with errors that name the file.
enum CheckpointJSON {
    static func decode<T: Decodable>(_ type: T.Type, path: String) throws(CheckpointError) -> T {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw .invalidJSON(path: path, reason: describe(error))
        }
    }

    /// A decoding error in words: what was expected where.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? context.debugDescription : "\(path.dropFirst(path.hasPrefix(".") ? 1 : 0)): \(context.debugDescription)"
        }
        switch error {
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context): return at(context)
        case let .keyNotFound(key, context): return at(context) + " (missing \(key.stringValue))"
        @unknown default: return "\(error)"
        }
    }
}
