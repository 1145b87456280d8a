// `ember inspect`: what a model file holds: architecture, hyper-parameters, tokenizer, chat template
// and every tensor, as text for people or JSON for tools.

import ArgumentParser
import EmberFormats
import EmberStore
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model file's metadata and tensors.",
        discussion: "A remote model that is not cached is not downloaded: only its header is read, by range requests.")

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
        let (header, location, fetched) = try Blocking.run { () throws(StoreError) in try await store.header(reference) }
        guard case let .gguf(file) = header.format else {
            if case let .safetensors(safetensors) = header.format {
                FileHandle.standardOutput.write(Data(Self.text(safetensors, path: location).utf8))
                return
            }
            throw CommandFailure("\(location) is neither a GGUF nor a safetensors file")
        }
        if json {
            var object = Self.jsonObject(file, path: location)
            object["file_size"] = file.fileSize
            if let fetched { object["bytes_fetched"] = fetched }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            var text = Self.text(file, path: location)
            if let fetched {
                text += "header only: fetched \(fetched) of \(file.fileSize) bytes (\(String(format: "%.2f", 100 * Double(fetched) / Double(max(file.fileSize, 1))))%)\n"
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

    private static func architecture(_ file: GGUFFile) -> String {
        file.metadata["general.architecture"]?.stringValue ?? "unknown"
    }

    /// Keys shown in their own sections rather than the hyper-parameter list.
    private static func isTokenizerKey(_ key: String) -> Bool { key.hasPrefix("tokenizer.") }

    static func text(_ file: GGUFFile, path: String) -> String {
        let metadata = file.metadata
        let arch = architecture(file)
        var out = "file: \(path)\nformat: GGUF v\(file.version), \(file.tensors.count) tensors, \(metadata.count) metadata keys, alignment \(file.alignment)\n"
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

    static func jsonObject(_ file: GGUFFile, path: String) -> [String: Any] {
        var metadata: [String: Any] = [:]
        for key in file.metadata.keys { metadata[key] = jsonValue(file.metadata[key]!) }
        return [
            "path": path,
            "version": Int(file.version),
            "alignment": file.alignment,
            "architecture": architecture(file),
            "metadata": metadata,
            "tensors": file.tensors.map { tensor in
                ["name": tensor.name, "type": tensor.type.description, "shape": tensor.shape,
                 "bytes": tensor.byteCount, "offset": file.dataSectionOffset + tensor.dataOffset] as [String: Any]
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
