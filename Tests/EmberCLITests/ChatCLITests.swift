// `ember chat` on the default model, driven through its stdin as a user types: every turn is
// rendered with the model's chat template, the second turn takes the first from the KV cache, and
// /reset, /system and end of input (Ctrl-D) do what they say.

import Foundation
import Testing

@Suite(.serialized) struct ChatCLITests {
    /// The summary line of each reply: (new prompt tokens, tokens from the cache).
    static func turns(_ stderr: String) -> [(new: Int, cached: Int)] {
        stderr.split(separator: "\n").filter { $0.hasPrefix("prompt ") }.map { line in
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            return (numbers[0], numbers[1])
        }
    }

    @Test func realModelSecondTurnReusesTheFirstFromTheCache() throws {
        let result = try EmberProcess.run(["chat", "--temp", "0", "-n", "16", "-t", "2"],
                                          input: "What is the capital of France?\nAnd of Italy?\n")
        #expect(result.status == 0, "\(result.stderr)")
        let turns = Self.turns(result.stderr)
        try #require(turns.count == 2, "\(result.stderr)")
        // SmolLM2's template puts its default system message first: the first turn computes it all.
        #expect(turns[0].cached == 0 && turns[0].new > 20)
        // The second turn: the whole first exchange comes from the cache, only the new turn is computed.
        #expect(turns[1].cached >= turns[0].new && turns[1].new < 20, "\(turns)")
        #expect(result.stdout.contains("Paris"))
    }

    @Test func realModelResetAndSystemPrompt() throws {
        let result = try EmberProcess.run(["chat", "--temp", "0", "-n", "8", "-t", "2"],
                                          input: "Hi\n/reset\n/system You are a pirate.\nHi\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("(the conversation is cleared)") && result.stderr.contains("(system prompt set)"))
        let turns = Self.turns(result.stderr)
        try #require(turns.count == 2, "\(result.stderr)")
        // After /reset and a new system prompt, the turn shares only the template's first tokens.
        #expect(turns[1].cached < turns[0].new, "\(turns)")
    }
}
