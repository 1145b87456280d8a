// A context-free grammar over Unicode code points, as llama.cpp's GBNF describes one (GBNFParser.swift
// reads the text): rules of alternatives, each a sequence of character sets and references to rules.
// Repetitions and groups are already rules of their own here, so a matcher needs only these three
// kinds of element. The elements of every alternative lie in one array, each alternative ending in
// `.end`, so that a position in the grammar is one integer.

/// A set of code points: ranges, or everything outside them.
public struct CodePointSet: Equatable, Sendable {
    public var ranges: [ClosedRange<UInt32>]
    public var negated: Bool

    public init(_ ranges: [ClosedRange<UInt32>], negated: Bool = false) {
        self.ranges = ranges
        self.negated = negated
    }

    public func contains(_ scalar: UInt32) -> Bool {
        var inside = false
        for range in ranges where range.contains(scalar) {
            inside = true
            break
        }
        return inside != negated
    }

    /// Whether some code point in `low ... high` is in the set.
    func intersects(_ low: UInt32, _ high: UInt32) -> Bool {
        if negated {
            // Outside the ranges somewhere in low ... high unless they cover it all.
            var next = low
            for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where range.upperBound >= next {
                if range.lowerBound > next { return true }
                if range.upperBound >= high { return false }
                next = range.upperBound + 1
            }
            return next <= high
        }
        return ranges.contains { $0.lowerBound <= high && $0.upperBound >= low }
    }
}

public struct Grammar: Sendable {
    public enum Element: Equatable, Sendable {
        /// The end of an alternative.
        case end
        /// One code point of the set.
        case characters(CodePointSet)
        /// Any alternative of rule `index`.
        case rule(Int)
    }

    /// Every alternative's elements, each alternative ending in `.end`.
    public let elements: [Element]
    /// Per rule, where each of its alternatives starts in `elements`.
    public let alternatives: [[Int]]
    /// Rule names, for messages (generated rules are named after the rule they serve).
    public let names: [String]
    public let root: Int

    init(elements: [Element], alternatives: [[Int]], names: [String], root: Int) {
        self.elements = elements
        self.alternatives = alternatives
        self.names = names
        self.root = root
    }
}
