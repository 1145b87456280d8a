// Failures of a generation request, naming the limit that was hit and what to change.

import EmberFormats
import EmberJinja
import EmberModel

public enum EngineError: Error, Equatable, CustomStringConvertible {
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case model(ModelError)
    /// The model's own chat template does not parse.
    case invalidChatTemplate(JinjaError)
    /// The device asked for cannot run the model (no Vulkan, no such GPU, a GPU that lacks a feature).
    case device(String)
    /// `--quantize` given for a model that is not a checkpoint (a GGUF file keeps its own types).
    case quantizeNeedsCheckpoint(TensorType)
    /// `--draft-model` names a model whose vocabulary is not the target's.
    case draftVocabularyMismatch(draft: Int, target: Int, firstDifference: Int)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt is empty: give some text with -p or -f"
        case let .promptTooLong(tokens, context):
            "the prompt is \(tokens) tokens but the context holds \(context): shorten the prompt or raise -c"
        case let .model(error):
            "\(error)"
        case let .invalidChatTemplate(error):
            "the model's chat template does not parse: \(error)"
        case let .device(why):
            why
        case let .quantizeNeedsCheckpoint(type):
            "--quantize \(type) applies to Hugging Face checkpoints (a directory or hf:OWNER/REPO); a GGUF file keeps its own types"
        case let .draftVocabularyMismatch(draft, target, difference):
            "the draft model's vocabulary (\(draft) tokens) is not the target's (\(target) tokens; they differ from token \(difference)): "
                + "a draft model must share the target's tokenizer"
        }
    }
}
