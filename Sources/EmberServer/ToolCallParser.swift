// A reply read as it streams, its tool calls taken out of its text: the text around them is
// content; each call is announced (id and function name) as soon as its name is read and its
// arguments follow piece by piece, as OpenAI streams them. Text that may be the start of a call's
// opening tag is held back until the next piece tells. A call that does not parse stays text.

import EmberGrammar
import Foundation

/// One step of a call in a streamed reply: the first gives its id and name, later ones arguments.
struct ToolCallDelta: Equatable {
    let index: Int
    var id: String?
    var name: String?
    var arguments: String
}

/// What a piece of the reply adds: text, and steps of tool calls.
struct ParsedPiece: Equatable {
    var content = ""
    var calls: [ToolCallDelta] = []

    var isEmpty: Bool { content.isEmpty && calls.isEmpty }
}

struct ToolCallParser {
    struct Call: Equatable {
        let id: String
        let name: String
        var arguments: String
    }

    let format: ToolCallFormat
    /// The calls read so far (the last one may still be open).
    private(set) var calls: [Call] = []
    /// Text not given out yet: a possible opening tag, or the open call's text.
    private var pending = ""
    private var inCall = false
    /// How much of the open call's arguments has been given out, in UTF-8 bytes; nil before its name.
    private var streamed: Int?
    /// Llama's format: whether the reply began as text (then it is all text).
    private var isText = false
    /// Whether a call just closed: the space that follows it is not content.
    private var afterCall = false
    private let makeID: () -> String

    init(format: ToolCallFormat, makeID: @escaping () -> String = ToolCallParser.newID) {
        self.format = format
        self.makeID = makeID
    }

    static func newID() -> String {
        "call_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }

    mutating func add(_ text: String) -> ParsedPiece {
        pending += text
        var piece = ParsedPiece()
        while inCall ? readCall(into: &piece) : readText(into: &piece) {}
        return piece
    }

    /// The end of the reply: held-back text is text; an open call is finished if it has a name and
    /// arguments (a model may stop without the closing tag), and is text otherwise.
    mutating func finish() -> ParsedPiece {
        var piece = ParsedPiece()
        if inCall { close(body: pending, closing: "", into: &piece) } else if !afterCall { piece.content += pending }
        pending = ""
        inCall = false
        return piece
    }

    /// Gives out the text before a call; true when a call opened.
    private mutating func readText(into piece: inout ParsedPiece) -> Bool {
        if afterCall {
            pending = String(pending.drop { $0.isWhitespace })
            if pending.isEmpty { return false }
            afterCall = false
        }
        if let (open, _) = format.tags {
            if let found = pending.range(of: open) {
                piece.content += pending[..<found.lowerBound]
                pending = String(pending[found.upperBound...])
                inCall = true
                return true
            }
            let kept = Self.heldBack(pending, before: open)
            piece.content += pending.dropLast(kept)
            pending = String(pending.suffix(kept))
            return false
        }
        // Llama: calls are the whole reply, objects separated by space or ';'; anything else is text,
        // and so is all that follows it.
        if isText {
            piece.content += pending
            pending = ""
            return false
        }
        let start = pending.drop { $0.isWhitespace || $0 == ";" }
        guard let first = start.first else { return false }
        if first == "{" {
            pending = String(start)
            inCall = true
            return true
        }
        piece.content += calls.isEmpty ? pending : String(start)
        pending = ""
        isText = true
        return false
    }

    /// Reads the open call; true when it closed.
    private mutating func readCall(into piece: inout ParsedPiece) -> Bool {
        let body: Substring, rest: Substring
        var closing = ""
        if let tags = format.tags {
            guard let found = pending.range(of: tags.close) else {
                stream(CallScan(pending), into: &piece)
                return false
            }
            (body, rest) = (pending[..<found.lowerBound], pending[found.upperBound...])
            closing = tags.close
        } else {
            let scan = CallScan(pending)
            guard let end = scan.end else {
                stream(scan, into: &piece)
                return false
            }
            let utf8 = pending.utf8, split = utf8.index(utf8.startIndex, offsetBy: end)
            (body, rest) = (pending[..<split], pending[split...])
        }
        afterCall = close(body: String(body), closing: closing, into: &piece)
        pending = String(rest)
        inCall = false
        return true
    }

    /// Announces the open call once its name is read, then gives out its arguments as they come.
    private mutating func stream(_ scan: CallScan, into piece: inout ParsedPiece) {
        guard let name = scan.name, let arguments = scan.arguments, !scan.argumentsAreText else { return }
        if streamed == nil {
            calls.append(Call(id: makeID(), name: name, arguments: ""))
            piece.calls.append(ToolCallDelta(index: calls.count - 1, id: calls[calls.count - 1].id, name: name, arguments: ""))
            streamed = 0
        }
        emit(scan.bytes[arguments], into: &piece)
    }

    private mutating func emit(_ arguments: ArraySlice<UInt8>, into piece: inout ParsedPiece) {
        let sent = streamed ?? 0
        guard arguments.count > sent else { return }
        let more = String(decoding: arguments.dropFirst(sent), as: UTF8.self)
        calls[calls.count - 1].arguments += more
        streamed = arguments.count
        if let last = piece.calls.last, last.index == calls.count - 1 {
            piece.calls[piece.calls.count - 1].arguments += more
        } else {
            piece.calls.append(ToolCallDelta(index: calls.count - 1, arguments: more))
        }
    }

    /// Ends the open call with its whole text (and the tag that closed it): the rest of its arguments,
    /// or, when it never got a name and arguments, its text given back as content. True when it was a call.
    @discardableResult
    private mutating func close(body: String, closing: String, into piece: inout ParsedPiece) -> Bool {
        defer { streamed = nil }
        let scan = CallScan(body)
        if streamed != nil {
            if let arguments = scan.arguments { emit(scan.bytes[arguments], into: &piece) }
            return true
        }
        guard let name = scan.name, let arguments = scan.arguments, scan.end != nil else {
            piece.content += (format.tags?.open ?? "") + body + closing
            return false
        }
        var text = String(decoding: scan.bytes[arguments], as: UTF8.self)
        if scan.argumentsAreText, case let .string(decoded)? = try? SchemaJSON.parse(text) { text = decoded }
        calls.append(Call(id: makeID(), name: name, arguments: text))
        piece.calls.append(ToolCallDelta(index: calls.count - 1, id: calls[calls.count - 1].id, name: name, arguments: text))
        return true
    }

    /// How many characters at the end of `text` could begin `tag`.
    static func heldBack(_ text: String, before tag: String) -> Int {
        for length in stride(from: min(tag.count - 1, text.count), to: 0, by: -1) where tag.hasPrefix(text.suffix(length)) {
            return length
        }
        return 0
    }
}

/// A call's JSON object read as far as it goes: its function name once the whole name is read, where
/// its arguments' value lies (up to the end of the text while it is still open), and where the object
/// ends. Arguments may come as `arguments` or `parameters`, as an object or as JSON text in a string.
struct CallScan {
    let bytes: [UInt8]
    private(set) var name: String?
    private(set) var arguments: Range<Int>?
    private(set) var argumentsAreText = false
    /// Just past the object's closing brace, once read.
    private(set) var end: Int?

    init(_ text: some StringProtocol) {
        bytes = Array(text.utf8)
        read()
    }

    private mutating func read() {
        var at = skipSpace(0)
        guard at < bytes.count, bytes[at] == UInt8(ascii: "{") else { return }
        at += 1
        while true {
            at = skipSpace(at)
            guard at < bytes.count else { return }
            switch bytes[at] {
            case UInt8(ascii: "}"):
                end = at + 1
                return
            case UInt8(ascii: ","):
                at += 1
                continue
            case UInt8(ascii: "\""): break
            default: return
            }
            guard let keyEnd = valueEnd(at) else { return }
            let key = Self.string(bytes[at ..< keyEnd])
            at = skipSpace(keyEnd)
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { return }
            at = skipSpace(at + 1)
            guard at < bytes.count else { return }
            let valueEnd = valueEnd(at)
            if key == "name", let valueEnd { name = Self.string(bytes[at ..< valueEnd]) }
            if key == "arguments" || key == "parameters" {
                arguments = at ..< (valueEnd ?? bytes.count)
                argumentsAreText = bytes[at] == UInt8(ascii: "\"")
            }
            guard let valueEnd else { return }
            at = valueEnd
        }
    }

    private func skipSpace(_ start: Int) -> Int {
        var at = start
        while at < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[at]) { at += 1 }
        return at
    }

    /// Just past the JSON value that starts at `start`, or nil when the text ends inside it.
    private func valueEnd(_ start: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for at in start ..< bytes.count {
            let byte = bytes[at]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return at + 1 }
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return at + 1 }
                if depth < 0 { return at }
            case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                if depth == 0 { return at }
            default: break
            }
        }
        return nil
    }

    /// A JSON string's value; nil when the text is not one.
    private static func string(_ bytes: ArraySlice<UInt8>) -> String? {
        guard case let .string(value)? = try? SchemaJSON.parse(String(decoding: bytes, as: UTF8.self)) else { return nil }
        return value
    }
}
