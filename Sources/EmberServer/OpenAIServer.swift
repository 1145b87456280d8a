// The OpenAI-compatible HTTP API on Hummingbird: chat and text completions, whole or streamed as
// server-sent events, the model list, health and Prometheus metrics; an API key when one is set.
// Every request goes to the model's scheduler, which batches it with the others.

import EmberEngine
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
    public let metrics = ServerMetrics()
    /// The largest request body read.
    static let bodyLimit = 16 << 20

    public init(model: ServedModel, apiKey: String?, timeout: Duration?) {
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
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
        router.get("/health") { _, _ in model.health }
        router.get("/v1/models") { _, _ in json(model.listing) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.text(model.scheduler.snapshot))))
        }
        router.post("/v1/chat/completions") { request, _ in await complete(request, kind: .chat) }
        router.post("/v1/completions") { request, _ in await complete(request, kind: .text) }
        return router
    }

    private func complete(_ request: Request, kind: CompletionJob.Kind) async -> Response {
        let route = kind == .chat ? "/v1/chat/completions" : "/v1/completions"
        let response: Response
        do {
            var request = request
            let body = try await request.collectBody(upTo: Self.bodyLimit)
            let job = try CompletionJob(Array(buffer: body), kind: kind, model: model)
            let handle: Scheduler.Handle
            do {
                handle = try model.scheduler.submit(prompt: job.prompt, parameters: job.parameters, timeout: limit(job).duration)
            } catch {
                throw Self.apiError(error)
            }
            response = job.stream ? stream(job, handle) : try await whole(job, handle)
        } catch let error as APIError {
            response = error.response
        } catch {
            response = APIError.badRequest("Cannot read the request: \(error)").response
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

    private func json(_ value: JSONValue) -> Response {
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

/// Refuses API requests without the key (when one is set); `/health` and `/metrics` stay open for
/// load balancers and scrapers.
struct KeyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let key: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        guard request.headers[.authorization] == "Bearer \(key)" else {
            metrics.request(route: request.uri.path, status: 401)
            return APIError.unauthorized.response
        }
        return try await next(request, context)
    }
}
