// Resolving a model reference, parsing the file, and building the model and its tokenizer: the steps
// every command that runs a model shares, timed for the summary line.

import EmberCompute
import EmberFormats
import EmberModel
import EmberStore
import EmberTokenizer

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
        let clock = ContinuousClock()
        let start = clock.now
        path = try Self.resolvePath(reference)
        file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(metadata: file.metadata)
        let backend = CPUBackend(threadCount: threads ?? ThreadPool.defaultThreadCount)
        model = try ModelLoader.load(file, backend: backend)
        let elapsed = clock.now - start
        loadMilliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15
    }
}
