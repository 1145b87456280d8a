// `ember devices`: the Vulkan devices of this machine and the features Ember uses on each, or one line
// saying why there are none (no loader, no driver). The CPU is always there and is the default.

import ArgumentParser
import EmberVulkan

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the devices Ember can compute on: the CPU, and the Vulkan GPUs.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply(command: "devices")
        print("cpu  the default")
        do {
            let devices = try VulkanDevice.all()
            if devices.isEmpty { print("vulkan: the loader found no device (no driver installed)") }
            for device in devices { print(device.summary) }
        } catch {
            print("vulkan: \(error)")
        }
    }
}
