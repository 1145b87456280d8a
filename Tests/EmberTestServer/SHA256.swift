// Hex sha256 digests for ETags, X-Linked-ETags and sidecar files.

import Crypto
import Foundation

enum SHA256Hex {
    static func of(_ bytes: UnsafeRawBufferPointer) -> String {
        Crypto.SHA256.hash(data: bytes).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
        }.joined()
    }
}
