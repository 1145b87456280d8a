// Row-wise CPU operations that are memory-bound and simple: RMS normalisation, SwiGLU, residual add.
// Rows are split across the pool; within a row, 8-lane SIMD (all widths used by models are multiples
// of 32).

import EmberFormats

extension CPUBackend {
    public func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float, rows: Int, into output: Tensor) {
        let width = x.rowLength
        precondition(width % 8 == 0 && weight.type == .f32 && weight.rowLength == width)
        let gain = UnsafeRawPointer(weight.data)
        pool.parallelFor(rows) { range in
            for row in range {
                let input = UnsafeRawPointer(x.floats(row: row))
                let result = UnsafeMutableRawPointer(output.floats(row: row))
                var squares = SIMD8<Float>()
                for offset in stride(from: 0, to: width * 4, by: 32) {
                    let v = input.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    squares.addProduct(v, v)
                }
                let scale = 1 / (squares.sum() / Float(width) + epsilon).squareRoot()
                for offset in stride(from: 0, to: width * 4, by: 32) {
                    let v = input.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    let g = gain.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    result.storeBytes(of: v * scale * g, toByteOffset: offset, as: SIMD8<Float>.self)
                }
            }
        }
    }

    public func swiglu(gate: Tensor, up: Tensor, rows: Int, into output: Tensor) {
        let width = gate.rowLength
        precondition(width % 8 == 0 && up.rowLength == width && output.rowLength == width)
        pool.parallelFor(rows) { range in
            for row in range {
                let g = UnsafeRawPointer(gate.floats(row: row)), u = UnsafeRawPointer(up.floats(row: row))
                let result = UnsafeMutableRawPointer(output.floats(row: row))
                for offset in stride(from: 0, to: width * 4, by: 32) {
                    let a = g.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    let b = u.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    let silu = a / (1 + exp(-a))
                    result.storeBytes(of: silu * b, toByteOffset: offset, as: SIMD8<Float>.self)
                }
            }
        }
    }

    public func add(_ x: Tensor, rows: Int, into accumulator: Tensor) {
        let width = x.rowLength
        precondition(width % 8 == 0 && accumulator.rowLength == width)
        pool.parallelFor(rows) { range in
            for row in range {
                let source = UnsafeRawPointer(x.floats(row: row))
                let target = UnsafeMutableRawPointer(accumulator.floats(row: row))
                for offset in stride(from: 0, to: width * 4, by: 32) {
                    let sum = target.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                        + source.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    target.storeBytes(of: sum, toByteOffset: offset, as: SIMD8<Float>.self)
                }
            }
        }
    }
}
