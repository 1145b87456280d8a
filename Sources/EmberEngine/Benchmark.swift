// The measurements behind `ember bench`, modelled on llama-bench: prompt processing (`ppN`: N random
// tokens through the model as one prompt), generation (`tgN`: N single-token steps, each feeding back
// the token chosen from the step's logits, greedily or with a sampler chain; `tgN xS`: N steps of S
// sequences at once, each step one forward pass over a token of every sequence, as the server's
// scheduler runs them, reported as the aggregate) and time to first token (a prompt, then the first
// greedy token). Each test can start at a depth: that many random tokens already in the KV cache (not
// timed), as llama-bench's `-d`. Each is run once to warm up, then `repetitions` times; the forward
// passes and the sampling are timed.

import EmberModel
import EmberTrace

public struct BenchmarkResult: Sendable {
    /// "pp512", "tg128", "tg128 x4", "tg128 sampled", "ttft32", with " @ d2048" at a depth.
    public let test: String
    /// Tokens already in the cache when the test starts.
    public let depth: Int
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
    /// Runs of the test under way done so far (the warm-up counts), for a heartbeat.
    public let progress = ProgressCounter()
    private let caches: [KVCache]
    private var cache: KVCache { caches[0] }
    private var batch = ForwardBatch()
    private var random = SeededRandom(seed: 0x454D_4245_52)
    private let clock = ContinuousClock()

    /// A benchmark of `model` with `sequences` KV caches of `contextLength` positions.
    public init(model: LanguageModel, contextLength: Int, sequences: Int = 1, repetitions: Int, cacheType: CacheType = .f16) {
        self.model = model
        self.repetitions = max(1, repetitions)
        caches = (0 ..< max(1, sequences)).map { _ in model.makeCache(capacity: contextLength, type: cacheType) }
    }

    /// `count` random tokens through the model as one prompt (in batches of the model's largest),
    /// after `depth` tokens.
    public mutating func promptProcessing(_ count: Int, depth: Int = 0) throws(EngineError) -> BenchmarkResult {
        try measure("pp\(count)", depth: depth) { (benchmark: inout Benchmark) throws(EngineError) in
            let tokens = benchmark.randomTokens(count)
            try benchmark.fill(benchmark.caches[0 ..< 1], to: depth)
            let seconds = try benchmark.timed { (b: inout Benchmark) throws(EngineError) in
                _ = try b.model.prefill(tokens, cache: b.cache, batch: &b.batch)
            }
            return Double(count) / seconds
        }
    }

    /// `count` forward passes after `depth` tokens, each over one token of each of `sequences`
    /// sequences (at most the number of caches), each sequence's next token chosen from its logits
    /// with `sampling` (the sampled tests are named so); tokens/s of all sequences together.
    public mutating func generation(_ count: Int, sequences: Int = 1, depth: Int = 0,
                                    sampling: SamplingParameters = .greedy) throws(EngineError) -> BenchmarkResult {
        let sequences = min(max(1, sequences), caches.count)
        let name = "tg\(count)" + (sequences == 1 ? "" : " x\(sequences)") + (sampling.isGreedy ? "" : " sampled")
        let samplers = (0 ..< sequences).map { index in
            var parameters = sampling
            parameters.seed = UInt64(index + 1)
            return Sampler(parameters: parameters, vocabularySize: model.vocabularySize)
        }
        return try measure(name, depth: depth) { (benchmark: inout Benchmark) throws(EngineError) in
            var next = benchmark.randomTokens(sequences)
            try benchmark.fill(benchmark.caches[0 ..< sequences], to: depth)
            let width = benchmark.model.vocabularySize
            let seconds = try benchmark.timed { (b: inout Benchmark) throws(EngineError) in
                for _ in 0 ..< count {
                    b.batch.removeAll()
                    for sequence in 0 ..< sequences {
                        b.batch.append(CollectionOfOne(next[sequence]), cache: b.caches[sequence], wantsLogits: true)
                    }
                    // Greedy tokens are chosen where the logits are, as the engine does.
                    if samplers[0].choosesLargestLogit {
                        let tokens: UnsafeBufferPointer<Int32>
                        do throws(ModelError) { tokens = try b.model.forwardGreedy(b.batch) } catch { throw .model(error) }
                        for sequence in 0 ..< sequences { next[sequence] = tokens[sequence] }
                        continue
                    }
                    let logits: UnsafeMutableBufferPointer<Float>
                    do throws(ModelError) { logits = try b.model.forward(b.batch) } catch { throw .model(error) }
                    for sequence in 0 ..< sequences {
                        let row = UnsafeMutableBufferPointer(rebasing: logits[sequence * width ..< (sequence + 1) * width])
                        next[sequence] = samplers[sequence].sample(row, recent: [], threads: b.model.backend.hostThreads)
                    }
                }
            }
            return Double(count * sequences) / seconds
        }
    }

    /// Seconds from a `count`-token prompt to its first greedy token.
    public mutating func timeToFirstToken(promptTokens count: Int) throws(EngineError) -> BenchmarkResult {
        let sampler = Sampler(parameters: .greedy, vocabularySize: model.vocabularySize)
        return try measure("ttft\(count)", depth: 0) { (benchmark: inout Benchmark) throws(EngineError) in
            let tokens = benchmark.randomTokens(count)
            benchmark.cache.reset()
            return try benchmark.timed { (b: inout Benchmark) throws(EngineError) in
                _ = sampler.sample(try b.model.prefill(tokens, cache: b.cache, batch: &b.batch), recent: tokens)
            }
        }
    }

    /// Empties `caches` and runs `depth` random tokens into each.
    private mutating func fill(_ caches: ArraySlice<KVCache>, to depth: Int) throws(EngineError) {
        for cache in caches {
            cache.reset()
            if depth > 0 { _ = try model.prefill(randomTokens(depth), cache: cache, batch: &batch) }
        }
    }

    private mutating func measure(_ test: String, depth: Int,
                                  _ run: (inout Benchmark) throws(EngineError) -> Double) throws(EngineError) -> BenchmarkResult {
        progress.start(total: repetitions + 1)
        _ = try run(&self)  // warm-up: page in the weights, grow scratch buffers
        var samples: [Double] = []
        for index in 0 ..< repetitions {
            progress.advance(to: index + 1)
            samples.append(try run(&self))
        }
        progress.advance(to: repetitions + 1)
        return BenchmarkResult(test: depth > 0 ? "\(test) @ d\(depth)" : test, depth: depth, samples: samples)
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
