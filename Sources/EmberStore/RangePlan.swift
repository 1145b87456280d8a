// How a download is cut into range requests: each missing part of the file into equal chunks of
// about size / (2 x connections), so that each connection takes about two, in a number that is a
// multiple of the connections so that they all finish together; never smaller than the fetch-size
// floor (4 MiB: below that a request is mostly latency) nor larger than 32 MiB (so a retry or a resume
// repeats little). Each cut moves to the nearest tensor boundary of a GGUF or safetensors file within
// an eighth of a chunk, so small tensors arrive whole from one request; a tensor too big for that (an
// embedding table) is cut where the chunk size says. At the end of a download, a connection with
// nothing left to do splits the rest of the slowest chunk (`split`) rather than wait for it.

public enum RangePlan {
    public static let floor = 4 << 20
    public static let ceiling = 32 << 20

    /// The chunk size aimed at for a file of `size` bytes over `connections` connections.
    public static func target(size: Int, connections: Int) -> Int {
        min(max(size / (2 * max(connections, 1)), floor), ceiling)
    }

    /// Chunks covering `missing` (sorted, disjoint), cut on the tensor starts (`boundaries`, sorted)
    /// nearest to the even cuts when one lies within an eighth of a chunk.
    public static func chunks(missing: [Range<Int>], size: Int, connections: Int, boundaries: [Int]) -> [Range<Int>] {
        let target = target(size: size, connections: connections)
        var result: [Range<Int>] = []
        for gap in missing {
            var pieces = max(1, (gap.count + target - 1) / target)
            let up = (pieces + connections - 1) / connections * connections, down = pieces / connections * connections
            if gap.count / up >= floor { pieces = up } else if down > 0 { pieces = down }
            let piece = gap.count / pieces
            var start = gap.lowerBound
            for index in 1 ... pieces {
                var end = index == pieces ? gap.upperBound : gap.lowerBound + index * piece
                if index < pieces, let snapped = nearest(boundaries, to: end, in: max(start + 1, end - piece / 8) ... end + piece / 8) {
                    end = snapped
                }
                result.append(start ..< end)
                start = end
            }
        }
        return result
    }

    /// Smallest part of a chunk in flight handed to a second connection (whether a split saves time
    /// at all is judged by the rate the chunk's bytes come at).
    public static let smallestSplit = 256 << 10

    /// Where to split the rest of a chunk in flight, `remaining`, so that an idle connection takes
    /// the back part: the tensor start nearest its middle within an eighth of it, else the middle;
    /// nil when the rest is too small to share.
    public static func split(_ remaining: Range<Int>, boundaries: [Int]) -> Int? {
        guard remaining.count >= 2 * smallestSplit else { return nil }
        let middle = remaining.lowerBound + remaining.count / 2, slack = remaining.count / 8
        return nearest(boundaries, to: middle, in: middle - slack ... middle + slack) ?? middle
    }

    /// The element of sorted `values` within `window` nearest to `target`.
    static func nearest(_ values: [Int], to target: Int, in window: ClosedRange<Int>) -> Int? {
        var low = 0, high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle] < target { low = middle + 1 } else { high = middle }
        }
        return [low - 1, low].filter { $0 >= 0 && $0 < values.count && window.contains(values[$0]) }.map { values[$0] }
            .min { abs($0 - target) < abs($1 - target) }
    }

    /// The parts of `0 ..< size` that `done` (any order, may overlap) does not cover.
    public static func missing(size: Int, done: [Range<Int>]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var position = 0
        for range in done.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > position { result.append(position ..< min(range.lowerBound, size)) }
            position = max(position, range.upperBound)
            if position >= size { break }
        }
        if position < size { result.append(position ..< size) }
        return result.filter { !$0.isEmpty }
    }

    /// Bytes of `0 ..< size` that `done` covers.
    public static func covered(size: Int, done: [Range<Int>]) -> Int {
        size - missing(size: size, done: done).reduce(0) { $0 + $1.count }
    }
}
