// Stop strings across streamed pieces: never emitted, text before them never lost.

import EmberEngine
import Testing

@Suite struct StopMatcherTests {
    func stream(_ pieces: [String], stops: [String]) -> (text: String, matched: String?) {
        var matcher = StopMatcher(stops: stops)
        var text = pieces.map { matcher.append($0) }.joined()
        text += matcher.finish()
        return (text, matcher.matched)
    }

    @Test func stopInsideOnePiece() {
        #expect(stream(["Hello END world"], stops: ["END"]) == ("Hello ", "END"))
    }

    @Test func stopSplitAcrossPieces() {
        #expect(stream(["Hel", "lo E", "N", "D more"], stops: ["END"]) == ("Hello ", "END"))
    }

    @Test func partialMatchThatFailsIsReleased() {
        #expect(stream(["a E", "NX b"], stops: ["END"]) == ("a ENX b", nil))
        #expect(stream(["tail E"], stops: ["END"]) == ("tail E", nil))
    }

    @Test func heldBackTextWaitsForTheDecision() {
        var matcher = StopMatcher(stops: ["</s>"])
        #expect(matcher.append("abc</") == "abc")
        #expect(matcher.append("x") == "</x")
    }

    @Test func earliestOfSeveralStopsWins() {
        #expect(stream(["one\ntwo###"], stops: ["###", "\n"]) == ("one", "\n"))
    }

    @Test func newlineStopInsideCRLF() {
        #expect(stream(["line\r\nnext"], stops: ["\n"]) == ("line\r", "\n"))
    }

    @Test func multiByteCharacters() {
        #expect(stream(["naïve 😀", " stop😀 here"], stops: ["stop😀"]) == ("naïve 😀 ", "stop😀"))
    }

    @Test func nothingAfterAMatch() {
        var matcher = StopMatcher(stops: ["x"])
        _ = matcher.append("ax")
        #expect(matcher.append("more") == "")
        #expect(matcher.finish() == "")
    }
}
