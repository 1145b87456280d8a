// GPT-2's byte-to-character mapping for byte-level BPE: printable Latin-1 bytes stand for themselves,
// the other 68 bytes map to U+0100 and up in byte order. Token texts are written in this alphabet.

enum ByteLevelAlphabet {
    /// The character each byte is written as.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The UTF-8 of each byte's character (one or two bytes).
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { Array(String(Unicode.Scalar($0)!).utf8) }

    /// The byte a character stands for, or nil for a character outside the alphabet.
    @inline(__always)
    static func byte(for scalar: UInt32) -> UInt8? {
        if scalar < 256 { return isPrintable(Int(scalar)) ? UInt8(scalar) : nil }
        return scalar < 256 + 68 ? nonPrintableBytes[Int(scalar) - 256] : nil
    }

    private static let nonPrintableBytes: [UInt8] = (0..<256).filter { !isPrintable($0) }.map { UInt8($0) }

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
