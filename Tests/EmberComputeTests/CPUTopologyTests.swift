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
