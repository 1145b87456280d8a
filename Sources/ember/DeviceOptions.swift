// `--gpu` and `--device`: where a model runs. The CPU is the default; the GPU runs on Vulkan compute
// (`ember devices` lists what this machine has).

import ArgumentParser
import EmberEngine

struct DeviceOptions: ParsableArguments {
    @Flag(help: "Run on the first Vulkan GPU (the same as --device vulkan:0).")
    var gpu = false

    @Option(help: "Where to run: cpu (the default), vulkan or vulkan:N (ember devices lists them).")
    var device: String?

    func validate() throws {
        if let device, ComputeDevice(device) == nil {
            throw ValidationError("--device must be cpu, vulkan or vulkan:N, not \"\(device)\"")
        }
        if gpu, let device, ComputeDevice(device) == .cpu { throw ValidationError("--gpu and --device cpu contradict each other") }
    }

    var computeDevice: ComputeDevice { device.flatMap(ComputeDevice.init) ?? (gpu ? .vulkan(0) : .cpu) }
}
