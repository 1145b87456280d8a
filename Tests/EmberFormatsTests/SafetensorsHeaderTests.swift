// The safetensors header reader against files built here: a valid one read as written, each way a
// header can lie (a typed error naming the tensor), and mutations (every truncation, random byte
// flips), which must end in a header or a typed error, never a crash.

import EmberFormats
import Foundation
import Testing

/// A safetensors file: the JSON header as given, then `data` bytes.
private func file(_ header: String, data: Int) -> [UInt8] {
    let json = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + [UInt8](repeating: 7, count: data)
}

private func read(_ bytes: [UInt8], fileSize: Int? = nil) throws(SafetensorsError) -> SafetensorsHeader {
    try bytes.withUnsafeBytes { raw in
        Result { () throws(SafetensorsError) in try SafetensorsHeader(prefix: raw, fileSize: fileSize ?? bytes.count) }
    }.get()
}

private func error(_ header: String, data: Int) -> SafetensorsError? {
    do { _ = try read(file(header, data: data)); return nil } catch { return error }
}

private let valid = #"{"__metadata__": {"format": "pt"}, "b.weight": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [16, 28]}, "#
    + #""a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#

struct SafetensorsHeaderTests {
    @Test func aValidFileIsReadInFileOrder() throws {
        let bytes = file(valid, data: 28)
        let header = try read(bytes)
        let start = bytes.count - 28
        #expect(header.headerSize == start)
        #expect(header.tensors.map(\.name) == ["a.weight", "b.weight"])
        #expect(header.tensors.map(\.range) == [start ..< start + 16, start + 16 ..< start + 28])
        #expect(header.tensors[1].dtype == "BF16" && header.tensors[1].shape == [2, 3])
    }

    @Test func eachLieIsATypedErrorNamingTheTensor() {
        func tensor(_ name: String, _ dtype: String, _ shape: String, _ offsets: String) -> String {
            "\"\(name)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": \(offsets)}"
        }
        #expect(error("{" + tensor("x", "Q7", "[2]", "[0, 2]") + "}", data: 2) == .unknownDType("x", "Q7"))
        #expect(error("{" + tensor("x", "F16", "[3]", "[0, 4]") + "}", data: 4) == .sizeMismatch("x", shapeBytes: 6, offsets: 0 ..< 4))
        #expect(error("{" + tensor("x", "F64", "[4611686018427387904, 4]", "[0, 8]") + "}", data: 8)
            == .sizeMismatch("x", shapeBytes: nil, offsets: 0 ..< 8))
        let short = file("{" + tensor("x", "U8", "[9]", "[0, 9]") + "}", data: 4)
        #expect(throws: SafetensorsError.tensorOutOfBounds("x", end: short.count - 4 + 9, fileSize: short.count)) { try read(short) }
        #expect(error("{" + tensor("x", "U8", "[4]", "[0, 4]") + ", " + tensor("y", "U8", "[4]", "[2, 6]") + "}", data: 6)
            == .overlappingTensors("x", "y"))
        #expect(error("{" + tensor("x", "U8", "[4]", "[2, 6]") + "}", data: 6) == .gapBeforeTensor("x", offset: 0))
        #expect(error("{" + tensor("x", "U8", "[4]", "[0, 4]") + "}", data: 9) == .trailingData(bytes: 5))
        #expect(error("{" + tensor("x", "U8", "[4]", "[0, 4]") + ", " + tensor("x", "U8", "[4]", "[4, 8]") + "}", data: 8)
            == .duplicateTensor("x"))
        #expect(error("{" + tensor("x", "U8", "[4]", "[4, 0]") + "}", data: 4) == .invalidTensor("x"))
        #expect(error("{" + tensor("x", "U8", "[-4]", "[0, 4]") + "}", data: 4) == .invalidTensor("x"))
        #expect(error(#"{"x": {"dtype": "U8", "shape": [4]}}"#, data: 4) == .invalidTensor("x"))
        if case .invalidJSON? = error(#"{"x": {"dtype": "#, data: 0) {} else { Issue.record("a cut JSON header") }
        // A header longer than the file, or than any real one.
        var long = file("{}", data: 0)
        long.replaceSubrange(0 ..< 8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init))
        #expect(throws: SafetensorsError.invalidHeaderLength(1 << 40, fileSize: long.count)) { try read(long) }
        #expect(throws: SafetensorsError.truncated(needed: 8)) { try read([1, 2, 3], fileSize: 100) }
    }

    @Test func aKeyInsideAValueIsNoDuplicate() throws {
        // "dtype" appears in every entry, and a name may appear inside __metadata__.
        let header = #"{"__metadata__": {"a.weight": "x"}, "a.weight": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}"#
        #expect(try read(file(header, data: 2)).tensors.map(\.name) == ["a.weight"])
    }

    @Test func mutationsEndInAHeaderOrATypedError() {
        let original = file(valid, data: 28)
        for length in 0 ..< original.count {
            _ = try? read(Array(original[..<length]), fileSize: original.count)
            _ = try? read(Array(original[..<length]))
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0 ..< 3000 {
            var mutated = original
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &random) {
                mutated[Int.random(in: 0 ..< mutated.count, using: &random)] = UInt8.random(in: 0 ... 255, using: &random)
            }
            do { _ = try read(mutated) } catch {
                #expect(!"\(error)".isEmpty)
            }
        }
    }
}
