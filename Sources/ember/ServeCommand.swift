// `ember serve`: the OpenAI-compatible HTTP server, every request batched onto one model by the
// scheduler. Binds to 127.0.0.1 unless told otherwise, and warns when it listens beyond this machine
// without an API key.

import ArgumentParser
import EmberEngine
import EmberServer
import EmberStore
import EmberTokenizer
import Dispatch
import Foundation
import NIOCore
import Logging
import Synchronization

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over OpenAI's and Ollama's HTTP APIs, with a chat page at /.")

    @Option(name: .customShort("m"), help: ArgumentHelp(modelHelp))
    var model = ModelAliases.defaultModel

    @Option(name: .customLong("host"), help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .customLong("port"), parsing: .unconditional, help: "Port to listen on (0: any free one, printed when ready).")
    var port = 8080

    @Option(name: .customLong("parallel"), parsing: .unconditional, help: "Requests generating at once, each with its own KV cache slot.")
    var parallel = 4

    @Option(name: .customLong("queue"), parsing: .unconditional, help: "Requests that may wait for a slot; more get 503 with Retry-After.")
    var queue = 64

    @Option(name: .customLong("cache-ram"), parsing: .unconditional,
            help: "Host memory (MiB) that keeps the keys and values of prompts whose slot went to another request, for later requests that start the same way (0: off).")
    var cacheRAM = 2048

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on /v1 routes (default: $EMBER_API_KEY).")
    var apiKey: String?

    @Option(name: .customLong("timeout"), parsing: .unconditional, help: "Longest a request may take, in seconds (default: no limit).")
    var timeout: Double?

    @Option(name: .customLong("alias"), help: "The name the model is served under (/v1/models, responses' \"model\"; default: the -m reference).")
    var alias: String?

    @Flag(name: .customLong("strict-model-name"),
          help: "Answer only requests that name the served model (its alias, reference or file name) with it; others get 404. By default any name is answered by the one model served.")
    var strictModelName = false

    @Option(name: .customLong("chat-template-file"),
            help: "A file with a Jinja chat template to use instead of the model's own.")
    var chatTemplateFile: String?

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var speculation: SpeculationOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if parallel < 1 { throw ValidationError("--parallel must be at least 1") }
        if queue < 0 { throw ValidationError("--queue must not be negative") }
        if !(0 ... 1 << 24).contains(cacheRAM) { throw ValidationError("--cache-ram must be MiB from 0 to 16777216, not \(cacheRAM)") }
        if let timeout, !(timeout > 0 && timeout <= 31_536_000) { throw ValidationError("--timeout must be seconds above 0 and at most a year, not \(timeout)") }
        if !(0 ... 65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if let alias, alias.isEmpty { throw ValidationError("--alias must not be empty") }
    }

    func run() throws {
        try global.apply(command: "serve")
        let loaded = try LoadedModel(reference: model, threads: runtime.threadCount, store: try storeOptions.store,
                                     device: runtime.device.computeDevice, quantize: runtime.quantize)
        let template = try chatTemplateFile.map(Self.template(file:)) ?? loaded.chatTemplate(warn: RuntimeOptions.warn)
        let contextLength = try runtime.checkedContextLength(for: loaded, slots: parallel)
        let drafter = try speculation.drafter(for: loaded, contextLength: contextLength, runtime: runtime, store: try storeOptions.store)
        let scheduler = Scheduler(model: loaded.model, tokenizer: loaded.tokenizer,
                                  configuration: .init(parallel: parallel, contextLength: contextLength, cacheType: runtime.cacheType,
                                                       queueLimit: queue, prefixMemory: cacheRAM << 20),
                                  drafter: drafter)
        let file = URL(fileURLWithPath: loaded.location).lastPathComponent
        let served = ServedModel(name: alias ?? model, aliases: [model, file, (file as NSString).deletingPathExtension],
                                 tokenizer: loaded.tokenizer, template: template, scheduler: scheduler,
                                 created: Int(Date().timeIntervalSince1970), samplingDefaults: loaded.samplingDefaults,
                                 strictNames: strictModelName, facts: ModelFacts(loaded))
        let key = apiKey ?? ProcessInfo.processInfo.environment["EMBER_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if key == nil && !["127.0.0.1", "localhost", "::1"].contains(host) {
            FileHandle.standardError.write(Data("ember: warning: listening on \(host) without --api-key: anyone who can reach it can use the model\n".utf8))
        }
        let server = OpenAIServer(model: served, apiKey: key, timeout: timeout.map { .milliseconds(Int($0 * 1000)) }, store: try storeOptions.store)
        var logger = Logger(label: "ember.serve")
        logger.logLevel = .warning
        // The server runs on the concurrency pool; this thread waits for it to stop (SIGINT, SIGTERM).
        let host = host, port = port, parallel = parallel
        let outcome = Mutex<(any Error)?>(nil)
        let stopped = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run(host: host, port: port, logger: logger) { port in
                    FileHandle.standardError.write(Data("ember: serving \(served.name) on http://\(host):\(port) (\(parallel) slots of \(contextLength) tokens)\n".utf8))
                }
            } catch {
                outcome.withLock { $0 = error }
            }
            stopped.signal()
        }
        stopped.wait()
        if let error = outcome.withLock({ $0 }) {
            scheduler.shutdown()
            throw CommandFailure("cannot serve on \(host):\(port): \(Self.describe(error))")
        }
        scheduler.shutdown()
    }

    /// The template in `file`, which must parse.
    static func template(file: String) throws -> ChatTemplate {
        let source: String
        do { source = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw CommandFailure("cannot read the chat template \(file): \(error.localizedDescription)")
        }
        do { return try ChatTemplate(source) } catch { throw CommandFailure("the chat template \(file) is not valid Jinja: \(error)") }
    }

    /// Why listening failed, in words: the errors of binding a socket.
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            switch error.errnoCode {
            case EADDRINUSE: return "the port is in use (pick another --port, or 0 for any free one)"
            case EACCES: return "permission denied (ports below 1024 need privileges)"
            case EADDRNOTAVAIL: return "no network interface of this machine has that address"
            default: return "\(error)"
            }
        }
        if let error = error as? SocketAddressError, case .unknown = error { return "the host name does not resolve" }
        return "\(error)"
    }
}
