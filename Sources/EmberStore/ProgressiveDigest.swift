// The sha256 of a download computed while it downloads: ranges are reported as they land, in any
// order, and a thread of its own hashes the file from the front as far as it is complete. When the
// last chunk lands, little is left to hash, so verifying a model costs almost no time after its
// download (hashing 100 MB at the end took a tenth of a fast download).

import Crypto
import Foundation

final class ProgressiveDigest: @unchecked Sendable {
    /// Held so that its memory outlives the hashing thread, whatever becomes of the download.
    private let sink: any DownloadSink
    private let bytes: UnsafeRawBufferPointer
    private let condition = NSCondition()
    /// Landed ranges not yet joined to the hashed front (guarded by `condition`).
    private var landed: [Range<Int>] = []
    /// Everything before this offset is hashed (guarded by `condition`).
    private var front = 0
    private var cancelled = false
    private var hasher = SHA256()

    /// Hashes what `sink` holds as its ranges land.
    init(of sink: any DownloadSink) {
        self.sink = sink
        bytes = sink.contents
        let thread = Thread { [self] in run() }
        thread.name = "ember-sha256"
        thread.start()
    }

    /// Reports that `range` holds its final bytes.
    func landed(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        condition.lock()
        landed.append(range)
        condition.signal()
        condition.unlock()
    }

    /// The hex digest, once every byte has landed.
    func finish() -> String {
        condition.lock()
        while front < bytes.count { condition.wait() }
        condition.unlock()
        return SHA256Digest.hex(hasher.finalize())
    }

    /// Stops hashing (the download failed).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            var end = front
            while !cancelled && front < bytes.count {
                end = landed.reduce(front) { $1.lowerBound <= $0 ? max($0, $1.upperBound) : $0 }
                landed.removeAll { $0.upperBound <= end }
                if end > front { break }
                condition.wait()
            }
            let start = front
            let done = cancelled || front >= bytes.count
            condition.unlock()
            if done { return }
            // Joining in one pass can miss a range that became adjacent only through a later one; the
            // next pass picks it up.
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[start ..< end]))
            condition.lock()
            front = end
            condition.broadcast()
            condition.unlock()
        }
    }
}
