// Row-wise CPU operations that are memory-bound and simple: RMS normalisation (with the residual add
// of the previous block in the same pass), the gated FFN's activations (SwiGLU, GeGLU), scaling and
// the logit softcap. A decode step's few rows are
// done on the calling thread, since handing them to the pool costs more than the work; 8-lane SIMD
// within a row (all widths used by models are multiples of 32).

import EmberFormats

extension CPUBackend {
    /// Work (rows x width) below which a row-wise operation stays on the calling thread.
    static let inlineElements = 1 << 14

    func rmsNorm(_ x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, into output: Tensor) {
        let width = x.rowLength, rows = current.tokens.count
        precondition(width % 8 == 0 && weight.type == .f32 && weight.rowLength == width)
        precondition(adding.map { $0.rowLength == width && $0.rowCount >= rows } ?? true)
        forEachRow(rows, width: width, RMSNormWork(x: x, adding: adding, weight: weight, epsilon: epsilon, output: output))
    }

    private struct RMSNormWork: RowWork {
        let x: Tensor, adding: Tensor?, weight: Tensor
        let epsilon: Float
        let output: Tensor

        func run(row: Int) {
            let width = x.rowLength
            let gain = UnsafeRawPointer(weight.data)
            let stream = UnsafeMutableRawPointer(x.floats(row: row))
            let added = adding.map { UnsafeRawPointer($0.floats(row: row)) }
            let result = UnsafeMutableRawPointer(output.floats(row: row))
            var squares = SIMD8<Float>()
            for offset in stride(from: 0, to: width * 4, by: 32) {
                var v = stream.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                if let added {
                    v += added.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    stream.storeBytes(of: v, toByteOffset: offset, as: SIMD8<Float>.self)
                }
                squares.addProduct(v, v)
            }
            let scale = 1 / (horizontalSum(squares) / Float(width) + epsilon).squareRoot()
            for offset in stride(from: 0, to: width * 4, by: 32) {
                let v = stream.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                let g = gain.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                result.storeBytes(of: v * scale * g, toByteOffset: offset, as: SIMD8<Float>.self)
            }
        }
    }

    /// `work` for each of `rows` rows of `width` elements: on the pool when there is enough work, else
    /// on this thread.
    func forEachRow<Work: RowWork>(_ rows: Int, width: Int, _ work: Work) {
        if rows * width < Self.inlineElements {
            for row in 0 ..< rows { work.run(row: row) }
        } else {
            pool.parallelFor(rows, EachRow(work: work))
        }
    }
}

/// Work done row by row (see `CPUBackend.forEachRow`).
protocol RowWork {
    func run(row: Int)
}

private struct EachRow<Work: RowWork>: PoolRangeWork {
    let work: Work

    func run(_ range: Range<Int>) {
        for row in range { work.run(row: row) }
    }
}

/// `gates[i] = silu(gates[i]) * ups[i]` for `count` values, silu(x) = x / (1 + e^-x).
func siluTimes(_ gates: UnsafeMutablePointer<Float>, _ ups: UnsafePointer<Float>, count: Int) {
    let g = UnsafeMutableRawPointer(gates), u = UnsafeRawPointer(ups)
    var i = 0
    while i + 8 <= count {
        let a = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let b = u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        g.storeBytes(of: a / (1 + exp(-a)) * b, toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        var lanes = SIMD8<Float>()
        lanes[0] = gates[i]
        gates[i] = (lanes / (1 + exp(-lanes)))[0] * ups[i]
        i += 1
    }
}

/// `gates[i] = gelu(gates[i]) * ups[i]` for `count` values, with GELU's tanh approximation
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)),
/// which is the same function.
func geluTanhTimes(_ gates: UnsafeMutablePointer<Float>, _ ups: UnsafePointer<Float>, count: Int) {
    let g = UnsafeMutableRawPointer(gates), u = UnsafeRawPointer(ups)
    let twiceRoot2OverPi: Float = 2 * (2 / Float.pi).squareRoot(), cubic: Float = 0.044715
    @inline(__always) func gelu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x / (1 + exp(-twiceRoot2OverPi * (x + cubic * x * x * x)))
    }
    var i = 0
    while i + 8 <= count {
        let a = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let b = u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        g.storeBytes(of: gelu(a) * b, toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        var lanes = SIMD8<Float>()
        lanes[0] = gates[i]
        gates[i] = gelu(lanes)[0] * ups[i]
        i += 1
    }
}

extension CPUBackend {
    func scale(_ x: Tensor, by factor: Float) {
        precondition(x.type == .f32 && x.rowLength % 8 == 0 && current.tokens.count <= x.rowCount)
        for row in 0 ..< current.tokens.count {
            let v = UnsafeMutableRawPointer(x.floats(row: row))
            for offset in stride(from: 0, to: x.rowLength * 4, by: 32) {
                v.storeBytes(of: v.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * factor, toByteOffset: offset,
                             as: SIMD8<Float>.self)
            }
        }
    }

    /// tanh(y) as 1 - 2 / (e^2y + 1): exact at both saturations (e^2y overflowing or vanishing).
    func softcap(_ x: Tensor, rows: Int, cap: Float) {
        precondition(x.type == .f32 && x.rowLength % 8 == 0 && rows <= x.rowCount && cap > 0)
        for row in 0 ..< rows {
            let v = UnsafeMutableRawPointer(x.floats(row: row))
            for offset in stride(from: 0, to: x.rowLength * 4, by: 32) {
                let y = v.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) / cap
                v.storeBytes(of: cap * (1 - 2 / (exp(2 * y) + 1)), toByteOffset: offset, as: SIMD8<Float>.self)
            }
        }
    }
}
