// `ember serve --gpu` over HTTP: requests sent at once to a server on the GPU get the text each gets
// alone. A tiny model (Tests/EmberModelTests/Fixtures), so that the steps take milliseconds on
// lavapipe; greedy and seeded sampling.

import EmberTestSupport
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite(.enabled(if: usableVulkanDevice || requireVulkan))
struct GPUServeTests {
    @Test func realModelConcurrentRequestsOnTheGPUGetWhatTheyGetAlone() async throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmberModelTests/Fixtures/tiny_llama.json")
        let model = try GGUFJSON.modelFile(json: fixture)
        defer { try? FileManager.default.removeItem(atPath: model) }
        let server = Process(), errors = Pipe()
        server.executableURL = EmberProcess.executable
        server.arguments = ["serve", "--gpu", "-m", model, "--port", "0", "--parallel", "3", "-c", "128"]
        server.standardError = errors
        try server.run()
        defer { server.terminate() }
        // Warnings (no chat template) may come before the line with the address.
        var banner = "", port: String?
        while port == nil, let byte = try errors.fileHandleForReading.read(upToCount: 1), !byte.isEmpty {
            banner += String(decoding: byte, as: UTF8.self)
            if byte == Data("\n".utf8) { port = banner.firstMatch(of: /127\.0\.0\.1:(\d+)/).map { String($0.1) } }
        }
        let address = try #require(port, "ember serve: \(banner)")

        func complete(_ index: Int) async throws -> String {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(address)/v1/completions")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            let body: [String: Any] = ["prompt": ["The quick brown fox", "Once upon a time", "1, 2, 3,", "Hello world", "A B C"][index],
                                       "max_tokens": 12, "temperature": index % 2 == 0 ? 0 : 0.9, "seed": 40 + index]
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            let (data, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: data, as: UTF8.self))")
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let choices = try #require(object["choices"] as? [[String: Any]])
            return try #require(choices.first?["text"] as? String)
        }
        var alone: [String] = []
        for index in 0 ..< 5 { alone.append(try await complete(index)) }
        let together = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0 ..< 5 { group.addTask { (index, try await complete(index)) } }
            var texts = [String](repeating: "", count: 5)
            for try await (index, text) in group { texts[index] = text }
            return texts
        }
        for index in 0 ..< 5 { #expect(!alone[index].isEmpty && together[index] == alone[index], "request \(index)") }
    }
}
