// GBNF grammars: what they accept and reject character by character (literals, classes, escapes,
// groups, every repetition, recursion), and the errors of grammars that cannot be used.

import EmberGrammar
import Testing

/// Whether `grammar` accepts all of `text` as a sentence.
func accepts(_ grammar: Grammar, _ text: String) -> Bool {
    grammar.advance(grammar.initialState, by: text.utf8).isComplete
}

/// Whether `text` can still be the start of a sentence.
func isPrefix(_ grammar: Grammar, _ text: String) -> Bool {
    !grammar.advance(grammar.initialState, by: text.utf8).isDead
}

struct GBNFTests {
    @Test func literalsClassesAndAlternatives() throws {
        let grammar = try GBNFParser.parse(#"""
        root ::= greeting " " name   # a comment
        greeting ::= "hello" | "hi"
        name ::= [A-Z] [a-z]*
        """#)
        #expect(accepts(grammar, "hello World"))
        #expect(accepts(grammar, "hi X"))
        #expect(!accepts(grammar, "hello world"))
        #expect(!accepts(grammar, "hey World"))
        #expect(isPrefix(grammar, "hel") && !accepts(grammar, "hel"))
    }

    @Test func repetitionsCountExactly() throws {
        let grammar = try GBNFParser.parse(#"root ::= "a"{2,4} "b"? "c"+ "d"{3} "e"{1,}"#)
        #expect(accepts(grammar, "aacddde"))
        #expect(accepts(grammar, "aaaabcccdddeee"))
        #expect(!accepts(grammar, "acddde"), "too few a")
        #expect(!accepts(grammar, "aaaaacddde"), "too many a")
        #expect(!accepts(grammar, "aabbcddde"), "b at most once")
        #expect(!accepts(grammar, "aaddde"), "c at least once")
        #expect(!accepts(grammar, "aacdde"), "exactly three d")
        #expect(!accepts(grammar, "aacddd"), "at least one e")
    }

    @Test func negatedClassesEscapesAndAnyCharacter() throws {
        let grammar = try GBNFParser.parse(#"""
        root ::= "\"" ( [^"\\] | "\\" ["\\nt] )* "\"" tail
        tail ::= "\x41" "\u00e9" . "\n"
        """#)
        #expect(accepts(grammar, "\"ab\\\"c\\n\"Aé😀\n"))
        #expect(!accepts(grammar, "\"a\"b\"Aé!\n"))
        #expect(!accepts(grammar, "\"a\\q\"Aé!\n"))
    }

    @Test func multiLineAlternativesAndRecursion() throws {
        let grammar = try GBNFParser.parse("""
        root ::= list
        list ::= "(" ( item
                     | list )* ")"
        item ::= [0-9]
        """)
        #expect(accepts(grammar, "(1(2(3))4)"))
        #expect(!accepts(grammar, "(1(2)"))
        #expect(!accepts(grammar, "(a)"))
    }

    @Test func splitCodePointsWaitForTheirLastByte() throws {
        let grammar = try GBNFParser.parse(#"root ::= "é" [a-z]"#)
        var state = grammar.advance(grammar.initialState, by: [0xC3])
        #expect(!state.isDead && !state.isComplete)
        state = grammar.advance(state, by: [0xA9, UInt8(ascii: "x")])
        #expect(state.isComplete)
        #expect(grammar.advance(grammar.initialState, by: [0xC4]).isDead, "a lead byte of no allowed code point")
        #expect(grammar.advance(grammar.initialState, by: [0xFF]).isDead, "not UTF-8")
        let letters = try GBNFParser.parse(#"root ::= [a-z]+"#)
        #expect(letters.advance(letters.initialState, by: [0xE0]).isDead, "E0 can only begin U+0800 and up, never a letter")
        #expect(letters.advance(letters.initialState, by: [0xC1, 0xAF]).isDead, "an overlong 'o' is not 'o'")
        #expect(letters.advance(letters.initialState, by: [0xE0, 0x81, 0xAF]).isDead, "nor is a three-byte one")
    }

    @Test func unusableGrammarsAreErrorsNamingTheProblem() {
        #expect(throws: GrammarError.noRoot) { try GBNFParser.parse(#"start ::= "a""#) }
        #expect(throws: GrammarError.undefinedRule("missing")) { try GBNFParser.parse(#"root ::= "a" missing"#) }
        #expect(throws: GrammarError.leftRecursion("expr")) { try GBNFParser.parse(#"root ::= expr"# + "\n" + #"expr ::= expr "+" "1" | "1""#) }
        #expect(throws: GrammarError.syntax("unterminated string", line: 2)) { try GBNFParser.parse("root ::= \"a\"\nb ::= \"x") }
        #expect(throws: GrammarError.syntax("expected '::=' after 'root'", line: 1)) { try GBNFParser.parse("root = \"a\"") }
    }
}
