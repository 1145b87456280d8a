// How downloads are cut: chunks cover exactly the missing bytes, respect the fetch-size floor and
// ceiling, and end on tensor boundaries when one is near.

import EmberStore
import Testing

@Suite struct RangePlanTests {
    @Test func chunksCoverTheMissingBytesOnTensorBoundaries() {
        let size = 98_362_432
        // Tensor starts every 1.5 MB, as in a model with many small tensors.
        let boundaries = Array(stride(from: 1_700_000, to: size, by: 1_500_000))
        let chunks = RangePlan.chunks(missing: [4_194_304 ..< size], size: size, connections: 8, boundaries: boundaries)
        #expect(chunks.first?.lowerBound == 4_194_304 && chunks.last?.upperBound == size)
        for (a, b) in zip(chunks, chunks.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        for chunk in chunks.dropLast() {
            #expect(boundaries.contains(chunk.upperBound), "cut at \(chunk.upperBound) is not a tensor start")
            #expect(chunk.count >= RangePlan.floor * 3 / 4)
        }
        #expect(chunks.count == 16)  // two per connection
    }

    @Test func aTensorBiggerThanAChunkIsCutInside() {
        // A 30 MB embedding table first, then small tensors: the table spans several chunks.
        let boundaries = [1_785_664] + Array(stride(from: 31_866_688, to: 98_000_000, by: 250_000))
        let chunks = RangePlan.chunks(missing: [4_194_304 ..< 98_362_432], size: 98_362_432, connections: 8, boundaries: boundaries)
        let inside = chunks.filter { $0.upperBound < 31_866_688 }
        #expect(inside.count >= 3)
        for chunk in chunks.dropLast() where chunk.upperBound > 31_866_688 {
            #expect(boundaries.contains(chunk.upperBound))
        }
    }

    @Test func floorAndCeilingBoundChunkSizes() {
        #expect(RangePlan.target(size: 10 << 20, connections: 8) == RangePlan.floor)
        #expect(RangePlan.target(size: 10 << 30, connections: 8) == RangePlan.ceiling)
        #expect(RangePlan.target(size: 160 << 20, connections: 8) == 10 << 20)
        let chunks = RangePlan.chunks(missing: [0 ..< 100], size: 100, connections: 8, boundaries: [])
        #expect(chunks == [0 ..< 100])  // a small file is one request
        // Equal chunks, as many as the connections, when each still gets the floor.
        let even = RangePlan.chunks(missing: [0 ..< 40 << 20], size: 40 << 20, connections: 8, boundaries: [])
        #expect(even.count == 8 && Set(even.map(\.count)) == [5 << 20])
    }

    @Test func theRestOfASlowChunkIsSplitNearItsMiddle() {
        // On the tensor start nearest the middle when one is within an eighth of the rest.
        #expect(RangePlan.split(0 ..< 8_000_000, boundaries: [1_000, 3_700_000, 4_200_000, 7_000_000]) == 4_200_000)
        // Else at the middle.
        #expect(RangePlan.split(0 ..< 8_000_000, boundaries: [1_000, 7_000_000]) == 4_000_000)
        // A rest too small to share is not split.
        #expect(RangePlan.split(0 ..< 2 * RangePlan.smallestSplit - 1, boundaries: []) == nil)
        #expect(RangePlan.split(10 ..< 10 + 2 * RangePlan.smallestSplit, boundaries: []) == 10 + RangePlan.smallestSplit)
    }

    @Test func missingIsTheComplementOfWhatIsDone() {
        #expect(RangePlan.missing(size: 100, done: [10 ..< 20, 0 ..< 5, 15 ..< 30]) == [5 ..< 10, 30 ..< 100])
        #expect(RangePlan.missing(size: 100, done: [0 ..< 100]).isEmpty)
        #expect(RangePlan.covered(size: 100, done: [10 ..< 20, 15 ..< 30]) == 20)
    }
}
