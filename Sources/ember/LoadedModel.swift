// Resolving a model reference, parsing the file, and building the model and its tokenizer: the steps
// every command that runs a model shares, timed for the summary line and traced as the `load` phase;
// and its chat template.
// A model downloaded on this run gets its tokenizer built from the header while the weights arrive.

import ArgumentParser
import Dispatch
import EmberCompute
import EmberFormats
import EmberModel
import EmberStore
import EmberTokenizer
import EmberTrace
import Foundation
import Synchronization

struct LoadedModel {
    /// Where the bytes live (a path, or `memory:` and the source).
    let location: String
    let file: GGUFFile
    let model: LanguageModel
    let tokenizer: Tokenizer
    let loadMilliseconds: Double

    init(reference: String, threads: Int?, store: ModelStore) throws {
        let checkpoint = Checkpoints(label: "ember.load")
        let clock = ContinuousClock()
        let start = clock.now
        (location, file, tokenizer, model) = try Trace.span("load") {
            let early = EarlyTokenizer()
            let opened = try Blocking.run { () throws(StoreError) in try await store.open(reference, onHeader: early.start) }
            // Parsing and building the model read the file: from a slow disk, that takes a while.
            return try Heartbeat.around("loading \(opened.location)") {
                let file = try Trace.span("load.parse", args: ["bytes": "\(opened.file.count)"]) { try GGUFFile(file: opened.file) }
                checkpoint("parsed \(opened.location)", ["bytes": "\(file.file.count)", "tensors": "\(file.tensors.count)"])
                let tokenizer = try early.result() ?? Trace.span("load.tokenizer") { try Tokenizer(metadata: file.metadata) }
                let backend = CPUBackend(threadCount: threads ?? ThreadPool.defaultThreadCount)
                let model = try ModelLoader.load(file, backend: backend)
                return (opened.location, file, tokenizer, model)
            }
        }
        let elapsed = clock.now - start
        loadMilliseconds = elapsed.seconds * 1e3
        checkpoint("weights ready", ["milliseconds": "\(loadMilliseconds)"])
    }
}

/// A tokenizer built on its own thread from the header of a model that is still downloading.
final class EarlyTokenizer: Sendable {
    private let outcome = Mutex<Result<Tokenizer, any Error>?>(nil)
    private let started = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    func start(_ header: ModelHeader) {
        guard case let .gguf(file) = header.format else { return }
        started.store(true, ordering: .sequentiallyConsistent)
        Thread.detachNewThread { [self] in
            let result = Result { try Trace.span("load.tokenizer") { try Tokenizer(metadata: file.metadata) } }
            outcome.withLock { $0 = result }
            done.signal()
        }
    }

    /// The tokenizer, waiting for it if it is still being built; nil if none was started.
    func result() throws -> Tokenizer? {
        guard started.load(ordering: .sequentiallyConsistent) else { return nil }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}

extension LoadedModel {
    /// Used when a model has no chat template of its own, as llama.cpp does.
    static let chatMLTemplate = """
        {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\
        {% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """

    /// The model's chat template, or ChatML (with a warning) when it has none.
    func chatTemplate() throws -> ChatTemplate {
        let source: String
        if let own = try? file.metadata.string("tokenizer.chat_template") {
            source = own
        } else {
            FileHandle.standardError.write(Data("warning: the model has no chat template; using ChatML\n".utf8))
            source = Self.chatMLTemplate
        }
        do { return try ChatTemplate(source) } catch { throw CommandFailure("the model's chat template does not parse: \(error)") }
    }
}
