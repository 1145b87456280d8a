// Many sequences at once (continuous batching). Each step runs one forward pass over the next token of
// every sequence that is generating and one chunk of the prompt of a sequence that is starting; new
// requests take a free KV cache slot between steps, and a cancelled or timed-out one gives its slot
// back at the start of the next step. A slot keeps the tokens whose keys and values it holds after its
// request ends, and a new request takes the free slot that shares the longest prefix with its prompt
// when that is over half of it (else the one used least recently), so a prompt that repeats a system
// prompt or a document computes only what follows the shared part. A sequence's output is the same as alone: the decode rows are
// multiplied as single steps whatever shares the pass, and a prompt is cut into the same chunks as a
// lone prompt, each multiplied as a segment of its own (the CPU backend's segments, CPUStep.swift), so every row takes
// the kernel path it would alone.
// The loop runs on a thread of its own: forward passes block, and must not hold up async callers.

import EmberCompute
import EmberModel
import EmberTokenizer
import EmberTrace
import Foundation
import Synchronization

public final class Scheduler: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Sequences generating at once, each with a KV cache slot of its own.
        public var parallel = 4
        /// Positions per slot.
        public var contextLength = 4096
        public var cacheType = CacheType.f16
        /// Requests that may wait for a slot; more are refused (`SchedulerError.queueFull`).
        public var queueLimit = 64
        /// Host memory for the keys and values of prompts whose slot went to another request (0: none).
        public var prefixMemory = 0

        public init(parallel: Int = 4, contextLength: Int = 4096, cacheType: CacheType = .f16, queueLimit: Int = 64, prefixMemory: Int = 0) {
            self.parallel = parallel
            self.contextLength = contextLength
            self.cacheType = cacheType
            self.queueLimit = queueLimit
            self.prefixMemory = prefixMemory
        }
    }

    public enum Event: Sendable {
        /// Text that is safe to show (whole characters, no part of a stop string), and its token with
        /// its log-probability when the request asked for them.
        case text(String, token: Int32?, logprobs: TokenLogprobs?)
        case finished(SequenceStatistics)
        case failed(EngineError)
    }

    /// What one request cost, for its response's usage and the server's metrics.
    public struct SequenceStatistics: Sendable {
        public var promptTokens = 0
        /// The tokens generated (not the end token), for replies that return them (Ollama's `context`).
        public var generated: [Int32] = []
        public var generatedTokens: Int { generated.count }
        public var stopReason = StopReason.endOfGeneration
        /// From submission to the first token, and from there to the end.
        public var timeToFirstToken: Duration = .zero
        public var decodeTime: Duration = .zero
        /// Waiting for a slot.
        public var queueTime: Duration = .zero
        /// Prompt tokens whose keys and values the slot already held (a shared prefix), not computed again.
        public var cachedPromptTokens = 0
        /// Tokens drafted for it (speculative decoding, when it ran alone), and how many were accepted.
        public var draftedTokens = 0
        public var acceptedDraftTokens = 0
    }

    /// A submitted request: its events, in order, end with `finished` or `failed`.
    public struct Handle: Sendable {
        public let events: AsyncStream<Event>
        let cancelFlag: CancelFlag

        /// Stops the request; its slot is free again at the start of the next step.
        public func cancel() { cancelFlag.cancel() }
    }

    /// What the scheduler is doing, for metrics.
    public struct Snapshot: Sendable {
        public var waiting = 0
        public var active = 0
        /// KV cache positions in use over all slots, and all slots' positions.
        public var cachePositionsUsed = 0
        public var cachePositions = 0
    }

    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public let configuration: Configuration

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var waiting: [Sequence] = []
    /// Least recently used first.
    private var freeSlots: [Slot]
    private var stopping = false
    private var snapshotValue = Snapshot()
    /// Queued requests that no free slot awaits (the loop moves the others into theirs at once).
    private var waitingForSlot: Int { max(waiting.count - freeSlots.count, 0) }

    /// Signalled when the loop returns.
    private let loopStopped = DispatchSemaphore(value: 0)

    // Touched by the loop thread only:
    private var active: [Sequence] = []
    private var batch = ForwardBatch()
    private let prefixes: PrefixStore
    /// Steps run so far, and requests submitted (under `condition`): the numbers in the trace.
    private var steps = 0
    private var requests = 0

    /// Drafts tokens for a request that runs alone (speculative decoding); nil: none.
    public let drafter: TokenDrafter?

    public init(model: LanguageModel, tokenizer: Tokenizer, configuration: Configuration = Configuration(), drafter: TokenDrafter? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.configuration = configuration
        self.drafter = drafter
        freeSlots = (0 ..< max(configuration.parallel, 1)).map { _ in
            Slot(cache: model.makeCache(capacity: configuration.contextLength, type: configuration.cacheType))
        }
        snapshotValue.cachePositions = freeSlots.count * configuration.contextLength
        prefixes = PrefixStore(budget: configuration.prefixMemory)
        let thread = Thread { [self] in loop() }
        thread.name = "ember-scheduler"
        thread.start()
    }

    /// Queues a request. Throws at once for a prompt that cannot fit and when the queue is full.
    public func submit(prompt: [Int32], parameters: GenerationParameters, timeout: Duration? = nil) throws(SchedulerError) -> Handle {
        guard !prompt.isEmpty else { throw .engine(.emptyPrompt) }
        guard prompt.count < configuration.contextLength else {
            throw .engine(.promptTooLong(tokens: prompt.count, context: configuration.contextLength))
        }
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        let flag = CancelFlag()
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw .shuttingDown }
        // Requests the loop has not yet moved into a free slot are not waiting for one.
        guard waiting.count < configuration.queueLimit + freeSlots.count else { throw .queueFull(limit: configuration.queueLimit) }
        requests += 1
        let sequence = Sequence(prompt: prompt, parameters: parameters, timeout: timeout, tokenizer: tokenizer,
                                vocabularySize: model.vocabularySize, continuation: continuation, cancelFlag: flag, id: requests)
        sequence.draftLimit = DraftLimit(maximum: drafter?.draftLength ?? 0)
        waiting.append(sequence)
        snapshotValue.waiting = waitingForSlot
        // A consumer that goes away (a client that disconnected) cancels the request.
        continuation.onTermination = { [weak self] _ in
            flag.cancel()
            self?.wake()
        }
        condition.signal()
        return Handle(events: stream, cancelFlag: flag)
    }

    public var snapshot: Snapshot {
        condition.lock()
        defer { condition.unlock() }
        return snapshotValue
    }

    /// Finishes every request as cancelled and stops the loop; returns once the loop has stopped, so
    /// that no step of it still runs on the model.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        loopStopped.wait()
        loopStopped.signal()  // for any other caller
    }

    private func wake() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    // MARK: - The loop

    private func loop() {
        Trace.nameThread("scheduler")
        defer { loopStopped.signal() }
        while true {
            condition.lock()
            while !stopping && active.isEmpty && waiting.isEmpty { condition.wait() }
            if stopping {
                let all = active + waiting
                waiting.removeAll()
                condition.unlock()
                for sequence in all { finish(sequence, .cancelled) }
                active.removeAll()
                return
            }
            // Cancelled or timed-out requests leave first, so their slots go to the waiting ones.
            let now = ContinuousClock.now
            var leaving: [(Sequence, StopReason)] = []
            waiting.removeAll { sequence in
                guard let reason = sequence.endReason(now: now) else { return false }
                leaving.append((sequence, reason))
                return true
            }
            active.removeAll { sequence in
                guard let reason = sequence.endReason(now: now) else { return false }
                leaving.append((sequence, reason))
                freeSlots.append(sequence.slot!)
                return true
            }
            // The slot sharing the longest prefix when it is over half the prompt (llama.cpp's
            // similarity rule), else the least recently used one, refilled from the prefix store.
            var starting: [(Sequence, Slot, shared: Int?)] = []
            while !waiting.isEmpty, !freeSlots.isEmpty {
                let sequence = waiting.removeFirst()
                let shared = freeSlots.map { PrefixStore.reusablePrefix(of: $0.tokens, for: sequence.prompt) }
                let best = shared.indices.max { shared[$0] < shared[$1] }!
                let reused = PrefixStore.isWorthReusing(shared[best], for: sequence.prompt)
                starting.append((sequence, freeSlots.remove(at: reused ? best : 0), reused ? shared[best] : nil))
                active.append(sequence)
            }
            snapshotValue.waiting = waitingForSlot
            snapshotValue.active = active.count
            condition.unlock()
            // Copies to and from host memory happen outside the lock.
            for (sequence, slot, shared) in starting {
                sequence.start(in: slot, reusing: shared ?? refill(slot, for: sequence.prompt), now: now)
            }
            for (sequence, reason) in leaving { finish(sequence, reason) }
            if !active.isEmpty {
                steps += 1
                // The requests of the step, as it starts (its end may have released some).
                let running = Trace.isOn(.phase) ? active.map { String($0.trace.id) }.joined(separator: ",") : "", count = active.count
                Trace.span("scheduler.step", args: ["step": .int(steps), "sequences": .int(count), "requests": .string(running)]) { step() }
            }
            publishSnapshot()
        }
    }

    /// One forward pass over the next token of every generating sequence and the next chunk of a
    /// starting prompt (more passes only when more sequences generate than one pass takes).
    private func step() {
        let decoding = active.filter { $0.nextToken != nil }
        let starting = active.first { $0.isPrefilling }
        // A request that runs alone checks drafted tokens in its step; among others, the batch is the speedup.
        if let drafter, active.count == 1, let only = decoding.first, speculate(only, drafter: drafter) {
            return
        }
        // A pass holds a prompt chunk and this many decode rows; each row, and the chunk's last, may want
        // logits, of which a pass returns at most `maxBatchTokens - promptChunkTokens`.
        let perPass = model.maxBatchTokens - model.promptChunkTokens - 1
        var first = 0
        repeat {
            let group = decoding[first ..< min(first + perPass, decoding.count)]
            first += group.count
            forward(group, chunkOf: first == decoding.count ? starting : nil)
        } while first < decoding.count
    }

    /// One forward pass: a decode row per sequence of `group`, then (when given) a prompt chunk of
    /// `starting`, cut as a lone prompt would be.
    private func forward(_ group: ArraySlice<Sequence>, chunkOf starting: Sequence?) {
        batch.removeAll()
        for sequence in group { batch.append(CollectionOfOne(sequence.nextToken!), cache: sequence.slot!.cache, wantsLogits: true) }
        let chunk = starting.map { $0.nextPromptChunk(limit: model.promptChunkTokens) }
        if let starting, let chunk {
            batch.append(chunk, cache: starting.slot!.cache, wantsLogits: chunk.endIndex == starting.prompt.endIndex)
        }
        guard !batch.isEmpty else { return }
        var choosing = Array(group)
        if let starting, let chunk, chunk.endIndex == starting.prompt.endIndex { choosing.append(starting) }
        let args: TraceArguments = ["decode": .int(group.count), "prompt_tokens": .int(chunk?.count ?? 0)]
        do {
            // When every sequence decodes greedily as the model chooses, only the tokens come back.
            if choosing.allSatisfy({ $0.state.takesGreedyTokens }) {
                let tokens = try Trace.span("forward", args: args) { () throws(ModelError) in try model.forwardGreedy(batch) }
                record(group, chunk: chunk, of: starting)
                for (sequence, token) in zip(choosing, tokens) { accept(sequence, token: token, logits: nil) }
                return
            }
            let logits = try Trace.span("forward", args: args) { () throws(ModelError) in try model.forward(batch) }
            record(group, chunk: chunk, of: starting)
            let width = model.vocabularySize
            let rows = choosing.indices.map { UnsafeMutableBufferPointer(rebasing: logits[$0 * width ..< ($0 + 1) * width]) }
            // Each sequence samples its own row: on the pool's threads together, so that the samplers
            // do not follow one another while the other cores wait for the next pass.
            if choosing.count > 1 {
                model.backend.hostThreads.parallelFor(choosing.count, ChooseEach(sequences: choosing, rows: rows))
            } else if let only = choosing.first {
                only.chosen = only.state.choose(from: rows[0], threads: model.backend.hostThreads)
            }
            for (sequence, row) in zip(choosing, rows) { accept(sequence, token: sequence.chosen, logits: row) }
        } catch {
            for sequence in group { fail(sequence, .model(error)) }
            if let starting { fail(starting, .model(error)) }
        }
    }

    /// One pass over the sequence's next token and the tokens `drafter` guesses after it, each
    /// checked as the single-sequence Generator does; false when there was no guess (the caller
    /// runs a plain step).
    private func speculate(_ sequence: Sequence, drafter: TokenDrafter) -> Bool {
        let slot = sequence.slot!, state = sequence.state
        // Drafts leave the cache a position short of full, so that an accepted one never reads as a full context.
        let room = min(slot.cache.capacity - slot.cache.length - 2, (state.parameters.maxTokens ?? .max) - state.generated.count - 1)
        guard room > 0 else { return false }
        let drafted: [Int32]
        do { drafted = try drafter.draft(after: state.history, count: min(sequence.draftLimit.current, room)) } catch {
            fail(sequence, error)
            return true
        }
        guard !drafted.isEmpty else { return false }
        batch.removeAll()
        batch.appendSteps(CollectionOfOne(sequence.nextToken!) + drafted, cache: slot.cache)
        let args: TraceArguments = ["decode": 1, "drafted": .int(drafted.count)]
        let rows: StepRows
        do {
            rows = try Trace.span("forward", args: args) { () throws(ModelError) in try StepRows.run(batch, on: model, greedy: state.takesGreedyTokens) }
        } catch {
            fail(sequence, .model(error))
            return true
        }
        record([sequence][...], chunk: nil, of: nil)
        // A row's logits, for the log-probabilities of the token taken there (none when the step returned only tokens).
        func logits(_ row: Int) -> UnsafeMutableBufferPointer<Float>? {
            if case .logits = rows { rows.logitRow(row) } else { nil }
        }
        var row = 0
        let following = SpeculativeCheck.walk(drafted, against: rows, state: state, threads: model.backend.hostThreads) { token in
            accept(sequence, token: token, logits: logits(row))
            guard sequence.nextToken != nil else { return false }
            slot.tokens.append(token)
            row += 1
            return true
        }
        switch following {
        case let .token(token)?: accept(sequence, token: token, logits: logits(row))
        case let .logits(logits)?: accept(sequence, token: state.choose(from: logits, threads: model.backend.hostThreads), logits: logits)
        case nil: break
        }
        sequence.draftLimit.record(drafted: drafted.count, accepted: row)
        sequence.drafted += drafted.count
        sequence.acceptedDrafts += row
        // The rejected drafts' rows go; the slot may already be free, but no other sequence has it yet.
        let kept = slot.cache.truncate(to: slot.tokens.count)
        precondition(kept == slot.tokens.count, "a verification step is never longer than the cache can rewind")
        return true
    }

    /// Puts what `slot` holds into the prefix store and the stored prefix that `prompt` shares most
    /// into the slot; returns how many of its positions the prompt starts with.
    private func refill(_ slot: Slot, for prompt: [Int32]) -> Int {
        guard prefixes.budget > 0 else { return 0 }
        do {
            if slot.tokens.count >= PrefixStore.shortest {
                let snapshot = try Trace.span("prefix.save", args: ["tokens": .int(slot.tokens.count)]) { () throws(BackendError) in
                    try slot.cache.snapshot()
                }
                prefixes.keep(slot.tokens, snapshot)
            }
            slot.forget()
            guard let (entry, shared) = prefixes.take(for: prompt) else { return 0 }
            try Trace.span("prefix.restore", args: ["tokens": .int(entry.tokens.count)]) { () throws(BackendError) in
                try slot.cache.restore(entry.snapshot)
            }
            slot.tokens = entry.tokens
            return shared
        } catch {
            // A copy that failed leaves nothing to reuse: the prompt is computed whole.
            slot.forget()
            return 0
        }
    }

    /// After a pass: the tokens each slot's cache now holds, how far the starting prompt has come, and
    /// the step each took part in.
    private func record(_ group: ArraySlice<Sequence>, chunk: ArraySlice<Int32>?, of starting: Sequence?) {
        for sequence in group {
            sequence.slot!.tokens.append(sequence.nextToken!)
            sequence.trace.took(step: steps)
        }
        if let starting, let chunk {
            starting.prefilled = chunk.endIndex
            starting.slot!.tokens += chunk
            starting.trace.took(step: steps)
        }
    }

    /// Takes the sequence's chosen next token and streams what it makes visible.
    /// `logits` is the sequence's row, when the step read them (always, when it asks for logprobs).
    private func accept(_ sequence: Sequence, token chosen: Int32, logits: UnsafeMutableBufferPointer<Float>?) {
        let (token, text) = sequence.state.accept(token: chosen)
        if sequence.firstToken == nil {
            sequence.firstToken = .now
            sequence.trace.firstToken = TraceClock.now()
        }
        let probabilities = sequence.state.parameters.logprobs.flatMap { top in
            sequence.state.generated.last.flatMap { token in logits.map { TokenLogprobs(token: token, logits: UnsafeBufferPointer($0), top: top) } }
        }
        if !text.isEmpty || token != nil { sequence.continuation.yield(.text(text, token: token, logprobs: probabilities)) }
        sequence.nextToken = token
        // The slot is free before the consumer hears the end.
        if token == nil {
            release(sequence)
            finish(sequence, sequence.state.stopReason ?? .endOfGeneration)
        } else if sequence.slot!.cache.length >= sequence.slot!.cache.capacity {
            release(sequence)
            finish(sequence, .contextFull)
        }
    }

    private func fail(_ sequence: Sequence, _ error: EngineError) {
        // What a failed pass left in the cache is not known: the slot starts afresh.
        sequence.slot?.forget()
        release(sequence)
        sequence.continuation.yield(.failed(error))
        sequence.continuation.finish()
        sequence.writeTrace(end: "failed")
    }

    /// Ends the sequence's stream with what it holds back and its statistics.
    private func finish(_ sequence: Sequence, _ reason: StopReason) {
        let rest = sequence.state.finish(reason)
        if !rest.isEmpty { sequence.continuation.yield(.text(rest, token: nil, logprobs: nil)) }
        sequence.continuation.yield(.finished(sequence.statistics(reason: sequence.state.stopReason ?? reason)))
        sequence.continuation.finish()
        let end = sequence.state.stopReason ?? reason
        sequence.writeTrace(end: end == .cancelled || end == .timedOut ? end.rawValue : "finished")
    }

    /// Takes a finished sequence out of the active ones and frees its slot.
    private func release(_ sequence: Sequence) {
        guard let index = active.firstIndex(where: { $0 === sequence }) else { return }
        active.remove(at: index)
        condition.lock()
        freeSlots.append(sequence.slot!)
        snapshotValue.active = active.count
        condition.unlock()
    }

    private func publishSnapshot() {
        let used = active.reduce(0) { $0 + ($1.slot?.cache.length ?? 0) }
        condition.lock()
        snapshotValue.waiting = waitingForSlot
        snapshotValue.active = active.count
        snapshotValue.cachePositionsUsed = used
        condition.unlock()
        if Trace.isOn(.phase) { Trace.counter("active_sequences", Double(active.count)) }
    }
}

/// The sampling of each sequence of a step from its row of logits, shared among the pool's threads.
private struct ChooseEach: PoolRangeWork {
    let sequences: [Sequence]
    let rows: [UnsafeMutableBufferPointer<Float>]

    func run(_ range: Range<Int>) {
        for index in range { sequences[index].chosen = sequences[index].state.choose(from: rows[index], threads: nil) }
    }
}

/// A request's cancellation, set from any thread, read by the loop.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// One request in the scheduler: its prompt, where its prefill has got to, its sampling and stop
/// state, and its KV cache slot once it has one.
private final class Sequence {
    let prompt: [Int32]
    let state: GenerationState
    let continuation: AsyncStream<Scheduler.Event>.Continuation
    let cancelFlag: CancelFlag
    let submitted: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant?
    var slot: Slot?
    var started: ContinuousClock.Instant?
    var firstToken: ContinuousClock.Instant?
    /// Prompt tokens run so far (or found in the slot's cache).
    var prefilled = 0
    var reusedPromptTokens = 0
    /// The token to run next, once the prompt is done and until the sequence ends.
    var nextToken: Int32?
    /// The token sampled from the last step's logits, before `accept` takes it.
    var chosen: Int32 = 0
    /// How many tokens to draft next, when it runs alone with a drafter; how many it drafted and kept.
    var draftLimit = DraftLimit(maximum: 0)
    var drafted = 0, acceptedDrafts = 0
    /// Its row in the trace.
    var trace: RequestTrace

    init(prompt: [Int32], parameters: GenerationParameters, timeout: Duration?, tokenizer: Tokenizer,
         vocabularySize: Int, continuation: AsyncStream<Scheduler.Event>.Continuation, cancelFlag: CancelFlag, id: Int) {
        trace = RequestTrace(id: id)
        self.prompt = prompt
        state = GenerationState(prompt: prompt, parameters: parameters, tokenizer: tokenizer, vocabularySize: vocabularySize)
        self.continuation = continuation
        self.cancelFlag = cancelFlag
        let now = ContinuousClock.now
        submitted = now
        deadline = timeout.map { now + $0 }
    }

    var isPrefilling: Bool { prefilled < prompt.count }

    /// Takes `slot`, keeping the first `shared` tokens its cache holds (those its prompt starts with).
    func start(in slot: Slot, reusing shared: Int, now: ContinuousClock.Instant) {
        self.slot = slot
        prefilled = slot.keep(shared)
        reusedPromptTokens = prefilled
        started = now
        trace.started = TraceClock.now()
    }

    func writeTrace(end: String) {
        trace.write(end: end, promptTokens: prompt.count, cachedTokens: reusedPromptTokens, generatedTokens: state.generated.count)
    }

    /// The prompt's next chunk: the same cuts as a lone prompt's (`LanguageModel.prefill`).
    func nextPromptChunk(limit: Int) -> ArraySlice<Int32> {
        prompt[prefilled ..< min(prefilled + limit, prompt.count)]
    }

    /// Why the sequence must end before the next step, if it must.
    func endReason(now: ContinuousClock.Instant) -> StopReason? {
        if cancelFlag.isCancelled { return .cancelled }
        if let deadline, now >= deadline { return .timedOut }
        return nil
    }

    func statistics(reason: StopReason) -> Scheduler.SequenceStatistics {
        let now = ContinuousClock.now
        var statistics = Scheduler.SequenceStatistics()
        statistics.promptTokens = prompt.count
        statistics.cachedPromptTokens = reusedPromptTokens
        statistics.generated = state.generated
        statistics.draftedTokens = drafted
        statistics.acceptedDraftTokens = acceptedDrafts
        statistics.stopReason = reason
        statistics.queueTime = (started ?? now) - submitted
        statistics.timeToFirstToken = (firstToken ?? now) - submitted
        statistics.decodeTime = now - (firstToken ?? now)
        return statistics
    }
}

public enum SchedulerError: Error, Equatable, CustomStringConvertible {
    case engine(EngineError)
    case queueFull(limit: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case let .engine(error): "\(error)"
        case let .queueFull(limit): "the server is busy: \(limit) requests are already waiting; retry later"
        case .shuttingDown: "the server is shutting down"
        }
    }
}

/// A KV cache of the scheduler and the tokens whose keys and values it holds, which outlive the
/// request that computed them.
private final class Slot {
    let cache: KVCache
    var tokens: [Int32] = []

    init(cache: KVCache) { self.cache = cache }

    /// Keeps the first `count` positions (fewer when a ring cannot rewind that far) and returns how
    /// many it kept.
    func keep(_ count: Int) -> Int {
        let kept = cache.truncate(to: count)
        tokens.removeSubrange(kept...)
        return kept
    }

    func forget() {
        cache.reset()
        tokens.removeAll()
    }
}
