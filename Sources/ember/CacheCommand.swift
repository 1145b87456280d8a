// `ember cache prune --max-size SIZE`: shrink the cache to SIZE by removing the least recently used
// models (and stale unfinished downloads) first.

import ArgumentParser
import EmberStore

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Manage the model cache.",
        subcommands: [PruneCommand.self])

    struct PruneCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Remove the least recently used models until the cache fits in a size.")

        @Option(name: .customLong("max-size"), help: "The most the cache may hold: bytes, or a number with K, M, G or T (powers of 1000; KiB, MiB, GiB, TiB: 1024).",
                transform: CacheCommand.byteCount)
        var maxSize: Int

        @OptionGroup var global: GlobalOptions

        func run() throws {
            try global.apply(command: "cache prune")
            let cache = ModelStore.standard().cache
            let removed = try cache.prune(maxBytes: maxSize)
            for source in removed { print("removed \(source)") }
            let left = cache.contents()
            let bytes = left.entries.reduce(0) { $0 + $1.size } + left.partial.reduce(0) { $0 + $1.bytesOnDisk }
            print("cache: \(left.entries.count) models, \(ListCommand.megabytes(bytes))")
        }
    }

    /// "500M", "2G", "1.5GiB", "0", "123456" to bytes.
    static func byteCount(_ text: String) throws -> Int {
        let units: [(suffix: String, factor: Double)] = [
            ("TiB", 1_099_511_627_776), ("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024),
            ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3), ("B", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let unit = units.first { trimmed.uppercased().hasSuffix($0.suffix.uppercased()) }
        let number = unit.map { String(trimmed.dropLast($0.suffix.count)) } ?? trimmed
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value >= 0,
              case let bytes = value * (unit?.factor ?? 1), bytes < 0x1p62 else {
            throw ValidationError("--max-size must be a size such as 500M, 2G or 0 (below 4 EB), not \(text)")
        }
        return Int(bytes)
    }
}
