// `ember list`: the models in the cache (name, size, last used, source), most recently used first,
// and any downloads that have not finished.

import ArgumentParser
import EmberStore
import Foundation

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the cached models.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply(command: "list")
        let cache = ModelStore.standard().cache
        let (entries, partial) = cache.contents()
        if json {
            let object: [String: Any] = [
                "cache": cache.root.path,
                "models": entries.map { entry in
                    ["name": entry.file, "path": entry.path ?? "", "bytes": entry.size, "source": entry.source,
                     "last_used": ISO8601DateFormatter().string(from: entry.lastUsed), "sha256": entry.sha256 ?? NSNull()] as [String: Any]
                },
                "partial": partial.map { ["name": $0.file, "source": $0.source, "bytes": $0.size, "bytes_done": $0.bytesDone] as [String: Any] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        guard !entries.isEmpty || !partial.isEmpty else {
            print("no models cached in \(cache.root.path)")
            return
        }
        let rows = entries.map { [$0.file, Self.megabytes($0.size), Self.date($0.lastUsed), $0.source] }
        print(Self.table(header: ["NAME", "SIZE", "LAST USED", "SOURCE"], rows: rows), terminator: "")
        if !partial.isEmpty {
            print("\nunfinished downloads (`ember pull SOURCE` resumes them):")
            for download in partial {
                print("  \(download.file)  \(Self.megabytes(download.bytesDone)) of \(Self.megabytes(download.size))  \(download.source)")
            }
        }
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    static func table(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
        return ([header] + rows).map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces) + "\n"
        }.joined()
    }
}
