// The persistent pool: every index runs exactly once per job, chunks tile the range, results written
// by workers are visible to the caller, many back-to-back jobs neither lose nor repeat work, and the
// units of a stalled thread are taken over by the others.

import EmberCompute
import Glibc
import Testing

/// Adds one to its thread's count.
private struct CountPerThread: PoolWork {
    let counts: UnsafeMutableBufferPointer<Int>
    func run(thread: Int) { counts[thread] += 1 }
}

/// Adds one to the count of every index of its range.
private struct CountPerIndex: PoolRangeWork {
    let hits: UnsafeMutableBufferPointer<Int>
    func run(_ range: Range<Int>) {
        for index in range { hits[index] += 1 }
    }
}

/// Counts each unit and which thread ran it; thread `stalling` sleeps in its first unit.
private struct CountPerUnit: PoolUnitWork {
    let hits: UnsafeMutableBufferPointer<Int>
    let runsPerThread: UnsafeMutableBufferPointer<Int>
    var stalling = -1

    func run(unit: Int, thread: Int) {
        if thread == stalling && runsPerThread[thread] == 0 { usleep(200_000) }
        hits[unit] += 1
        runsPerThread[thread] += 1
    }
}

@Suite struct ThreadPoolTests {
    @Test(arguments: [1, 2, 3, 8])
    func everyThreadRunsEachJobOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0)
        for _ in 0 ..< 1000 { pool.run(CountPerThread(counts: counts)) }
        #expect(Array(counts) == Array(repeating: 1000, count: threads))
    }

    @Test(arguments: [0, 1, 5, 1000, 1001])
    func parallelForCoversTheRangeExactlyOnce(count: Int) {
        let pool = ThreadPool(threadCount: 3)
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        pool.parallelFor(count, CountPerIndex(hits: hits))
        #expect(hits.prefix(count).allSatisfy { $0 == 1 })
    }

    @Test(arguments: [1, 2, 3, 8], [0, 1, 5, 1000])
    func everyUnitRunsOnceAJob(threads: Int, units: Int) {
        let pool = ThreadPool(threadCount: threads)
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(units, 1))
        let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        defer { hits.deallocate(); runs.deallocate() }
        hits.initialize(repeating: 0)
        runs.initialize(repeating: 0)
        for _ in 0 ..< 100 { pool.runUnits(units, CountPerUnit(hits: hits, runsPerThread: runs)) }
        #expect(hits.prefix(units).allSatisfy { $0 == 100 })
    }

    @Test func theOthersTakeOverAStalledThreadsUnits() {
        let pool = ThreadPool(threadCount: 2)
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: 100)
        let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
        defer { hits.deallocate(); runs.deallocate() }
        hits.initialize(repeating: 0)
        runs.initialize(repeating: 0)
        // The worker owns units 50 ..< 100 and sleeps in the first it takes: the caller runs the rest.
        pool.runUnits(100, CountPerUnit(hits: hits, runsPerThread: runs, stalling: 1))
        #expect(hits.allSatisfy { $0 == 1 })
        #expect(runs[1] <= 1 && runs[0] + runs[1] == 100)
    }

    @Test func chunksAreContiguousAndBalanced() {
        let parts = (0 ..< 4).map { ThreadPool.chunk($0, of: 4, count: 10) }
        #expect(parts == [0 ..< 3, 3 ..< 6, 6 ..< 8, 8 ..< 10])
    }

    @Test func workersWakeAfterSleeping() async throws {
        let pool = ThreadPool(threadCount: 2)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0)
        pool.run(CountPerThread(counts: counts))
        try await Task.sleep(for: .milliseconds(200))  // long enough for the worker to go to sleep
        pool.run(CountPerThread(counts: counts))
        #expect(Array(counts) == [2, 2])
    }
}
