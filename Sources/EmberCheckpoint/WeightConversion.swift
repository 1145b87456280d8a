// Tensor data changed while a checkpoint loads, into buffers the checkpoint owns: rows reordered,
// values widened to F32 and changed, or rows quantized into ggml's blocks (Q8_0, Q4_K, Q4_0) or
// narrowed to F16, so that a BF16 checkpoint runs with the same types and kernels as a quantized GGUF.

import EmberFormats

enum WeightConversion {
    /// Types a checkpoint can be quantized to while it loads.
    static let quantizationTypes: [TensorType] = [.q8_0, .q4_K, .q4_0, .f16]

    /// A tensor of `type` and `shape` whose bytes `fill` writes.
    static func owned(name: String, type: TensorType, shape: [Int], fill: (UnsafeMutableRawBufferPointer) -> Void) -> TensorView {
        let elements = shape.reduce(1, *)
        let bytes = type.byteCount(elements: elements)!
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< bytes]))
        let file = MappedFile(owning: buffer, path: "converted:\(name)")
        let info = TensorInfo(name: name, type: type, shape: shape, dataOffset: 0, elementCount: elements, byteCount: bytes)
        return TensorView(info: info, bytes: UnsafeRawBufferPointer(rebasing: file.bytes[0 ..< bytes]), file: file)
    }

    /// Element `index` of a float row of `type` (F32, F16 or BF16).
    @inline(__always)
    static func load(_ row: UnsafeRawPointer, _ index: Int, type: TensorType) -> Float {
        switch type {
        case .f32: row.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
        case .f16: Float(row.loadUnaligned(fromByteOffset: 2 * index, as: Float16.self))
        default: Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)) << 16)
        }
    }

    /// `view` with its rows reordered within each of `heads` heads: transformers keeps a head's RoPE
    /// pairs as its first and second halves, GGUF's Llama as neighbours (llama.cpp's `permute`).
    static func interleavingHeads(_ view: TensorView, heads: Int) throws(CheckpointError) -> TensorView {
        let rows = view.info.rowCount, rowBytes = view.info.rowBytes
        guard heads > 0, rows % (2 * heads) == 0 else {
            throw .tensorShape(tensor: view.name, reason: "\(rows) rows do not split into \(heads) heads of RoPE pairs")
        }
        let half = rows / heads / 2
        return owned(name: view.name, type: view.type, shape: view.shape) { output in
            for head in 0 ..< heads {
                for pair in 0 ..< half {
                    for side in 0 ..< 2 {
                        let from = head * 2 * half + side * half + pair, to = head * 2 * half + 2 * pair + side
                        (output.baseAddress! + to * rowBytes).copyMemory(from: view.row(from), byteCount: rowBytes)
                    }
                }
            }
        }
    }

    /// `view` as F32 with `change` applied to every value.
    static func widened(_ view: TensorView, _ change: (Float) -> Float) -> TensorView {
        owned(name: view.name, type: .f32, shape: view.shape) { output in
            let values = output.bindMemory(to: Float.self)
            for index in 0 ..< view.info.elementCount { values[index] = change(load(view.base, index, type: view.type)) }
        }
    }

    /// `view` quantized to `type` row by row, or nil when its rows are not whole blocks of it. Rows
    /// that are not whole 256-value blocks get Q5_0 instead of Q4_K, as llama.cpp's quantizer does.
    static func quantized(_ view: TensorView, to requested: TensorType) throws(CheckpointError) -> TensorView? {
        guard quantizationTypes.contains(requested) else { throw .unsupportedQuantization(requested) }
        let rowLength = view.info.rowLength
        let type = requested == .q4_K && rowLength % 256 != 0 ? .q5_0 : requested
        guard rowLength % type.blockSize == 0, view.type != type else { return nil }
        let outputRowBytes = rowLength / type.blockSize * type.bytesPerBlock
        return owned(name: view.name, type: type, shape: view.shape) { output in
            var row = [Float](repeating: 0, count: rowLength)
            for index in 0 ..< view.info.rowCount {
                let source = view.row(index)
                for i in 0 ..< rowLength { row[i] = load(source, i, type: view.type) }
                let destination = output.baseAddress! + index * outputRowBytes
                switch type {
                case .q8_0: quantizeQ8_0(row, into: destination)
                case .q4_0: quantizeQ4_0(row, into: destination)
                case .q5_0: quantizeQ5_0(row, into: destination)
                case .q4_K: Q4KQuantizer.quantize(row, into: destination)
                default: for i in 0 ..< rowLength { destination.storeBytes(of: Float16(row[i]), toByteOffset: 2 * i, as: Float16.self) }
                }
            }
        }
    }

    /// ggml's `quantize_row_q8_0_ref`: per 32 values, d = max|x| / 127 (F16) and round(x / d).
    static func quantizeQ8_0(_ row: [Float], into output: UnsafeMutableRawPointer) {
        for block in 0 ..< row.count / 32 {
            let values = row[block * 32 ..< block * 32 + 32], out = output + block * 34
            let amax = values.reduce(0) { max($0, abs($1)) }
            let d = amax / 127, inverse: Float = d == 0 ? 0 : 1 / d
            out.storeBytes(of: Float16(d), as: Float16.self)
            for (i, x) in values.enumerated() { out.storeBytes(of: Int8((x * inverse).rounded()), toByteOffset: 2 + i, as: Int8.self) }
        }
    }

    /// ggml's `quantize_row_q5_0_ref`: codes min(31, x / d + 16.5) (`d` from `offsetCodes`), low
    /// nibbles as Q4_0's, the fifth bits in a 32-bit mask after the scale.
    static func quantizeQ5_0(_ row: [Float], into output: UnsafeMutableRawPointer) {
        offsetCodes(row, levels: 16, blockBytes: 22, into: output) { codes, out in
            var high: UInt32 = 0
            for i in 0 ..< 16 {
                out.storeBytes(of: (codes[i] & 0xF) | (codes[i + 16] & 0xF) << 4, toByteOffset: 6 + i, as: UInt8.self)
                high |= UInt32(codes[i] >> 4) << i | UInt32(codes[i + 16] >> 4) << (i + 16)
            }
            out.storeBytes(of: high.littleEndian, toByteOffset: 2, as: UInt32.self)
        }
    }

    /// ggml's `quantize_row_q4_0_ref`: nibbles min(15, x / d + 8.5), the block's first 16 in the low
    /// halves of its 16 bytes after the scale.
    static func quantizeQ4_0(_ row: [Float], into output: UnsafeMutableRawPointer) {
        offsetCodes(row, levels: 8, blockBytes: 18, into: output) { codes, out in
            for i in 0 ..< 16 { out.storeBytes(of: codes[i] | codes[i + 16] << 4, toByteOffset: 2 + i, as: UInt8.self) }
        }
    }

    /// The codes of ggml's offset types (Q4_0, Q5_0), per 32 values: d = (the value of largest
    /// magnitude) / -levels, stored as F16 at the block's start, and codes min(2 levels - 1,
    /// x / d + levels + 0.5), which `pack` stores.
    static func offsetCodes(_ row: [Float], levels: Float, blockBytes: Int, into output: UnsafeMutableRawPointer,
                            pack: ([UInt8], UnsafeMutableRawPointer) -> Void) {
        var codes = [UInt8](repeating: 0, count: 32)
        for block in 0 ..< row.count / 32 {
            let values = row[block * 32 ..< block * 32 + 32], out = output + block * blockBytes
            let extreme = values.max { abs($0) < abs($1) } ?? 0
            let d = extreme / -levels, inverse: Float = d == 0 ? 0 : 1 / d
            out.storeBytes(of: Float16(d), as: Float16.self)
            for (i, x) in values.enumerated() { codes[i] = UInt8(min(Int8(2 * levels - 1), Int8(x * inverse + (levels + 0.5)))) }
            pack(codes, out)
        }
    }
}
