// A UTF-8 fragment decoded once into code points with their flags and byte offsets: what the
// pre-tokenizer passes read, and how their code-point segments map back to bytes for BPE.

struct ScalarText {
    /// What the splitters read past the end of a segment.
    static let outOfRange: UInt32 = 0xFFFF_FFFF
    static let space = UInt32(UInt8(ascii: " "))
    static let carriageReturn = UInt32(UInt8(ascii: "\r"))
    static let lineFeed = UInt32(UInt8(ascii: "\n"))

    /// Code points of the fragment.
    var scalars: [UInt32] = []
    /// `CodepointFlags` raw values, one per code point.
    var flags: [UInt8] = []
    /// Byte offset of each code point in the fragment, plus the fragment's length at the end.
    var byteOffsets: [Int] = []

    /// Decodes `bytes`, which must be valid UTF-8 (it comes from a Swift `String`).
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        flags.removeAll(keepingCapacity: true)
        byteOffsets.removeAll(keepingCapacity: true)
        var index = 0
        while index < bytes.count {
            byteOffsets.append(index)
            let lead = UInt32(bytes[index])
            var scalar: UInt32
            if lead < 0x80 {
                scalar = lead
                index += 1
            } else if lead < 0xE0 {
                scalar = (lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)
                index += 2
            } else if lead < 0xF0 {
                scalar = (lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F)
                index += 3
            } else {
                scalar = (lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12
                    | UInt32(bytes[index + 2] & 0x3F) << 6 | UInt32(bytes[index + 3] & 0x3F)
                index += 4
            }
            scalars.append(scalar)
            flags.append(CodepointFlags.of(scalar).rawValue)
        }
        byteOffsets.append(bytes.count)
    }
}
