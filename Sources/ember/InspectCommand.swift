// `ember inspect`: what a model file holds: architecture, hyper-parameters, tokenizer, chat template
// and every tensor, as text for people or JSON for tools. A Hugging Face checkpoint (a directory, or a
// cached repository) is shown as Ember reads it: GGUF metadata and GGUF-named tensors.

import ArgumentParser
import EmberCheckpoint
import EmberFormats
import EmberStore
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model file's (or checkpoint's) metadata and tensors.",
        discussion: "A remote model that is not cached is not downloaded: only its header is read, by range requests. A checkpoint is shown as Ember reads it (GGUF metadata and tensor names); a repository must be in the cache.")

    @Argument(help: ArgumentHelp(modelHelp))
    var model = ModelAliases.defaultModel

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply(command: "inspect")
        let store = try storeOptions.store
        let reference = model
        if let directory = try store.localCheckpointDirectory(reference) {
            let checkpoint: Checkpoint
            do { checkpoint = try Checkpoint(directory: directory) } catch { throw CommandFailure("\(error)") }
            let format = "Hugging Face checkpoint, \(checkpoint.files.shards.count) safetensors shards"
            try show(checkpoint, format: format, path: directory, fileSize: nil, fetched: nil)
            return
        }
        let (header, location, fetched) = try Blocking.run { () throws(StoreError) in try await store.header(reference) }
        guard case let .gguf(file) = header.format else {
            if case let .safetensors(safetensors) = header.format {
                FileHandle.standardOutput.write(Data(Self.text(safetensors, path: location).utf8))
                return
            }
            throw CommandFailure("\(location) is neither a GGUF nor a safetensors file")
        }
        let format = "GGUF v\(file.version), \(file.tensors.count) tensors, \(file.metadata.count) metadata keys, alignment \(file.alignment)"
        try show(file, format: format, path: location, fileSize: file.fileSize, fetched: fetched)
    }

    /// Prints `source` as text or JSON; `fetched`: the bytes a remote header took, of `fileSize`.
    private func show(_ source: any ModelSource, format: String, path: String, fileSize: Int?, fetched: Int?) throws {
        if json {
            var object = Self.jsonObject(source, path: path)
            if let file = source as? GGUFFile {
                object["version"] = Int(file.version)
                object["alignment"] = file.alignment
            }
            if let fileSize { object["file_size"] = fileSize }
            if let fetched { object["bytes_fetched"] = fetched }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            var text = Self.text(source, format: format, path: path)
            if let fetched, let fileSize {
                text += "header only: fetched \(fetched) of \(fileSize) bytes (\(String(format: "%.2f", 100 * Double(fetched) / Double(max(fileSize, 1))))%)\n"
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    static func text(_ header: SafetensorsHeader, path: String) -> String {
        var out = "file: \(path)\nformat: safetensors, \(header.tensors.count) tensors, header \(header.headerSize) bytes\n\ntensors:\n"
        for tensor in header.tensors {
            out += "  \(tensor.name)  \(tensor.dtype)  \(tensor.shape.map(String.init).joined(separator: " x "))  \(tensor.range.count)\n"
        }
        return out
    }

    private static func architecture(_ source: any ModelSource) -> String {
        source.metadata["general.architecture"]?.stringValue ?? "unknown"
    }

    /// Keys shown in their own sections rather than the hyper-parameter list.
    private static func isTokenizerKey(_ key: String) -> Bool { key.hasPrefix("tokenizer.") }

    static func text(_ file: any ModelSource, format: String, path: String) -> String {
        let metadata = file.metadata
        let arch = architecture(file)
        var out = "file: \(path)\nformat: \(format)\n"
        out += "architecture: \(arch)\nname: \(metadata["general.name"]?.stringValue ?? "-")\n\n"

        out += "hyper-parameters:\n"
        for key in metadata.keys where key.hasPrefix("\(arch).") {
            out += "  \(key.dropFirst(arch.count + 1)): \(metadata[key]!.summary)\n"
        }
        out += "\ntokenizer:\n"
        for key in metadata.keys where isTokenizerKey(key) && key != "tokenizer.chat_template" {
            out += "  \(key.dropFirst("tokenizer.".count)): \(metadata[key]!.summary)\n"
        }
        out += "\nchat template:\n\(metadata["tokenizer.chat_template"]?.stringValue ?? "(none)")\n\n"

        let nameWidth = max(4, file.tensors.map(\.name.count).max() ?? 0)
        out += "tensors:\n"
        out += "  " + "name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  type   shape              bytes\n"
        var total = 0
        for tensor in file.tensors {
            total += tensor.byteCount
            let shape = tensor.shape.map(String.init).joined(separator: " x ")
            out += "  " + tensor.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + "  " + tensor.type.description.padding(toLength: 5, withPad: " ", startingAt: 0)
                + "  " + shape.padding(toLength: 17, withPad: " ", startingAt: 0)
                + "  \(tensor.byteCount)\n"
        }
        out += "  total \(total) bytes (\(String(format: "%.1f", Double(total) / 1_048_576)) MiB)\n"
        return out
    }

    static func jsonObject(_ source: any ModelSource, path: String) -> [String: Any] {
        var metadata: [String: Any] = [:]
        for key in source.metadata.keys { metadata[key] = jsonValue(source.metadata[key]!) }
        let gguf = source as? GGUFFile
        return [
            "path": path,
            "architecture": architecture(source),
            "metadata": metadata,
            "tensors": source.tensors.map { tensor in
                var entry: [String: Any] = ["name": tensor.name, "type": tensor.type.description, "shape": tensor.shape, "bytes": tensor.byteCount]
                if let gguf { entry["offset"] = gguf.dataSectionOffset + tensor.dataOffset }
                return entry
            },
        ]
    }

    /// Metadata as JSON; long arrays (vocabularies, merges) are summarised by type and length.
    private static func jsonValue(_ value: GGUFValue) -> Any {
        switch value {
        case let .string(s): s
        case let .bool(b): b
        case let .float32(f): Double(f)
        case let .float64(d): d
        case let .array(array):
            array.count > 64 ? ["type": "\(array.elementType)", "count": array.count] as [String: Any] : jsonArray(array)
        default: value.intValue.map { $0 as Any } ?? value.summary
        }
    }

    private static func jsonArray(_ array: GGUFArray) -> Any {
        if let strings = array.strings { return strings }
        if case let .bool(values) = array { return values }
        if case let .array(nested) = array { return nested.map(jsonArray) }
        if let integers = array.integers { return integers }
        return array.floats.map { $0.map(Double.init) } ?? []
    }
}
