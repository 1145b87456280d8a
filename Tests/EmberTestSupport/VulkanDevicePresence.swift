// Whether this machine has a Vulkan device Ember can use. The GPU tests skip without one, unless
// EMBER_REQUIRE_VULKAN=1 (the test command sets it where it installed lavapipe): then a missing
// device fails them.

import EmberVulkan
import Foundation

public let requireVulkan = ProcessInfo.processInfo.environment["EMBER_REQUIRE_VULKAN"] == "1"
public let usableVulkanDevice: Bool = {
    let usable = ((try? VulkanDevice.all()) ?? []).contains { $0.missing.isEmpty }
    precondition(usable || !requireVulkan,
                 "EMBER_REQUIRE_VULKAN=1 but no usable Vulkan device: \((try? VulkanDevice.all()).map { "\($0)" } ?? "no loader")")
    return usable
}()
