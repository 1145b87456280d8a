// quantizeQ8 against numpy's rendering of ggml's x86 quantize_row_q8_1: quants, scales and sums
// must match bit for bit, ties and the all-zero block included.

import EmberCompute
import Testing

@Test func quantizeQ8MatchesGGMLReference() throws {
    let fixture = try Q8Fixture()
    let count = fixture.x.count
    var quants = [Int8](repeating: 0, count: count)
    var scales = [Float](repeating: .nan, count: count / 32)
    var sums = [Float](repeating: .nan, count: count / 32)
    quantizeQ8(fixture.x, count: count, quants: &quants, scales: &scales, sums: &sums)
    #expect(quants == fixture.quants)
    #expect(scales.map(\.bitPattern) == fixture.scales.map(\.bitPattern))
    #expect(sums.map(\.bitPattern) == fixture.sums.map(\.bitPattern))
}

@Test func quantizeQ8BufferRowsAreIndependent() {
    let x = randomActivations(96, seed: 5)
    let buffer = Q8Buffer(rowLength: 96, capacityRows: 2)
    buffer.quantize(row: 1, from: x)
    var quants = [Int8](repeating: 0, count: 96)
    var scales = [Float](repeating: 0, count: 3), sums = [Float](repeating: 0, count: 3)
    quantizeQ8(x, count: 96, quants: &quants, scales: &scales, sums: &sums)
    withExtendedLifetime(buffer) {
        let row = buffer.row(1)
        #expect((0 ..< 96).map { row.quants[$0] } == quants)
        #expect((0 ..< 3).map { row.scales[$0] } == scales)
        #expect((0 ..< 3).map { row.sums[$0] } == sums)
    }
}
