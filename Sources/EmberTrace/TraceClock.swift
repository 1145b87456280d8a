// The one clock of every trace event: CLOCK_MONOTONIC in nanoseconds. It is shared by all threads and
// all processes of a machine, so fragments written by several processes merge onto one time line.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TraceClock {
    @inlinable
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
