// The kind of a vocabulary entry as GGUF stores it in `tokenizer.ggml.token_type`.

/// `tokenizer.ggml.token_type` values.
public enum TokenType: Int32, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}
