// The reader on the real default model (SmolLM2-135M Q4_1, fetched on first use), and its robustness
// on that file cut short at 50 points and with header bytes mutated 500 times: every attempt must give
// a clear GGUFError or a valid parse, never a crash or a hang.

import EmberFormats
import EmberTestSupport
import EmberStore
import Foundation
import Testing

@Suite(.serialized) struct RealModelTests {
    static let modelPath = Result { try ModelStore.standard().resolve("smollm2") }

    @Test func parsesTheDefaultModel() throws {
        let file = try GGUFFile(path: try Self.modelPath.get())
        #expect(file.version == 3)
        #expect(file.tensors.count == 272)
        #expect(try file.metadata.string("general.architecture") == "llama")
        #expect(try file.metadata.int("llama.block_count") == 30)
        #expect(try file.metadata.array("tokenizer.ggml.tokens").count == 49152)
        let embedding = try #require(file.tensorInfo(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0 && embedding.shape == [576, 49152])
        #expect(file.tensorInfo(named: "blk.29.ffn_down.weight")?.type == .q4_1)
        // Zero-copy: the view points into the mapping itself.
        let view = file.view(embedding)
        let mapping = file.file.bytes
        #expect(view.base >= mapping.baseAddress! && view.base + view.bytes.count <= mapping.baseAddress! + mapping.count)
        #expect(view.bytes.count == 49152 * 576 / 32 * 34)
    }

    @Test(.timeLimit(.minutes(3))) func truncatedAtFiftyPoints() throws {
        let source = try Self.modelPath.get()
        let original = try Data(contentsOf: URL(fileURLWithPath: source), options: .alwaysMapped)
        let header = try GGUFFile(path: source).dataSectionOffset
        // 40 cuts inside the header (where parsing decisions happen), 10 inside the tensor data.
        var random = SystemRandomNumberGenerator()
        let cuts = (0 ..< 40).map { _ in Int.random(in: 0 ..< header, using: &random) }
            + (0 ..< 10).map { _ in Int.random(in: header ..< original.count, using: &random) }
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        for cut in cuts {
            try original.prefix(cut).write(to: URL(fileURLWithPath: path))
            do {
                _ = try GGUFFile(path: path)
                Issue.record("a file cut at \(cut) of \(original.count) bytes parsed")
            } catch {
                switch error {
                case .truncated, .tensorOutOfBounds, .lengthTooLarge: break
                default: Issue.record("cut at \(cut): unexpected \(error)")
                }
            }
        }
    }

    @Test func headerScanAgreesWithParsingAtEveryCut() throws {
        let source = try Self.modelPath.get()
        let file = try GGUFFile(path: source)
        let bytes = file.file.bytes
        let whole = GGUFHeaderScan(bytes, fileSize: bytes.count)
        guard case let .whole(length) = whole else { Issue.record("scan: \(whole)"); return }
        // The header ends with the tensor infos, before the data section's alignment padding.
        #expect(length <= file.dataSectionOffset && length > file.dataSectionOffset - file.alignment)
        var random = SeededGenerator(seed: 0x5CA7)
        for cut in (0 ..< 40).map({ _ in Int.random(in: 0 ..< length, using: &random) }) + [length - 1] {
            let prefix = UnsafeRawBufferPointer(rebasing: bytes[0 ..< cut])
            #expect(GGUFHeaderScan(prefix, fileSize: bytes.count) == .partial, "cut at \(cut)")
            #expect(throws: GGUFError.self) { try GGUFFile(prefix: MappedFile(copying: prefix, path: "prefix"), fileSize: bytes.count) }
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[0 ..< length])
        #expect(GGUFHeaderScan(header, fileSize: bytes.count) == .whole(length: length))
        #expect(try GGUFFile(prefix: MappedFile(copying: header, path: "header"), fileSize: bytes.count).tensorRanges == file.tensorRanges)
        var garbage = [UInt8](header)
        garbage[0] = 0
        #expect(garbage.withUnsafeBytes { GGUFHeaderScan($0, fileSize: bytes.count) } == .malformed)
    }

    @Test(.timeLimit(.minutes(5))) func mutatedHeaderFiveHundredTimes() throws {
        let source = try Self.modelPath.get()
        let original = try Data(contentsOf: URL(fileURLWithPath: source), options: .alwaysMapped)
        let parsed = try GGUFFile(path: source)
        let headerEnd = parsed.dataSectionOffset
        let infoStart = headerEnd - parsed.tensors.reduce(0) { $0 + 8 + $1.name.utf8.count + 4 + 8 * $1.shape.count + 4 + 8 } - 32
        let header = [UInt8](original.prefix(headerEnd))
        var random = SeededGenerator(seed: 0xE3BE4)
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var outcomes: [String: Int] = [:]
        for round in 0 ..< 500 {
            var mutated = header
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &random) {
                // Aim half of the mutations at the structural parts: counts, the first keys, tensor infos.
                let position = switch Int.random(in: 0 ..< 4, using: &random) {
                case 0: Int.random(in: 0 ..< 256, using: &random)
                case 1: Int.random(in: max(infoStart, 0) ..< headerEnd, using: &random)
                default: Int.random(in: 0 ..< headerEnd, using: &random)
                }
                mutated[position] = switch Int.random(in: 0 ..< 3, using: &random) {
                case 0: UInt8.random(in: 0 ... 255, using: &random)
                case 1: mutated[position] ^ (1 << UInt8.random(in: 0 ..< 8, using: &random))
                default: 0xFF
                }
            }
            // The data section is a sparse hole of the right size: cheap to write, same layout.
            try Data(mutated).write(to: URL(fileURLWithPath: path))
            #expect(truncate(path, off_t(original.count)) == 0)
            do {
                _ = try GGUFFile(path: path)
                outcomes["parsed", default: 0] += 1
            } catch {
                let kind = "\(error)".prefix(while: { $0 != ":" })
                outcomes[String(kind), default: 0] += 1
                #expect(!error.description.isEmpty, "round \(round)")
            }
        }
        #expect(outcomes.values.reduce(0, +) == 500)
        #expect(outcomes["parsed", default: 0] < 400, "the mutations should mostly break the header: \(outcomes)")
    }

    private func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ember-fuzz-\(UUID().uuidString).gguf").path
    }
}

