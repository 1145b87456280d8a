// The HTTP server on Hummingbird. Its OpenAI-compatible API is here: chat and text completions,
// whole or streamed as server-sent events, the model list, health and Prometheus metrics; Ollama's
// API (OllamaAPI.swift) and the chat page at `/` (ChatPage.swift) share the model and its
// scheduler. An API key, when one is set, guards both APIs.
// Every request goes to the model's scheduler, which batches it with the others.

import EmberEngine
import EmberStore
import EmberTrace
import Foundation
import Hummingbird
import Logging

public struct OpenAIServer: Sendable {
    public let model: ServedModel
    /// Required as `Authorization: Bearer KEY` on the API routes when set.
    public let apiKey: String?
    /// The longest a request may take.
    public let timeout: Duration?
    /// Where Ollama's /api/pull fetches models to (nil: it answers 501).
    public let store: ModelStore?
    public let metrics = ServerMetrics()
    /// The largest request body read.
    static let bodyLimit = 16 << 20

    public init(model: ServedModel, apiKey: String?, timeout: Duration?, store: ModelStore? = nil) {
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
        self.store = store
    }

    /// Serves on `host:port` until SIGINT or SIGTERM; `onReady` hears the port once it listens.
    public func run(host: String, port: Int, logger: Logger, onReady: @escaping @Sendable (Int) -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "ember"),
                              onServerRunning: { channel in onReady(channel.localAddress?.port ?? port) }, logger: logger)
        try await app.runService()
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: KeyMiddleware(key: apiKey, metrics: metrics))
        router.get("/") { _, _ in chatPageResponse() }
        router.get("/props") { _, _ in json(properties) }
        router.get("/health") { _, _ in model.health }
        router.get("/v1/models") { _, _ in json(model.listing) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.text(model.scheduler.snapshot))))
        }
        router.post("/v1/chat/completions") { request, _ in await complete(request, kind: .chat) }
        router.post("/v1/completions") { request, _ in await complete(request, kind: .text) }
        addOllamaRoutes(to: router)
        return router
    }

    private func complete(_ request: Request, kind: CompletionJob.Kind) async -> Response {
        await answering(kind == .chat ? "/v1/chat/completions" : "/v1/completions", errors: \.response) {
            var request = request
            let body = try await request.collectBody(upTo: Self.bodyLimit)
            let job = try CompletionJob(Array(buffer: body), kind: kind, model: model)
            let handle = try submit(job.prompt, job.parameters, timeout: limit(job).duration)
            return job.stream ? stream(job, handle) : try await whole(job, handle)
        }
    }

    /// The response `answer` makes, or the error it throws as `errors` writes it (OpenAI's object or
    /// Ollama's), counted in the metrics under `route`.
    func answering(_ route: String, errors: (APIError) -> Response, _ answer: () async throws -> Response) async -> Response {
        let response: Response
        do {
            response = try await answer()
        } catch let error as APIError {
            response = errors(error)
        } catch {
            response = errors(.badRequest("Cannot read the request: \(error)"))
        }
        metrics.request(route: route, status: Int(response.status.code))
        return response
    }

    /// The shorter of the request's own time limit and the server's, and whether it is the request's.
    private func limit(_ job: CompletionJob) -> (duration: Duration?, byRequest: Bool) {
        guard let own = job.timeout else { return (timeout, false) }
        guard let timeout, timeout <= own else { return (own, true) }
        return (timeout, false)
    }

    /// Hands a request to the scheduler; what it refuses is an API error.
    func submit(_ prompt: [Int32], _ parameters: GenerationParameters, timeout: Duration?) throws(APIError) -> Scheduler.Handle {
        do { return try model.scheduler.submit(prompt: prompt, parameters: parameters, timeout: timeout) } catch { throw Self.apiError(error) }
    }

    private static func apiError(_ error: SchedulerError) -> APIError {
        switch error {
        case let .engine(.promptTooLong(tokens, context)):
            .badRequest("The prompt is \(tokens) tokens, but the context holds \(context) (ember serve -c)", param: "messages")
        case .engine(let failure): .badRequest("\(failure)")
        case .queueFull, .shuttingDown: .busy("\(error)")
        }
    }

    /// The whole answer at once.
    private func whole(_ job: CompletionJob, _ handle: Scheduler.Handle) async throws -> Response {
        var reply = Reply(job: job, tokenizer: model.tokenizer)
        for await event in handle.events {
            switch event {
            case let .text(text, _, logprobs): reply.add(text, logprobs: logprobs)
            case let .finished(statistics):
                metrics.finished(statistics)
                reply.finishText()
                if statistics.stopReason == .timedOut, case let (duration?, byRequest) = limit(job) {
                    throw APIError.timeout(duration.seconds, byRequest: byRequest)
                }
                reply.statistics = statistics
            case let .failed(error): throw APIError.server("\(error)")
            }
        }
        return json(reply.object(id: Self.newID(job.kind), created: Self.now))
    }

    /// The answer as server-sent events, a chunk per piece of text, then `data: [DONE]`. A client that
    /// goes away cancels the request: its slot is free at the next step.
    private func stream(_ job: CompletionJob, _ handle: Scheduler.Handle) -> Response {
        let id = Self.newID(job.kind), created = Self.now
        let tokenizer = model.tokenizer, metrics = metrics
        let body = ResponseBody { writer in
            func send(_ value: JSONValue) async throws {
                try await writer.write(ByteBuffer(bytes: Array("data: ".utf8) + value.bytes + Array("\n\n".utf8)))
            }
            var reply = Reply(job: job, tokenizer: tokenizer)
            do {
                if job.kind == .chat { try await send(reply.chunk(id: id, created: created, delta: ["role": "assistant", "content": ""])) }
                for await event in handle.events {
                    switch event {
                    case let .text(text, _, logprobs):
                        let piece = reply.add(text, logprobs: logprobs)
                        if !piece.isEmpty { try await send(reply.chunk(id: id, created: created, piece: piece)) }
                    case let .finished(statistics):
                        metrics.finished(statistics)
                        let rest = reply.finishText()
                        if !rest.isEmpty { try await send(reply.chunk(id: id, created: created, piece: rest)) }
                        reply.statistics = statistics
                        try await send(reply.finalChunk(id: id, created: created))
                        if job.includeUsage { try await send(reply.usageChunk(id: id, created: created)) }
                    case let .failed(error):
                        try await send(APIError.server("\(error)").body)
                    }
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            } catch {
                handle.cancel()
                throw error
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    func json(_ value: JSONValue) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }

    private static var now: Int { Int(Date().timeIntervalSince1970) }

    private static func newID(_ kind: CompletionJob.Kind) -> String {
        (kind == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }
}

extension ServedModel {
    var health: Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
    }

    var listing: JSONValue {
        ["object": "list", "data": [["id": .string(name), "object": "model", "created": .number(Double(created)), "owned_by": "ember"]]]
    }
}

/// Refuses API requests (OpenAI's /v1 and Ollama's /api) without the key, when one is set; the page,
/// `/health` and `/metrics` stay open for browsers, load balancers and scrapers.
struct KeyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let key: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard let key, path.hasPrefix("/v1/") || path.hasPrefix("/api/") else { return try await next(request, context) }
        guard request.headers[.authorization] == "Bearer \(key)" else {
            metrics.request(route: path, status: 401)
            return path.hasPrefix("/api/") ? APIError.unauthorized.ollamaResponse : APIError.unauthorized.response
        }
        return try await next(request, context)
    }
}
