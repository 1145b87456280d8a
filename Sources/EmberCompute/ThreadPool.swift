// One persistent pool of worker threads for all CPU kernels. A job is handed to every thread at once
// (the caller's thread takes part as thread 0) and the caller returns when all are done. Workers spin
// briefly between jobs, since the next op of a forward pass follows within microseconds, then sleep
// on a condition variable so an idle engine costs no CPU. A job may instead be a run of units that the
// threads claim (`runUnits`): each works through its own share and then helps with the others', so a
// thread the OS has descheduled does not keep the rest waiting.
//
// A job is a value of a `PoolWork` type, not a closure: handing a non-escaping closure to other
// threads takes `withoutActuallyEscaping`, which allocates on every call, and a decode step runs a
// few hundred jobs that must allocate nothing. The pool keeps a pointer to the caller's value and its
// type (an existential metatype, no allocation) for the workers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    /// Bumped once per job; workers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// Workers still running the current job.
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Each thread's share of the units of a `runUnits` job, `next ..< end` packed into one word
    /// (`UnitShare`), a cache line apart so that the owners do not contend.
    private let shares: UnsafeMutablePointer<Atomic<UInt64>>
    private static let shareStride = 16
    /// The current job: the caller's work value and its type.
    private var job: UnsafeRawPointer?
    private var jobType: (any PoolWork.Type)?
    // Heap-allocated: pthread objects must not move, which `&property` does not promise.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var threads: [pthread_t] = []

    /// Spin iterations (about a nanosecond each) before a worker goes to sleep, and before a waiting
    /// caller starts yielding its core: ~200 µs, which bridges the gap between two decode steps
    /// (sampling and scheduling on the caller's thread), so that a step does not begin by waking a
    /// sleeping worker. 20 µs cost 5-15% of decode speed (`ember bench -s 1,4`, BENCHMARKS.md).
    private static let spinLimit = 200_000

    /// A pool of `threadCount` threads in all, the caller's included.
    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        shares = UnsafeMutableRawPointer.allocate(byteCount: 8 * Self.shareStride * self.threadCount, alignment: 128)
            .bindMemory(to: Atomic<UInt64>.self, capacity: Self.shareStride * self.threadCount)
        for thread in 0 ..< self.threadCount { (shares + Self.shareStride * thread).initialize(to: Atomic(0)) }
        for index in 1 ..< self.threadCount {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, context)
            precondition(status == 0, "cannot start worker thread: error \(status)")
            threads.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
        for thread in 0 ..< threadCount { share(thread).deinitialize(count: 1) }
        UnsafeMutableRawPointer(shares).deallocate()
    }

    /// The number of physical cores this process may run on, a good default for compute-bound kernels
    /// (hyper-threads share one core's vector units, so they add little and cost synchronisation).
    public static var defaultThreadCount: Int { CPUTopology.physicalCores() }

    /// Runs `work.run(thread:)` on every thread of the pool (the caller's is thread 0) and returns
    /// when all have finished. Not reentrant: one job at a time, from one caller thread.
    public func run<Work: PoolWork>(_ work: Work) {
        if threadCount == 1 {
            work.run(thread: 0)
            return
        }
        withUnsafePointer(to: work) { pointer in
            job = UnsafeRawPointer(pointer)
            jobType = Work.self
            pending.store(threadCount - 1, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            work.run(thread: 0)
            // Spin, but yield the core once it is clear a worker has been descheduled (more
            // threads than free cores): a pure spin would burn the time slice that worker needs.
            var spins = 0
            while pending.load(ordering: .acquiring) != 0 {
                spins += 1
                if spins >= Self.spinLimit { sched_yield() }
            }
            job = nil
            jobType = nil
        }
    }

    /// Runs `work.run(unit:thread:)` for every unit of `0 ..< units`. Each thread starts with its own
    /// contiguous share and goes through it in order (the weights of a matmul stream through memory as
    /// they lie); a thread done with its share takes units from the end of another's. So a thread that was
    /// descheduled (the cores are shared with the server and its clients) or runs slower leaves its work
    /// to the others instead of holding the job up, and equal threads still end within a unit.
    public func runUnits<Work: PoolUnitWork>(_ units: Int, _ work: Work) {
        precondition(units < 1 << 32, "runUnits takes fewer than 2^32 units")
        for thread in 0 ..< threadCount {
            let share = Self.chunk(thread, of: threadCount, count: units)
            self.share(thread).pointee.store(UnitShare(next: share.lowerBound, end: share.upperBound).word, ordering: .relaxed)
        }
        run(StealingWork(pool: self, work: work))
    }

    private func share(_ thread: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { shares + Self.shareStride * thread }

    /// The next unit of thread `thread`: the first of its own share, else the last of another's.
    fileprivate func claimUnit(thread: Int) -> Int? {
        for offset in 0 ..< threadCount {
            let owner = share((thread + offset) % threadCount)
            var current = owner.pointee.load(ordering: .relaxed)
            while true {
                var bounds = UnitShare(word: current)
                guard bounds.next < bounds.end else { break }
                let unit: Int
                if offset == 0 {
                    unit = bounds.next
                    bounds.next += 1
                } else {
                    bounds.end -= 1
                    unit = bounds.end
                }
                let (exchanged, original) = owner.pointee.compareExchange(expected: current, desired: bounds.word,
                                                                          ordering: .relaxed)
                if exchanged { return unit }
                current = original
            }
        }
        return nil
    }

    /// Splits `0 ..< count` into one contiguous chunk per thread and runs `work.run(range)` on each.
    public func parallelFor<Work: PoolRangeWork>(_ count: Int, _ work: Work) {
        run(ChunkedWork(work: work, count: count, threads: min(threadCount, max(count, 1))))
    }

    /// The `index`-th of `parts` near-equal contiguous chunks of `0 ..< count`.
    @inlinable
    public static func chunk(_ index: Int, of parts: Int, count: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = index * base + min(index, extra)
        return start ..< start + base + (index < extra ? 1 : 0)
    }

    private func workerLoop(index: Int) {
        // Not a fresh load: a job may already have been posted before this thread got to run, and
        // the worker must take part in it. No job runs before `init` returns, so the start is 0.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins >= Self.spinLimit {
                    pthread_mutex_lock(mutex)
                    while generation.load(ordering: .sequentiallyConsistent) == seen {
                        pthread_cond_wait(wake, mutex)
                    }
                    pthread_mutex_unlock(mutex)
                    break
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            jobType!.run(job!, thread: index)
            pending.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerContext {
    // Unowned: the pool's deinit stops and joins the workers, so they never outlive it.
    unowned(unsafe) let pool: ThreadPool
    let index: Int

    init(pool: ThreadPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}

/// A job for every thread of the pool.
public protocol PoolWork {
    /// The share of thread `thread` (0 is the caller's).
    func run(thread: Int)
}

extension PoolWork {
    /// Runs the work value at `pointer` (of this type) on a worker.
    fileprivate static func run(_ pointer: UnsafeRawPointer, thread: Int) {
        pointer.assumingMemoryBound(to: Self.self).pointee.run(thread: thread)
    }
}

/// A job over a range of indices, split into one contiguous chunk per thread.
public protocol PoolRangeWork {
    func run(_ range: Range<Int>)
}

private struct ChunkedWork<Work: PoolRangeWork>: PoolWork {
    let work: Work
    let count: Int
    let threads: Int

    func run(thread: Int) {
        guard thread < threads else { return }
        let range = ThreadPool.chunk(thread, of: threads, count: count)
        if !range.isEmpty { work.run(range) }
    }
}

/// A job of units that the pool's threads claim (`ThreadPool.runUnits`).
public protocol PoolUnitWork {
    /// Unit `unit`, on thread `thread` (0 is the caller's).
    func run(unit: Int, thread: Int)
}

/// A thread's units `next ..< end`, as one atomic word.
private struct UnitShare {
    var next: Int
    var end: Int

    var word: UInt64 { UInt64(next) << 32 | UInt64(end) }
}

extension UnitShare {
    init(word: UInt64) {
        self.init(next: Int(word >> 32), end: Int(word & 0xFFFF_FFFF))
    }
}

private struct StealingWork<Work: PoolUnitWork>: PoolWork {
    let pool: ThreadPool
    let work: Work

    func run(thread: Int) {
        while let unit = pool.claimUnit(thread: thread) { work.run(unit: unit, thread: thread) }
    }
}
