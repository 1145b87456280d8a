// The load path every front end shares: resolving a model reference (through the store: cache,
// download), parsing the file (or reading a Hugging Face checkpoint directory), building its
// tokenizer and the model on its device's backend, timed and traced as the `load` phase; and the
// defaults that follow from the model: its chat template (ChatML when it has none) and its context
// size. A model downloaded on this run gets its tokenizer built while the weights arrive: from the
// GGUF header, or from a repository's configuration and tokenizer files.

import Dispatch
import EmberCheckpoint
import EmberCompute
import EmberFormats
import EmberModel
import EmberStore
import EmberTokenizer
import EmberTrace
import Foundation
import Synchronization

public struct LoadedModel {
    /// Where the bytes live (a path, or `memory:` and the source).
    public let location: String
    /// The GGUF file, or the checkpoint read as one.
    public let source: any ModelSource
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public let loadMilliseconds: Double

    /// Loads the model `reference` names onto `device` with `threads` host threads (default: one per
    /// core); `quantize` converts a checkpoint's weight matrices to that type while it loads.
    public init(reference: String, threads: Int?, store: ModelStore, device: ComputeDevice = .cpu, quantize: TensorType? = nil) throws {
        let checkpoint = Checkpoints(label: "ember.load")
        let clock = ContinuousClock()
        let start = clock.now
        (location, source, tokenizer, model) = try Trace.span("load") {
            let described = EarlyWork<DescribedCheckpoint>()
            if let directory = try Blocking.run({ () throws(StoreError) in
                try await store.checkpointDirectory(reference) { directory in described.start { try Self.describeCheckpoint(directory) } }
            }) {
                let (metadata, tokenizer) = try described.result() ?? Self.describeCheckpoint(directory)
                return try Self.loadCheckpoint(directory, metadata: metadata, tokenizer: tokenizer, quantize: quantize, threads: threads, device: device)
            }
            if let quantize { throw EngineError.quantizeNeedsCheckpoint(quantize) }
            let early = EarlyWork<Tokenizer>()
            let opened = try Blocking.run { () throws(StoreError) in
                try await store.open(reference) { header in
                    guard case let .gguf(file) = header.format else { return }
                    early.start { try Trace.span("load.tokenizer") { try Tokenizer(metadata: file.metadata) } }
                }
            }
            // Parsing and building the model read the file: from a slow disk, that takes a while.
            return try Heartbeat.around("loading \(opened.location)") {
                let file = try Trace.span("load.parse", args: ["bytes": "\(opened.file.count)"]) { try GGUFFile(file: opened.file) }
                checkpoint("parsed \(opened.location)", ["bytes": "\(file.file.count)", "tensors": "\(file.tensors.count)"])
                let tokenizer = try early.result() ?? Trace.span("load.tokenizer") { try Tokenizer(metadata: file.metadata) }
                let backend = try device.makeBackend(threads: threads)
                let model = try ModelLoader.load(file, backend: backend)
                return (opened.location, file, tokenizer, model)
            }
        }
        let elapsed = clock.now - start
        loadMilliseconds = elapsed.seconds * 1e3
        checkpoint("weights ready", ["milliseconds": "\(loadMilliseconds)"])
    }

    typealias DescribedCheckpoint = (CheckpointMetadata, Tokenizer)

    /// A checkpoint's metadata and tokenizer, which need none of its weights.
    private static func describeCheckpoint(_ directory: String) throws -> DescribedCheckpoint {
        let metadata = try CheckpointMetadata(directory: directory)
        return (metadata, try Trace.span("load.tokenizer") { try Tokenizer(metadata: metadata.metadata) })
    }

    private static func loadCheckpoint(_ directory: String, metadata: CheckpointMetadata, tokenizer: Tokenizer, quantize: TensorType?,
                                       threads: Int?, device: ComputeDevice) throws -> (String, any ModelSource, Tokenizer, LanguageModel) {
        try Heartbeat.around("loading \(directory)") {
            let source = try Trace.span("load.checkpoint") { () throws(CheckpointError) in
                try Checkpoint(directory: directory, quantize: quantize, described: metadata)
            }
            let model = try ModelLoader.load(source, backend: try device.makeBackend(threads: threads))
            return (directory, source, tokenizer, model)
        }
    }
}

/// Work begun on a thread of its own while a download goes on (the tokenizer, once the files it needs are in).
final class EarlyWork<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let started = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// Starts `work`; only the first call does.
    func start(_ work: @escaping @Sendable () throws -> Value) {
        guard started.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else { return }
        Thread.detachNewThread { [self] in
            let result = Result { try work() }
            outcome.withLock { $0 = result }
            done.signal()
        }
    }

    /// The value, waiting for it if the work is still going on; nil if none was started.
    func result() throws -> Value? {
        guard started.load(ordering: .sequentiallyConsistent) else { return nil }
        done.wait()
        done.signal()  // for any later call
        return try outcome.withLock { $0! }.get()
    }
}

extension LoadedModel {
    /// The sampling the model recommends (a checkpoint's generation_config.json).
    public var samplingDefaults: ModelSamplingDefaults { ModelSamplingDefaults(metadata: source.metadata) }

    /// The context size when none is asked for: the trained one, at most 4096 (a KV cache of the
    /// whole trained context of a 128k-token model would take more memory than most machines have).
    public var defaultContextLength: Int { min(model.trainedContextLength, 4096) }

    /// Used when a model has no chat template of its own, as llama.cpp does.
    static let chatMLTemplate = """
        {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\
        {% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """

    /// The model's chat template, or ChatML when it has none (`warn` hears that).
    public func chatTemplate(warn: (String) -> Void) throws(EngineError) -> ChatTemplate {
        let template: String
        if let own = try? source.metadata.string("tokenizer.chat_template") {
            template = own
        } else {
            warn("the model has no chat template; using ChatML")
            template = Self.chatMLTemplate
        }
        do { return try ChatTemplate(template) } catch { throw .invalidChatTemplate(error) }
    }
}
