// Device memory for tensors, sub-allocated from large blocks: weights, caches and activations each
// take a 256-byte-aligned range of a block, so a model needs a few allocations rather than hundreds.
// A block is never larger than the device lets one storage binding see (lavapipe: 128 MiB), so a
// shader can always bind a whole block; a tensor larger than a block is split by rows into parts.

final class DeviceArena {
    /// Where part of a tensor lives: rows `firstRow ..< firstRow + rows` at `offset` bytes of `buffer`.
    struct Part {
        let buffer: VulkanBuffer
        let offset: Int
        let firstRow: Int
        let rows: Int
    }

    let context: VulkanContext
    let blockBytes: Int
    private var blocks: [VulkanBuffer] = []
    private var used = 0

    init(context: VulkanContext, blockBytes: Int) {
        self.context = context
        self.blockBytes = blockBytes
    }

    /// Room for `rows` rows of `rowBytes` each: one part, or several when they do not fit one block.
    func allocate(rows: Int, rowBytes: Int) throws(VulkanError) -> [Part] {
        let rowsPerBlock = max(1, blockBytes / max(rowBytes, 1))
        guard rowBytes <= blockBytes else {
            throw .unavailable("a tensor row of \(rowBytes) bytes exceeds the \(blockBytes) bytes one GPU binding can see")
        }
        var parts: [Part] = []
        var first = 0
        while first < rows || (rows == 0 && parts.isEmpty) {
            let wanted = min(rows - first, rowsPerBlock)
            let (buffer, offset) = try take(bytes: max(wanted * rowBytes, 4))
            parts.append(Part(buffer: buffer, offset: offset, firstRow: first, rows: wanted))
            first += wanted
            if rows == 0 { break }
        }
        return parts
    }

    private func take(bytes: Int) throws(VulkanError) -> (VulkanBuffer, Int) {
        let start = (used + 255) / 256 * 256
        if let block = blocks.last, start + bytes <= block.byteCount {
            used = start + bytes
            return (block, start)
        }
        // A new block: from 16 MiB, twice the last one's size, up to the most one binding sees.
        let size = max(bytes, min(blockBytes, blocks.last.map { 2 * $0.byteCount } ?? 16 << 20))
        let block = try context.makeBuffer(bytes: size, hostVisible: false)
        blocks.append(block)
        used = bytes
        return (block, 0)
    }
}
