// A decode step on the real model (every operation of the forward pass, on every thread, and the
// sampler, greedy or sampled) allocates nothing once warm, on every kernel path; nor does a warm prompt. Allocations are counted process-wide, so the test only runs
// when nothing else does: scripts/test runs it on its own with EMBER_ALLOCATION_TEST=1.

import EmberAllocationCounter
import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import Foundation
import Testing

@Test(.enabled(if: ProcessInfo.processInfo.environment["EMBER_ALLOCATION_TEST"] == "1",
               "counts every allocation in the process: scripts/test runs it alone"),
      .serialized, arguments: KernelLevel.runnable)
func realModelDecodeStepsDoNotAllocate(level: KernelLevel) throws {
    let file = try GGUFFile(path: ModelStore.standard().resolve("smollm2"))
    let model = try ModelLoader.load(file, backend: CPUBackend(threadCount: 2, kernels: level))
    let cache = model.makeCache(capacity: 256)
    let sampler = Sampler(parameters: .greedy, vocabularySize: model.vocabularySize)
    var batch = ForwardBatch()
    batch.append([1, 504, 3458, 282, 4649, 314] as [Int32], cache: cache, wantsLogits: true)
    var token = sampler.sample(try model.forward(batch), recent: [])
    let recent: [Int32] = []
    func step() throws {
        batch.removeAll()
        batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
        token = sampler.sample(try model.forward(batch), recent: recent)
    }
    // Past 128 positions, where decode attention splits the context across threads; scratch buffers
    // then at their size.
    for _ in 0 ..< 140 { try step() }
    allocation_counter_start()
    for _ in 0 ..< 32 { try step() }
    let allocations = allocation_counter_stop()
    #expect(allocations == 0, "\(level): \(allocations) allocations in 32 decode steps")

    // Sampled decode steps: llama.cpp's default chain with penalties and a bias, and temperature alone
    // (a draw from the whole vocabulary).
    var chain = SamplingParameters()
    (chain.seed, chain.repeatPenalty, chain.logitBias) = (1, 1.1, [42: -2])
    var temperatureOnly = SamplingParameters()
    (temperatureOnly.seed, temperatureOnly.topK, temperatureOnly.topP, temperatureOnly.minP) = (2, 0, 1, 0)
    let history: [Int32] = (0 ..< 64).map { Int32($0 * 13) }
    for parameters in [chain, temperatureOnly] {
        let sampled = Sampler(parameters: parameters, vocabularySize: model.vocabularySize)
        func sampledStep() throws {
            batch.removeAll()
            batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
            token = sampled.sample(try model.forward(batch), recent: history)
        }
        cache.truncate(to: 150)
        for _ in 0 ..< 4 { try sampledStep() }
        allocation_counter_start()
        for _ in 0 ..< 32 { try sampledStep() }
        let sampledAllocations = allocation_counter_stop()
        #expect(sampledAllocations == 0, "\(level): \(sampledAllocations) allocations in 32 sampled decode steps")
    }

    // A prompt of 64 tokens (the prefill GEMM on the C levels), once warm, allocates nothing either.
    let prompt = (0 ..< 64).map { Int32(100 + $0 * 7) }
    func prefill() throws {
        cache.reset()
        batch.removeAll()
        batch.append(prompt, cache: cache, wantsLogits: true)
        _ = try model.forward(batch)
    }
    try prefill()
    allocation_counter_start()
    for _ in 0 ..< 3 { try prefill() }
    let prefillAllocations = allocation_counter_stop()
    #expect(prefillAllocations == 0, "\(level): \(prefillAllocations) allocations in 3 prompts of 64 tokens")
}
