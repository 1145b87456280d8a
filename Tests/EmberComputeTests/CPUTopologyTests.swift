// The default thread count: the kernel's CPU list syntax, and a physical-core count within what this
// process may use.

import EmberCompute
import Foundation
import Testing

@Test func cpuListsParse() {
    #expect(CPUTopology.parseCPUList("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11])
    #expect(CPUTopology.parseCPUList("\t5\n") == [5])
    #expect(CPUTopology.parseCPUList("3-1") == nil && CPUTopology.parseCPUList("a") == nil && CPUTopology.parseCPUList("") == nil)
}

@Test func physicalCoresAreWithinTheUsableCPUs() {
    let cores = CPUTopology.physicalCores()
    #expect(cores >= 1 && cores <= ProcessInfo.processInfo.activeProcessorCount)
    #expect(ThreadPool.defaultThreadCount == cores)
}

@Test func usableCPUsCoverThePhysicalCores() {
    let cpus = CPUTopology.usableCPUs()
    #expect(cpus >= CPUTopology.physicalCores() && cpus <= ProcessInfo.processInfo.activeProcessorCount)
}

@Test func memoryLimitReadsCgroupFilesAndStaysWithinPhysicalMemory() {
    #expect(MemoryLimit.parseLimit("max\n") == nil)
    #expect(MemoryLimit.parseLimit("1073741824\n") == 1_073_741_824)
    #expect(MemoryLimit.parseLimit("9223372036854771712\n") == nil)  // cgroup v1's "unlimited"
    #expect(MemoryLimit.parseLimit("") == nil && MemoryLimit.parseLimit("12x") == nil)
    let usable = MemoryLimit.usableBytes()
    #expect(usable > 0 && usable <= Int(ProcessInfo.processInfo.physicalMemory))
}
