// SHA-256 of whole files and of strings (swift-crypto: hardware-accelerated where the CPU has it).

import Crypto
import Foundation

public enum SHA256Digest {
    /// Lower-case hex digest of `bytes`.
    static func hex(of bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        // In slices, so that a multi-gigabyte mapping is read front to back once.
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + (8 << 20), bytes.count)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset ..< end]))
            offset = end
        }
        return hex(hasher.finalize())
    }

    public static func hex(of text: String) -> String {
        hex(SHA256.hash(data: Data(text.utf8)))
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var result: [UInt8] = []
        for byte in digest {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 15)])
        }
        return String(decoding: result, as: UTF8.self)
    }
}
