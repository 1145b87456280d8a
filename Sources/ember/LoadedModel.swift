// Resolving a model reference, parsing the file, and building the model and its tokenizer: the steps
// every command that runs a model shares, timed for the summary line and traced as the `load` phase.

import EmberCompute
import EmberFormats
import EmberModel
import EmberStore
import EmberTokenizer
import EmberTrace

struct LoadedModel {
    let path: String
    let file: GGUFFile
    let model: LanguageModel
    let tokenizer: Tokenizer
    let loadMilliseconds: Double

    static func resolvePath(_ reference: String) throws -> String {
        try ModelStore.standard().resolve(reference)
    }

    init(reference: String, threads: Int?) throws {
        let checkpoint = Checkpoints(label: "ember.load")
        let clock = ContinuousClock()
        let start = clock.now
        (path, file, tokenizer, model) = try Trace.span("load") {
            let path = try Self.resolvePath(reference)
            let file = try GGUFFile(path: path)
            checkpoint("parsed \(path)", ["bytes": "\(file.file.count)", "tensors": "\(file.tensors.count)"])
            let tokenizer = try Trace.span("load.tokenizer") { try Tokenizer(metadata: file.metadata) }
            let backend = CPUBackend(threadCount: threads ?? ThreadPool.defaultThreadCount)
            let model = try ModelLoader.load(file, backend: backend)
            return (path, file, tokenizer, model)
        }
        let elapsed = clock.now - start
        loadMilliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15
        checkpoint("weights ready", ["milliseconds": "\(loadMilliseconds)"])
    }
}
