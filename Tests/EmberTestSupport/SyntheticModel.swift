// GGUF and safetensors files of a chosen shape filled with pseudo-random bytes, for tests and benchmarks that move
// model files around (downloads, remote reads) rather than run them.

import EmberFormats

public enum SyntheticModel {
    /// A valid GGUF file with one F32 tensor per entry of `tensorBytes` (each rounded down to a multiple
    /// of 4), `metadataBytes` of filler metadata (a long header), and contents that depend on `seed`.
    public static func gguf(tensorBytes: [Int], metadataBytes: Int = 0, seed: UInt64 = 1) -> [UInt8] {
        var state = seed | 1
        let tensors = tensorBytes.enumerated().map { index, bytes in
            (name: "blk.\(index).weight", shape: [bytes / 4], type: TensorType.f32, data: randomBytes(bytes / 4 * 4, state: &state))
        }
        var metadata: [(String, GGUFValue)] = [("general.architecture", .string("synthetic"))]
        if metadataBytes > 0 {
            metadata.append(("synthetic.filler", .string(String(repeating: "x", count: metadataBytes))))
        }
        return GGUFBuilder.file(metadata: metadata, tensors: tensors).bytes
    }

    /// A valid safetensors file with one F32 tensor per entry of `tensorBytes` (each rounded down to a
    /// multiple of 4), stored in order, with contents that depend on `seed`.
    public static func safetensors(tensorBytes: [Int], seed: UInt64 = 1) -> [UInt8] {
        var state = seed | 1, offset = 0, entries: [String] = [], data: [UInt8] = []
        for (index, bytes) in tensorBytes.enumerated() {
            let count = bytes / 4
            entries.append(#""blk.\#(index).weight": {"dtype": "F32", "shape": [\#(count)], "data_offsets": [\#(offset), \#(offset + count * 4)]}"#)
            data += randomBytes(count * 4, state: &state)
            offset += count * 4
        }
        var header = Array(("{" + entries.joined(separator: ", ") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        return withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + data
    }

    /// `count` bytes from a xorshift generator.
    public static func randomBytes(_ count: Int, state: inout UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            let pointer = raw.baseAddress!
            for index in 0 ..< words {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                pointer.storeBytes(of: state, toByteOffset: index * 8, as: UInt64.self)
            }
            for index in words * 8 ..< raw.count { raw[index] = UInt8(truncatingIfNeeded: state >> (index % 8 * 8)) }
        }
        return bytes
    }
}
