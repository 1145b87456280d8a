// How much memory this process may use: the machine's physical memory, or less where a cgroup (a
// container, a systemd unit) caps it. Checked before large allocations, so that a request beyond the
// machine is an error naming the numbers rather than an abort inside the allocator.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum MemoryLimit {
    /// Bytes this process may use: the smaller of physical memory and the cgroup's limit, if any.
    public static func usableBytes() -> Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let limit = cgroupLimit() else { return physical }
        return min(physical, limit)
    }

    /// cgroup v2's memory.max (or v1's limit_in_bytes) of this process; nil when unlimited or absent.
    static func cgroupLimit() -> Int? {
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = CPUTopology.readText(path), let value = parseLimit(text) { return value }
        }
        return nil
    }

    /// "max\n" (unlimited) -> nil; "1073741824\n" -> 1073741824; v1's "unlimited" (a huge number) -> nil.
    public static func parseLimit(_ text: String) -> Int? {
        guard let value = Int(text.filter { !$0.isWhitespace }), value > 0, value < 1 << 60 else { return nil }
        return value
    }
}
