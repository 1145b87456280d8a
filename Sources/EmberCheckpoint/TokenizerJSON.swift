// The parts of a `tokenizers` tokenizer.json (and of tokenizer_config.json) that say how text becomes
// ids: the BPE model (vocabulary, merges, byte fallback), added tokens, the normalizer, the
// pre-tokenizer and the post-processor that adds BOS/EOS.

import Foundation

struct TokenizerJSON: Decodable {
    struct Model: Decodable {
        var type: String?
        var merges: Merges?
        var byte_fallback: Bool?
        var ignore_merges: Bool?
        var unk_token: String?
    }

    /// Merges as "left right" strings, whichever of the two forms the file uses.
    struct Merges: Decodable {
        var pairs: [String]

        init(pairs: [String]) { self.pairs = pairs }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let strings = try? container.decode([String].self) {
                pairs = strings
            } else {
                pairs = try container.decode([[String]].self).map { pair in
                    guard pair.count == 2 else {
                        throw DecodingError.dataCorruptedError(in: container, debugDescription: "a merge is not a pair: \(pair)")
                    }
                    return pair[0] + " " + pair[1]
                }
            }
        }
    }

    struct AddedToken: Decodable {
        var id: Int
        var content: String
        var special: Bool?
    }

    /// A regex or a literal string (`{"Regex": ...}` or `{"String": ...}`).
    struct Pattern: Decodable {
        var regex: String?
        var string: String?

        enum CodingKeys: String, CodingKey {
            case regex = "Regex", string = "String"
        }
    }

    /// A normalizer, pre-tokenizer or post-processor: its type and the fields those types have.
    final class Component: Decodable {
        var type: String?
        var pattern: Pattern?
        var content: String?
        var prepend: String?
        var replacement: String?
        var prepend_scheme: String?
        var add_prefix_space: Bool?
        var individual_digits: Bool?
        var use_regex: Bool?
        var behavior: String?
        var invert: Bool?
        var pretokenizers: [Component]?
        var normalizers: [Component]?
        var processors: [Component]?
        var single: [TemplatePiece]?

        /// This component and, for a sequence, its members, flattened in order.
        var flattened: [Component] {
            [self] + (pretokenizers ?? []).flatMap(\.flattened) + (normalizers ?? []).flatMap(\.flattened)
                + (processors ?? []).flatMap(\.flattened)
        }
    }

    /// An item of TemplateProcessing's `single`: a special token or the sequence.
    struct TemplatePiece: Decodable {
        struct Special: Decodable { var id: String }
        var SpecialToken: Special?
    }

    var model: Model
    var added_tokens: [AddedToken]?
    var normalizer: Component?
    var pre_tokenizer: Component?
    var post_processor: Component?
    /// `model.vocab`, every entry (read by TokenizerJSONScanner: a [String: Int] would merge texts
    /// that are canonically equivalent but distinct tokens).
    var vocab: [(text: String, id: Int)] = []

    enum CodingKeys: String, CodingKey {
        case model, added_tokens, normalizer, pre_tokenizer, post_processor
    }

    /// The file at `path`: its vocabulary and merges by TokenizerJSONScanner, the rest by JSONDecoder.
    static func read(path: String) throws(CheckpointError) -> TokenizerJSON {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        let scanner: TokenizerJSONScanner
        do { scanner = try TokenizerJSONScanner(bytes) } catch { throw .invalidJSON(path: path, reason: error.description) }
        var json: TokenizerJSON
        do { json = try JSONDecoder().decode(TokenizerJSON.self, from: Data(scanner.rest)) } catch {
            throw .invalidJSON(path: path, reason: CheckpointJSON.describe(error))
        }
        json.vocab = scanner.vocab ?? []
        if let merges = scanner.merges { json.model.merges = Merges(pairs: merges) }
        return json
    }
}

/// tokenizer_config.json: special tokens, BOS/EOS flags and the chat template.
struct TokenizerConfigJSON: Decodable {
    /// A token given as its text or as an added-token object.
    struct TokenText: Decodable {
        var text: String?

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { text = nil } else if let plain = try? container.decode(String.self) { text = plain } else {
                struct Object: Decodable { var content: String }
                text = try container.decode(Object.self).content
            }
        }
    }

    /// One template, or named ones (`default`, `tool_use`, ...).
    struct ChatTemplates: Decodable {
        var byName: [String: String]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                byName = ["default": one]
            } else {
                struct Named: Decodable { var name: String; var template: String }
                byName = Dictionary(try container.decode([Named].self).map { ($0.name, $0.template) }, uniquingKeysWith: { a, _ in a })
            }
        }
    }

    var bos_token: TokenText?
    var eos_token: TokenText?
    var unk_token: TokenText?
    var pad_token: TokenText?
    var add_bos_token: Bool?
    var add_eos_token: Bool?
    var chat_template: ChatTemplates?
}
