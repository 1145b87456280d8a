// A decode step on the real model (every operation of the forward pass, on every thread, and the
// sampler, greedy or sampled) allocates nothing once warm, on every kernel path; nor does a warm
// prompt; nor does a decode step on the GPU, on the host or the device. Allocations are counted
// process-wide, so the tests only run when nothing else does: scripts/test runs them on their own
// with EMBER_ALLOCATION_TEST=1.

import CEmberVulkan
import EmberAllocationCounter
import EmberCompute
import EmberEngine
import EmberFormats
import EmberModel
import EmberStore
import EmberTestSupport
import EmberVulkan
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

/// On the GPU (a tiny model on lavapipe: the default model takes seconds a step there): a warm decode
/// step, greedy with the token chosen on the device and sampled from logits read back, with decode
/// attention split over the cache, makes no allocation on the host and no object on the device.
@Test(.enabled(if: ProcessInfo.processInfo.environment["EMBER_ALLOCATION_TEST"] == "1" && (usableVulkanDevice || requireVulkan),
               "counts every allocation in the process: scripts/test runs it alone"))
func gpuDecodeStepsDoNotAllocate() throws {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EmberModelTests/Fixtures/tiny_llama.json")
    let path = try GGUFJSON.modelFile(json: fixture)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let backend = try VulkanBackend(threadCount: 2, attentionSplits: 3)
    let model = try ModelLoader.load(try GGUFFile(path: path), backend: backend, promptChunkTokens: 8)
    let cache = model.makeCache(capacity: 256)
    var batch = ForwardBatch()
    batch.append([1, 5, 9, 13, 17, 21] as [Int32], cache: cache, wantsLogits: true)
    var token = try model.forwardGreedy(batch)[0]
    func greedyStep() throws {
        batch.removeAll()
        batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
        token = try model.forwardGreedy(batch)[0]
    }
    var parameters = SamplingParameters()
    parameters.seed = 3
    let sampler = Sampler(parameters: parameters, vocabularySize: model.vocabularySize)
    func sampledStep() throws {
        batch.removeAll()
        batch.append(CollectionOfOne(token), cache: cache, wantsLogits: true)
        token = sampler.sample(try model.forward(batch), recent: [])
    }
    // The driver allocates as it submits and runs the work (lavapipe: about 150 times a step, mostly on
    // its own threads): counted apart, on the thread that runs the steps, where all of Ember's work is.
    ek_vk_set_driver_call_hook(allocation_counter_driver_call)
    defer { ek_vk_set_driver_call_hook(nil) }
    for (name, step) in [("greedy", greedyStep), ("sampled", sampledStep)] {
        for _ in 0 ..< 8 { try step() }
        let objects = backend.context.objectsMade
        var driverAllocations = 0
        allocation_counter_start_on_this_thread()
        for _ in 0 ..< 32 { try step() }
        let allocations = allocation_counter_stop_on_this_thread(&driverAllocations)
        #expect(allocations == 0, "\(allocations) host allocations in 32 \(name) decode steps on the GPU (the driver's: \(driverAllocations))")
        #expect(backend.context.objectsMade == objects, "\(backend.context.objectsMade - objects) device objects made in 32 \(name) decode steps")
    }
}
