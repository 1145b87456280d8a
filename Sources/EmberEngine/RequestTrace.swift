// A request's own row in the Chrome trace: from its arrival, a `request` span holding `queued` (waiting
// for a slot), `prefill` (its prompt, up to the first token) and `decode`, written when it ends with
// how it ended (finished, cancelled, timed out, failed), its token counts, and the first and last
// scheduler steps that served it; each `scheduler.step` span lists the requests it ran, so the two
// link both ways. `ember trace summary` reads these spans for per-request percentiles.

import EmberTrace

struct RequestTrace {
    let id: Int
    /// Trace-clock nanoseconds.
    let arrival = TraceClock.now()
    var started: UInt64?
    var firstToken: UInt64?
    var firstStep: Int?
    var lastStep: Int?

    init(id: Int) { self.id = id }

    mutating func took(step: Int) {
        if firstStep == nil { firstStep = step }
        lastStep = step
    }

    /// Writes the request's row; `end` names how it ended.
    func write(end: String, promptTokens: Int, cachedTokens: Int, generatedTokens: Int) {
        guard let track = Trace.makeTrack("request \(id)", level: .phase) else { return }
        let now = TraceClock.now(), started = started ?? now, firstToken = firstToken ?? now
        // Steps -1: the request ended before any step ran it.
        let args: TraceArguments = ["id": .int(id), "end": .string(end), "prompt_tokens": .int(promptTokens),
                                    "cached_tokens": .int(cachedTokens), "generated_tokens": .int(generatedTokens),
                                    "first_step": .int(firstStep ?? -1), "last_step": .int(lastStep ?? -1)]
        Trace.completed("request", level: .phase, start: arrival, duration: now - arrival, on: track, args: args)
        Trace.completed("queued", level: .phase, start: arrival, duration: started - arrival, on: track)
        Trace.completed("prefill", level: .phase, start: started, duration: firstToken - started, on: track)
        Trace.completed("decode", level: .phase, start: firstToken, duration: now - firstToken, on: track,
                        args: ["tokens": .int(generatedTokens)])
    }
}
