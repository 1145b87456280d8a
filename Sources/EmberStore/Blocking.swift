// Waiting on async work from synchronous code: the command line's commands, and tests that resolve
// the default model. The work runs on the waiting thread itself (a task executor that drains its
// jobs there), not on Swift's shared cooperative pool: a caller that blocks one of that pool's few
// threads could otherwise wait for work that has no thread left to run on.

import Foundation
import Synchronization

public enum Blocking {
    /// Runs `operation` and blocks until it finishes.
    public static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws(StoreError) -> T) throws(StoreError) -> T {
        let executor = CallingThreadExecutor()
        let result = Mutex<Result<T, StoreError>?>(nil)
        Task(executorPreference: executor) {
            let outcome: Result<T, StoreError>
            do throws(StoreError) { outcome = .success(try await operation()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            executor.stop()
        }
        executor.runUntilStopped()
        return try result.withLock { $0! }.get()
    }
}

/// Runs the jobs of the tasks that prefer it on the thread that calls `runUntilStopped`.
final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    func runUntilStopped() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            let batch = jobs
            jobs = []
            let finished = stopped && batch.isEmpty
            condition.unlock()
            if finished { return }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
