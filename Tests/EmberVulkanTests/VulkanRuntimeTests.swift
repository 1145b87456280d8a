// The Vulkan runtime on whatever device the machine has (lavapipe in CI): devices listed, a shader's
// result against the same arithmetic on the host, pipelines cached by their constants, a recording
// replayed with new inputs.

import EmberTestSupport
import EmberVulkan
import Foundation
import Testing

@Suite(.enabled(if: usableVulkanDevice || requireVulkan))
struct VulkanRuntimeTests {
    /// The host's RMSNorm in Double: x += adding (when given), then x / rms * weight.
    static func rmsNorm(_ x: inout [Float], adding: [Float]?, weight: [Float], width: Int, epsilon: Float) -> [Float] {
        var output = [Float](repeating: 0, count: x.count)
        for row in 0 ..< x.count / width {
            let range = row * width ..< (row + 1) * width
            if let adding { for i in range { x[i] += adding[i] } }
            let mean = range.reduce(0.0) { $0 + Double(x[$1]) * Double(x[$1]) } / Double(width)
            let scale = 1 / (mean + Double(epsilon)).squareRoot()
            for i in range { output[i] = Float(Double(x[i]) * scale * Double(weight[i - range.lowerBound])) }
        }
        return output
    }

    static func upload(_ values: [Float], to buffer: VulkanBuffer) {
        values.withUnsafeBytes { buffer.contents!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    static func download(_ buffer: VulkanBuffer, count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: buffer.contents!.assumingMemoryBound(to: Float.self), count: count))
    }

    @Test func devicesDescribeThemselves() throws {
        let devices = try VulkanDevice.all()
        #expect(!devices.isEmpty)
        for device in devices {
            #expect(device.summary.hasPrefix("vulkan:\(device.index)  \(device.name)"))
            #expect(device.subgroupSize > 0)
        }
    }

    @Test(arguments: [(rows: 3, width: 64, adds: false), (rows: 5, width: 1000, adds: true), (rows: 1, width: 7, adds: true)])
    func rmsNormMatchesTheHost(rows: Int, width: Int, adds: Bool) throws {
        let context = try VulkanContext()
        var random = SystemRandomNumberGenerator()
        let x = (0 ..< rows * width).map { _ in Float.random(in: -3 ... 3, using: &random) }
        let adding = (0 ..< rows * width).map { _ in Float.random(in: -1 ... 1, using: &random) }
        let weight = (0 ..< width).map { _ in Float.random(in: 0.5 ... 1.5, using: &random) }
        let epsilon: Float = 1e-5

        let residual = try context.makeBuffer(bytes: 4 * x.count, hostVisible: true)
        let addend = try context.makeBuffer(bytes: 4 * x.count, hostVisible: true)
        let gain = try context.makeBuffer(bytes: 4 * width, hostVisible: true)
        let output = try context.makeBuffer(bytes: 4 * x.count, hostVisible: true)
        Self.upload(x, to: residual)
        Self.upload(adding, to: addend)
        Self.upload(weight, to: gain)

        let pipeline = try context.pipeline("rms_norm", bindings: 4, pushBytes: 28, constants: [64])
        let recording = try context.makeRecording()
        try recording.begin()
        recording.dispatch(pipeline, [VulkanBinding(residual), VulkanBinding(addend), VulkanBinding(gain), VulkanBinding(output)],
                           push: [UInt32(width), adds ? 1 : 0, epsilon.bitPattern, 0, 0, 0, 0], groups: (rows, 1, 1))
        recording.barrier()
        try recording.end()
        try recording.run()

        var expectedResidual = x
        let expected = Self.rmsNorm(&expectedResidual, adding: adds ? adding : nil, weight: weight, width: width, epsilon: epsilon)
        let got = Self.download(output, count: x.count), gotResidual = Self.download(residual, count: x.count)
        for i in 0 ..< x.count {
            #expect(abs(got[i] - expected[i]) <= 1e-5 * max(1, abs(expected[i])), "output \(i)")
            #expect(abs(gotResidual[i] - expectedResidual[i]) <= 1e-6 * max(1, abs(expectedResidual[i])), "residual \(i)")
        }
    }

    @Test func pipelinesAreCachedByTheirConstants() throws {
        let context = try VulkanContext()
        let first = try context.pipeline("rms_norm", bindings: 4, pushBytes: 28, constants: [64])
        let again = try context.pipeline("rms_norm", bindings: 4, pushBytes: 28, constants: [64])
        let other = try context.pipeline("rms_norm", bindings: 4, pushBytes: 28, constants: [32])
        #expect(first == again && first != other && context.pipelineCount == 2)
        #expect(throws: VulkanError.self) { try context.pipeline("no_such_shader", bindings: 1, pushBytes: 0, constants: [64]) }
    }

    /// A recording made once and submitted again after its inputs change computes from the new inputs:
    /// how a decode step is replayed.
    @Test func aRecordingReplaysWithNewInputs() throws {
        let context = try VulkanContext()
        let width = 48
        let residual = try context.makeBuffer(bytes: 4 * width, hostVisible: true)
        let gain = try context.makeBuffer(bytes: 4 * width, hostVisible: true)
        let output = try context.makeBuffer(bytes: 4 * width, hostVisible: true)
        let weight = [Float](repeating: 2, count: width)
        Self.upload(weight, to: gain)
        let pipeline = try context.pipeline("rms_norm", bindings: 4, pushBytes: 28, constants: [32])
        let recording = try context.makeRecording()
        try recording.begin()
        recording.dispatch(pipeline, [VulkanBinding(residual), VulkanBinding(residual), VulkanBinding(gain), VulkanBinding(output)],
                           push: [UInt32(width), 0, Float(0).bitPattern, 0, 0, 0, 0], groups: (1, 1, 1))
        recording.barrier()
        try recording.end()
        for step in 1 ... 3 {
            var x = (0 ..< width).map { Float($0 % 5 + step) }
            Self.upload(x, to: residual)
            try recording.run()
            let expected = Self.rmsNorm(&x, adding: nil, weight: weight, width: width, epsilon: 0)
            let got = Self.download(output, count: width)
            #expect(zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-5 }, "step \(step)")
        }
    }
}
