// The measurements behind `ember bench`, modelled on llama-bench: prompt processing (`ppN`: N random
// tokens through the model as one batch), generation (`tgN`: N single-token steps from an empty
// context; `tgN x S`: N steps of S sequences at once, each step one forward pass over a token of
// every sequence, as the server's scheduler runs them, reported as the aggregate) and time to first
// token (a prompt, then the first greedy token). Each is run once to warm up, then `repetitions`
// times; the forward passes (and for ttft the first sample) are timed, as llama-bench does.

import EmberModel
import EmberTrace

public struct BenchmarkResult: Sendable {
    /// "pp512", "tg128", "ttft32".
    public let test: String
    /// Tokens per second of each repetition (for ttft: seconds per first token).
    public let samples: [Double]

    public var mean: Double { samples.reduce(0, +) / Double(samples.count) }

    /// Sample standard deviation (0 for a single sample).
    public var standardDeviation: Double {
        guard samples.count > 1 else { return 0 }
        let mean = mean
        return (samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count - 1)).squareRoot()
    }
}

public struct Benchmark {
    public let model: LanguageModel
    public let repetitions: Int
    private let caches: [KVCache]
    private var cache: KVCache { caches[0] }
    private var batch = ForwardBatch()
    private var random = SeededRandom(seed: 0x454D_4245_52)
    private let sampler: Sampler
    private let clock = ContinuousClock()

    /// A benchmark of `model` with `sequences` KV caches of `contextLength` positions.
    public init(model: LanguageModel, contextLength: Int, sequences: Int = 1, repetitions: Int, cacheType: CacheType = .f16) {
        self.model = model
        self.repetitions = max(1, repetitions)
        caches = (0 ..< max(1, sequences)).map { _ in model.makeCache(capacity: contextLength, type: cacheType) }
        sampler = Sampler(parameters: .greedy, vocabularySize: model.vocabularySize)
    }

    /// `count` random tokens through the model as one prompt (in batches of the model's largest).
    public mutating func promptProcessing(_ count: Int) throws(EngineError) -> BenchmarkResult {
        try measure("pp\(count)") { (benchmark: inout Benchmark) throws(EngineError) in
            let tokens = benchmark.randomTokens(count)
            benchmark.cache.reset()
            let seconds = try benchmark.timed { (b: inout Benchmark) throws(EngineError) in
                _ = try b.model.prefill(tokens, cache: b.cache, batch: &b.batch)
            }
            return Double(count) / seconds
        }
    }

    /// `count` forward passes from empty contexts, each over one token of each of `sequences`
    /// sequences (at most the number of caches); tokens/s of all sequences together.
    public mutating func generation(_ count: Int, sequences: Int = 1) throws(EngineError) -> BenchmarkResult {
        let sequences = min(max(1, sequences), caches.count)
        return try measure(sequences == 1 ? "tg\(count)" : "tg\(count) x\(sequences)") { (benchmark: inout Benchmark) throws(EngineError) in
            let tokens = benchmark.randomTokens(count * sequences)
            for cache in benchmark.caches { cache.reset() }
            let seconds = try benchmark.timed { (b: inout Benchmark) throws(EngineError) in
                for step in 0 ..< count {
                    b.batch.removeAll()
                    for sequence in 0 ..< sequences {
                        b.batch.append(CollectionOfOne(tokens[step * sequences + sequence]), cache: b.caches[sequence], wantsLogits: true)
                    }
                    do throws(ModelError) { _ = try b.model.forward(b.batch) } catch { throw .model(error) }
                }
            }
            return Double(count * sequences) / seconds
        }
    }

    /// Seconds from a `count`-token prompt to its first greedy token.
    public mutating func timeToFirstToken(promptTokens count: Int) throws(EngineError) -> BenchmarkResult {
        try measure("ttft\(count)") { (benchmark: inout Benchmark) throws(EngineError) in
            let tokens = benchmark.randomTokens(count)
            benchmark.cache.reset()
            return try benchmark.timed { (b: inout Benchmark) throws(EngineError) in
                _ = b.sampler.sample(try b.model.prefill(tokens, cache: b.cache, batch: &b.batch), recent: tokens)
            }
        }
    }

    private mutating func measure(_ test: String, _ run: (inout Benchmark) throws(EngineError) -> Double) throws(EngineError) -> BenchmarkResult {
        _ = try run(&self)  // warm-up: page in the weights, grow scratch buffers
        var samples: [Double] = []
        for _ in 0 ..< repetitions { samples.append(try run(&self)) }
        return BenchmarkResult(test: test, samples: samples)
    }

    private mutating func timed(_ body: (inout Benchmark) throws(EngineError) -> Void) throws(EngineError) -> Double {
        let start = clock.now
        try body(&self)
        return (clock.now - start).seconds
    }

    private mutating func randomTokens(_ count: Int) -> [Int32] {
        (0 ..< count).map { _ in Int32(truncatingIfNeeded: random.next() % UInt64(model.vocabularySize)) }
    }
}
