// `ember-sampler-bench`: what choosing a token costs, against a decode step of the model. It decodes
// 32 greedy steps of the default model (or MODEL) to collect real rows of logits, then times the
// sampler on them for each setting users send, and on rows of 262,144 logits drawn from the same
// values (a large-vocabulary model's row with a real model's spread). Prints medians in µs and as a
// share of the median decode step.
//
//     ember-sampler-bench [MODEL] [--threads N] [--only SETTING_INDEX]

import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import Foundation

var reference = "smollm2", threads = ThreadPool.defaultThreadCount, only: Int?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument == "--threads", let value = arguments.popFirst().flatMap(Int.init), value > 0 {
        threads = value
    } else if argument == "--only", let value = arguments.popFirst().flatMap(Int.init) {
        only = value
    } else {
        reference = argument
    }
}

let store = ModelStore.standard()
let path = try store.resolve(reference)
let file = try GGUFFile(path: path)
let model = try ModelLoader.load(file, backend: CPUBackend(threadCount: threads))
let vocabulary = model.vocabularySize

// Real rows of logits, and the decode step they cost.
let cache = model.makeCache(capacity: 256)
var batch = ForwardBatch()
batch.append([1, 9690, 2114, 253, 655] as [Int32], cache: cache, wantsLogits: true)
var logits = try model.forward(batch)
let greedy = Sampler(parameters: .greedy, vocabularySize: vocabulary)
var rows: [[Float]] = [], stepSeconds: [Double] = []
for _ in 0 ..< 32 {
    rows.append(Array(logits))
    let token = greedy.sample(logits, recent: [])
    let start = ContinuousClock.now
    batch.removeAll()
    batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
    logits = try model.forward(batch)
    stepSeconds.append((ContinuousClock.now - start).seconds)
}
let step = stepSeconds.sorted()[stepSeconds.count / 2]

// Rows of 262,144 logits drawn from the real rows' values.
var random = SeededRandom(seed: 7)
let largeVocabulary = 262_144
let largeRows: [[Float]] = rows.map { row in (0 ..< largeVocabulary).map { _ in row[Int(random.next() % UInt64(row.count))] } }

func parameters(_ configure: (inout SamplingParameters) -> Void) -> SamplingParameters {
    var p = SamplingParameters()
    p.seed = 1
    configure(&p)
    return p
}
let settings: [(String, SamplingParameters)] = [
    ("greedy", .greedy),
    ("llama.cpp defaults (T 0.8, top-k 40, top-p 0.95, min-p 0.05)", parameters { _ in }),
    ("temperature 0.8 alone (OpenAI clients)", parameters { ($0.topK, $0.topP, $0.minP) = (0, 1, 0) }),
    ("T 1, top-p 0.95", parameters { ($0.temperature, $0.topK, $0.topP, $0.minP) = (1, 0, 0.95, 0) }),
    ("T 0.7, min-p 0.05", parameters { ($0.temperature, $0.topK, $0.topP, $0.minP) = (0.7, 0, 1, 0.05) }),
    ("T 0.8, top-k 1000", parameters { ($0.topK, $0.topP, $0.minP) = (1000, 1, 0) }),
    ("defaults + repeat 1.1, presence 0.5, frequency 0.5 over 4,096 tokens, 3 biases", parameters {
        ($0.repeatPenalty, $0.presencePenalty, $0.frequencyPenalty, $0.penaltyWindow) = (1.1, 0.5, 0.5, -1)
        $0.logitBias = [42: -100, 1000: 2, 77: -1.5]
    }),
]
let history = (0 ..< 4096).map { _ in Int32(random.next() % 20_000) }

/// Median seconds of one `sample` over the rows, after a warm-up pass. Each row is first copied into
/// one buffer (untimed), as the output matmul writes the model's logits before the sampler reads them.
func cost(_ p: SamplingParameters, rows: [[Float]]) -> Double {
    let sampler = Sampler(parameters: p, vocabularySize: rows[0].count)
    var buffer = rows[0], times: [Double] = []
    for round in 0 ..< 6 {
        for row in rows {
            buffer.withUnsafeMutableBufferPointer { target in row.withUnsafeBufferPointer { target.baseAddress!.update(from: $0.baseAddress!, count: $0.count) } }
            let start = ContinuousClock.now
            _ = buffer.withUnsafeMutableBufferPointer { sampler.sample($0, recent: history, threads: model.backend.hostThreads) }
            if round > 0 { times.append((ContinuousClock.now - start).seconds) }
        }
    }
    return times.sorted()[times.count / 2]
}

print("decode step of \(URL(fileURLWithPath: path).lastPathComponent), \(threads) threads: \(String(format: "%.0f", step * 1e6)) µs (median of 32)")
print("| setting | µs, \(vocabulary) tokens | share of a step | µs, \(largeVocabulary) tokens | share of a step |")
print("| --- | ---: | ---: | ---: | ---: |")
for (index, (name, p)) in settings.enumerated() where only == nil || only == index {
    let small = cost(p, rows: rows), large = cost(p, rows: largeRows)
    print("| \(name) | \(String(format: "%.1f", small * 1e6)) | \(String(format: "%.2f%%", 100 * small / step)) "
        + "| \(String(format: "%.1f", large * 1e6)) | \(String(format: "%.2f%%", 100 * large / step)) |")
}
