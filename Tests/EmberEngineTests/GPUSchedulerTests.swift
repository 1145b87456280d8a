// The batching scheduler on the GPU: several requests at once give each exactly the output it gets
// alone, greedy and seeded sampling, on tiny models (a step takes milliseconds on lavapipe, where the
// default model takes seconds): Llama's layout, and Gemma 3's ring caches of its local layers.

import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberTestSupport
import EmberTokenizer
import EmberVulkan
import Foundation
import Testing

@Suite(.enabled(if: usableVulkanDevice || requireVulkan), .serialized)
struct GPUSchedulerTests {
    static let prompts = ["The quick brown fox", "Once upon a time there was", "1, 2, 3,", "Hello world", "A B C D E"]

    @Test(arguments: ["llama", "gemma3"])
    func outputUnderLoadEqualsOutputAlone(model name: String) async throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberModelTests/Fixtures/tiny_\(name).json")
        let path = try GGUFJSON.modelFile(json: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        let tokenizer = try Tokenizer(metadata: file.metadata)
        let model = try ModelLoader.load(file, backend: try VulkanBackend(threadCount: 2), promptChunkTokens: 4)
        func parameters(_ index: Int) -> GenerationParameters {
            var sampling = SamplingParameters()
            sampling.temperature = index % 2 == 1 ? 0.9 : 0
            sampling.seed = UInt64(7 + index)
            var parameters = GenerationParameters(maxTokens: 20, sampling: sampling)
            parameters.ignoresEndOfGeneration = true
            return parameters
        }
        var alone: [String] = []
        for (index, prompt) in Self.prompts.enumerated() {
            let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 64)
            var text = ""
            _ = try generator.generate(prompt: tokenizer.encode(prompt), parameters: parameters(index)) { text += $0 }
            alone.append(text)
        }
        // Five requests on three slots: two wait, then join while the others generate.
        let scheduler = Scheduler(model: model, tokenizer: tokenizer, configuration: .init(parallel: 3, contextLength: 64))
        defer { scheduler.shutdown() }
        let handles = try Self.prompts.enumerated().map { index, prompt in
            try scheduler.submit(prompt: tokenizer.encode(prompt), parameters: parameters(index))
        }
        for (index, handle) in handles.enumerated() {
            var text = ""
            for await event in handle.events {
                if case let .text(piece, _, _) = event { text += piece }
                if case let .failed(error) = event { Issue.record("request \(index): \(error)") }
            }
            #expect(!alone[index].isEmpty && text == alone[index], "request \(index)")
        }
    }
}
