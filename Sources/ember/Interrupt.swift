// Ctrl-C and SIGTERM during generation: the first signal writes out the trace recorded so far and asks
// generation to stop after the current token (the summary is still printed); a second one exits at
// once (in `ember chat`, a second one during a later reply stops that reply).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmberTrace
import Synchronization

enum Interrupt {
    private static let requested = Atomic<Bool>(false)

    static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Forgets an earlier interrupt, so that the next one stops the next reply instead of exiting.
    static func clear() { requested.store(false, ordering: .relaxed) }

    static func install() {
        // A parent that spawns ember from a thread with SIGINT blocked (a dispatch worker, a test
        // runner) passes that mask on; unblock it or Ctrl-C would never arrive.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        for number in [SIGINT, SIGTERM] {
            signal(number) { number in
                Trace.flushFromSignalHandler()
                if Interrupt.requested.exchange(true, ordering: .relaxed) { _exit(128 + number) }
            }
        }
    }
}
