// Ollama's HTTP API on the same server, for the applications that speak it (Open WebUI, editors'
// assistants, LangChain's Ollama integration, the `ollama` Python client): /api/chat and
// /api/generate (newline-delimited JSON while streaming, Ollama's default; one object with
// "stream": false), /api/tags, /api/show and /api/ps describing the one model served, /api/pull with
// the store's download progress, /api/version; routes for what Ember does not do (embeddings,
// creating, copying, deleting or pushing models) answer 501 saying so. Errors are Ollama's
// `{"error": "..."}` with the status the OpenAI routes give.

import EmberEngine
import EmberStore
import EmberTrace
import Foundation
import HTTPTypes
import Hummingbird

extension OpenAIServer {
    /// The Ollama API version whose routes and fields these follow (clients compare it to enable features).
    static let ollamaVersion = "0.12.0"

    func addOllamaRoutes(to router: Router<BasicRequestContext>) {
        router.post("/api/chat") { request, _ in await ollamaGenerate(request, kind: .chat) }
        router.post("/api/generate") { request, _ in await ollamaGenerate(request, kind: .generate) }
        router.get("/api/tags") { _, _ in json(["models": [modelEntry(running: false)]]) }
        router.get("/api/ps") { _, _ in json(["models": [modelEntry(running: true)]]) }
        router.post("/api/show") { request, _ in await ollamaShow(request) }
        router.post("/api/pull") { request, _ in await ollamaPull(request) }
        router.get("/api/version") { _, _ in json(["version": .string(Self.ollamaVersion)]) }
        router.head("/api/version") { _, _ in Response(status: .ok) }
        let unsupported: [(String, String)] = [
            ("/api/embed", "this model gives no embeddings (Ember serves generative models only)"),
            ("/api/embeddings", "this model gives no embeddings (Ember serves generative models only)"),
            ("/api/create", "Ember does not create models: point `ember serve -m` at a GGUF file or a checkpoint"),
            ("/api/copy", "Ember does not copy models: `ember serve --alias NAME` serves the model under another name"),
            ("/api/push", "Ember does not push models"),
        ]
        for (path, reason) in unsupported {
            router.post(RouterPath(path)) { _, _ in APIError.notImplemented(reason).ollamaResponse }
        }
        router.delete("/api/delete") { _, _ in APIError.notImplemented("Ember does not delete models over HTTP: use `ember rm MODEL`").ollamaResponse }
    }

    // MARK: Generation

    private func ollamaGenerate(_ request: Request, kind: OllamaJob.Kind) async -> Response {
        let start = ContinuousClock.now
        return await answering(kind == .chat ? "/api/chat" : "/api/generate", errors: \.ollamaResponse) {
            var request = request
            let body = try await request.collectBody(upTo: Self.bodyLimit)
            let job = try OllamaJob(Array(buffer: body), kind: kind, model: model)
            if job.loadOnly {
                return job.stream ? ndjson([OllamaReply.loaded(job, model: model.name)]) : json(OllamaReply.loaded(job, model: model.name))
            }
            let handle = try submit(job.prompt, job.parameters, timeout: timeout)
            return job.stream ? ollamaStream(job, handle, start: start) : try await ollamaWhole(job, handle, start: start)
        }
    }

    private func ollamaWhole(_ job: OllamaJob, _ handle: Scheduler.Handle, start: ContinuousClock.Instant) async throws -> Response {
        var reply = OllamaReply(job: job, model: model.name)
        for await event in handle.events {
            switch event {
            case let .text(text, _, _): _ = reply.add(text)
            case let .finished(statistics):
                metrics.finished(statistics)
                _ = reply.finish()
                if statistics.stopReason == .timedOut, let timeout { throw APIError.timeout(timeout.seconds, byRequest: false) }
                reply.statistics = statistics
            case let .failed(error): throw APIError.server("\(error)")
            }
        }
        return json(reply.final(whole: true, elapsed: .now - start))
    }

    /// A line of JSON per piece of text, then the last one with the statistics. A client that goes
    /// away cancels the request.
    private func ollamaStream(_ job: OllamaJob, _ handle: Scheduler.Handle, start: ContinuousClock.Instant) -> Response {
        let metrics = metrics, name = model.name
        let body = ResponseBody { writer in
            func send(_ value: JSONValue) async throws { try await writer.write(ByteBuffer(bytes: value.line)) }
            var reply = OllamaReply(job: job, model: name)
            do {
                for await event in handle.events {
                    switch event {
                    case let .text(text, _, _):
                        let content = reply.add(text)
                        if !content.isEmpty { try await send(reply.chunk(content)) }
                    case let .finished(statistics):
                        metrics.finished(statistics)
                        let rest = reply.finish()
                        let calls = reply.calls
                        if !rest.isEmpty || !calls.isEmpty { try await send(reply.chunk(rest, calls: calls)) }
                        reply.statistics = statistics
                        try await send(reply.final(whole: false, elapsed: .now - start))
                    case let .failed(error):
                        try await send(["error": .string("\(error)")])
                    }
                }
                try await writer.finish(nil)
            } catch {
                handle.cancel()
                throw error
            }
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

    // MARK: The model

    /// The served model as /api/tags (and, `running`, /api/ps) lists it.
    private func modelEntry(running: Bool) -> JSONValue {
        let facts = model.facts
        var entry: [String: JSONValue] = [
            "name": .string(model.name), "model": .string(model.name), "size": .number(Double(facts?.sizeBytes ?? 0)),
            "digest": .string(facts?.digest ?? ""), "details": details,
        ]
        if running {
            // Loaded for as long as the server runs.
            entry["expires_at"] = "2318-08-17T00:00:00Z"
            entry["size_vram"] = 0
            entry["context_length"] = .number(Double(model.scheduler.configuration.contextLength))
        } else {
            entry["modified_at"] = .string(OllamaReply.timestamp(facts?.modifiedAt ?? Date()))
        }
        return .object(entry)
    }

    private var details: JSONValue {
        guard let facts = model.facts else { return ["format": "gguf", "family": "", "families": [], "parameter_size": "", "quantization_level": ""] }
        return ["parent_model": "", "format": .string(facts.format), "family": .string(facts.family), "families": [.string(facts.family)],
                "parameter_size": .string(facts.parameterSize), "quantization_level": .string(facts.quantization)]
    }

    private func ollamaShow(_ request: Request) async -> Response {
        await answering("/api/show", errors: \.ollamaResponse) {
            var request = request
            let body = try await request.collectBody(upTo: Self.bodyLimit)
            let fields = try RequestFields(Array(buffer: body), known: ["model", "name", "verbose"])
            try OllamaJob.checkModel(fields.string("model") ?? fields.string("name"), served: model)
            let recommended = model.samplingDefaults
            var lines: [String] = []
            if let value = recommended.temperature { lines.append("temperature \(value)") }
            if let value = recommended.topK { lines.append("top_k \(value)") }
            if let value = recommended.topP { lines.append("top_p \(value)") }
            if let value = recommended.minP { lines.append("min_p \(value)") }
            // Every model takes tools: a template that renders none gets them described (ToolCallFormat).
            let capabilities: [JSONValue] = ["completion", "tools"]
            return json([
                "modelfile": .string("# Served by Ember\nFROM \(model.name)\n"), "parameters": .string(lines.joined(separator: "\n")),
                "template": .string(model.template.source), "details": details, "model_info": .object(model.facts?.info ?? [:]),
                "capabilities": .array(capabilities),
                "modified_at": .string(OllamaReply.timestamp(model.facts?.modifiedAt ?? Date())),
            ])
        }
    }

    // MARK: Pull

    /// Fetches a model into Ember's store (it does not change the model served), streaming Ollama's
    /// progress lines: the manifest, each file's bytes, then success.
    private func ollamaPull(_ request: Request) async -> Response {
        await answering("/api/pull", errors: \.ollamaResponse) {
            var request = request
            let body = try await request.collectBody(upTo: Self.bodyLimit)
            let fields = try RequestFields(Array(buffer: body), known: ["model", "name", "insecure", "stream"])
            guard let name = try fields.string("model") ?? fields.string("name"), !name.isEmpty else {
                throw APIError.badRequest("'model' is required", param: "model")
            }
            guard var store else { throw APIError.notImplemented("this server has no model store to pull into") }
            let reference = name.hasSuffix(":latest") ? String(name.dropLast(7)) : name
            let stream = try fields.bool("stream") ?? true
            let (lines, continuation) = AsyncStream<JSONValue>.makeStream()
            store.progress = ProgressStyle.report { file, done, total in
                continuation.yield(["status": .string("pulling \(file)"), "digest": .string(file), "total": .number(Double(total)),
                                    "completed": .number(Double(done))])
            }
            let pull = Task { [store] in
                continuation.yield(["status": "pulling manifest"])
                do {
                    _ = try await store.pull(reference)
                    continuation.yield(["status": "verifying sha256 digest"])
                    continuation.yield(["status": "writing manifest"])
                    continuation.yield(["status": "success"])
                } catch {
                    continuation.yield(["error": .string("\(error)")])
                }
                continuation.finish()
            }
            guard stream else {
                var last: JSONValue = ["status": "success"]
                for await line in lines { last = line }
                if case let .object(fields) = last, case let .string(message)? = fields["error"] { throw APIError.pullFailed(message) }
                return json(last)
            }
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
                do {
                    for await line in lines { try await writer.write(ByteBuffer(bytes: line.line)) }
                    try await writer.finish(nil)
                } catch {
                    pull.cancel()
                    throw error
                }
            })
        }
    }

    func ndjson(_ lines: [JSONValue]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/x-ndjson"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: lines.flatMap(\.line))))
    }
}

extension JSONValue {
    /// One line of newline-delimited JSON.
    var line: [UInt8] { bytes + [UInt8(ascii: "\n")] }
}

extension APIError {
    static func notImplemented(_ reason: String) -> APIError {
        APIError(status: .notImplemented, message: reason, type: "invalid_request_error", param: nil, code: "not_implemented", retryAfter: nil)
    }

    static func pullFailed(_ reason: String) -> APIError {
        APIError(status: .badGateway, message: reason, type: "server_error", param: nil, code: nil, retryAfter: nil)
    }

    /// The error as Ollama sends it: `{"error": "message"}`.
    var ollamaResponse: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[HTTPField.Name("Retry-After")!] = "\(retryAfter)" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONValue.object(["error": .string(message)]).bytes)))
    }
}
