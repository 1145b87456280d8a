// `ember trace merge`: joins the JSON-lines fragments of one or more processes into a single
// `{"traceEvents": [...]}` file that Perfetto and chrome://tracing open. A fragment cut short by a
// crash keeps every complete line: a last line without its newline, or any line that is not one whole
// JSON object as the recorder writes them, is dropped and counted. The output is written to a
// temporary file and renamed into place.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

public struct MergeReport: Sendable, Equatable {
    public var fragments: Int
    public var events: Int
    /// Truncated or malformed lines left out.
    public var droppedLines: Int

    public init(fragments: Int = 0, events: Int = 0, droppedLines: Int = 0) {
        self.fragments = fragments
        self.events = events
        self.droppedLines = droppedLines
    }
}

public enum TraceMerge {
    /// The fragments named by `path`: the `*.jsonl` files of a directory, or the file itself.
    public static func fragments(at path: String) throws(TraceError) -> [String] {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard (status.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw .cannotRead(path: path, reason: "\(error)")
        }
        let fragments = names.filter { $0.hasSuffix(".jsonl") }.sorted().map { "\(path)/\($0)" }
        guard !fragments.isEmpty else { throw .noFragments(path: path) }
        return fragments
    }

    /// Merges the fragments `inputs` (files or directories) into the trace-event file `output`.
    @discardableResult
    public static func merge(inputs: [String], output: String) throws(TraceError) -> MergeReport {
        var report = MergeReport()
        var merged: [UInt8] = Array("{\"traceEvents\":[\n".utf8)
        for input in inputs {
            for fragment in try fragments(at: input) {
                report.fragments += 1
                for line in try lines(of: fragment, dropped: &report.droppedLines) {
                    if report.events > 0 { merged += Array(",\n".utf8) }
                    merged += line
                    report.events += 1
                }
            }
        }
        merged += Array("\n]}\n".utf8)
        try writeAtomically(merged, to: output)
        return report
    }

    /// The complete, well-formed event lines of one fragment.
    private static func lines(of path: String, dropped: inout Int) throws(TraceError) -> [ArraySlice<UInt8>] {
        let bytes: [UInt8]
        do { bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw .cannotRead(path: path, reason: "\(error)")
        }
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            let line = bytes[start ..< index]
            start = index + 1
            if line.isEmpty { continue }
            if isWholeEvent(line) {
                result.append(line)
            } else {
                dropped += 1
            }
        }
        if start < bytes.count { dropped += 1 }  // the last line never got its newline
        return result
    }

    /// Whether `line` is one JSON object as the recorder writes them: it opens with the event's name,
    /// its strings end, and its braces and brackets close exactly at its last byte. (A full JSON parse
    /// of every line made merging slower than the traced run.)
    static func isWholeEvent(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.starts(with: "{\"name\":\"".utf8) else { return false }
        var depth = 0, inString = false, escaped = false
        for (offset, byte) in line.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 { return offset == line.count - 1 }
            default: break
            }
        }
        return false
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(TraceError) {
        let temporary = "\(path).tmp-\(getpid())"
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        } catch {
            unlink(temporary)
            throw .cannotWrite(path: path, reason: "\(error)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .cannotWrite(path: path, reason: reason)
        }
    }
}

/// The fields every trace event has, and the timing of spans; `args` are not needed to merge or sum.
struct TraceEvent: Decodable {
    let name: String
    let ph: String
    let pid: Int
    let tid: Int
    let ts: Double?
    let dur: Double?
    let cat: String?
    /// The arguments that are numbers or strings.
    let args: Arguments?

    private enum Keys: String, CodingKey { case name, ph, pid, tid, ts, dur, cat, args }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        name = try container.decode(String.self, forKey: .name)
        ph = try container.decode(String.self, forKey: .ph)
        pid = try container.decode(Int.self, forKey: .pid)
        tid = try container.decode(Int.self, forKey: .tid)
        ts = try container.decodeIfPresent(Double.self, forKey: .ts)
        dur = try container.decodeIfPresent(Double.self, forKey: .dur)
        cat = try container.decodeIfPresent(String.self, forKey: .cat)
        args = try? container.decodeIfPresent(Arguments.self, forKey: .args)
    }

    /// An `args` object's numbers and strings.
    struct Arguments: Decodable {
        var numbers: [String: Double] = [:]
        var texts: [String: String] = [:]

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if let number = try? container.decode(Double.self, forKey: key) {
                    numbers[key.stringValue] = number
                } else if let text = try? container.decode(String.self, forKey: key) {
                    texts[key.stringValue] = text
                }
            }
        }
    }
}
