// How many physical cores the process can use: the CPUs it may run on (a container or `taskset` may
// allow fewer than the machine has, as /proc/self/status lists), counted once per core, so the
// hyper-threads of one core count as one. Linux gives each CPU's core in
// /sys/devices/system/cpu/cpuN/topology.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum CPUTopology {
    /// Physical cores among the CPUs this process may run on; at least 1.
    public static func physicalCores() -> Int {
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #if os(Linux)
        let cpus = allowedCPUs() ?? Array(0 ..< online)
        var cores = Set<String>()
        for cpu in cpus {
            let topology = "/sys/devices/system/cpu/cpu\(cpu)/topology/"
            guard let core = firstLine(topology + "core_id"), let package = firstLine(topology + "physical_package_id") else {
                return max(1, cpus.count)  // no topology (some containers): count every allowed CPU
            }
            cores.insert(package + ":" + core)
        }
        return max(1, cores.count)
        #else
        return online
        #endif
    }

    /// CPUs (hardware threads) this process may run on; at least 1.
    public static func usableCPUs() -> Int {
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #if os(Linux)
        return max(1, allowedCPUs()?.count ?? online)
        #else
        return online
        #endif
    }

    /// The CPUs of "Cpus_allowed_list: 0-3,8,10-11" in /proc/self/status.
    static func allowedCPUs() -> [Int]? {
        guard let status = readText("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return parseCPUList(String(line.dropFirst("Cpus_allowed_list:".count)))
    }

    /// "0-3,8" -> [0, 1, 2, 3, 8]; nil if malformed.
    public static func parseCPUList(_ list: String) -> [Int]? {
        var cpus: [Int] = []
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.filter { !$0.isWhitespace }) }
            guard !bounds.isEmpty, bounds.count <= 2, let first = bounds[0], let last = bounds.last!, first <= last else { return nil }
            cpus += first ... last
        }
        return cpus.isEmpty ? nil : cpus
    }

    private static func firstLine(_ path: String) -> String? {
        readText(path)?.split(separator: "\n").first.map(String.init)
    }

    static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0 ..< count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
