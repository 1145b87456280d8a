// One crafted file per way a GGUF header can be broken: each must give its own typed error naming the
// field and offset.

import EmberFormats
import EmberTestSupport
import Testing

@Suite struct GGUFValidationTests {
    /// A valid file with one key and one 8-float tensor, as a base to break.
    func valid() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 1)
        b.key("general.architecture", string: "llama")
        b.tensor("t", shape: [8], offset: 0)
        b.data(count: 32)
        return b
    }

    @Test func validBaseParses() throws {
        let file = try valid().parse()
        #expect(file.tensors.map(\.name) == ["t"])
        #expect(file.view(named: "t")?.bytes.count == 32)
    }

    @Test func badMagic() throws {
        var b = valid()
        b.bytes[0] = UInt8(ascii: "X")
        #expect(try b.parseError() == .badMagic(found: 0x4655_4758))
    }

    @Test func unsupportedVersion() throws {
        var b = GGUFBuilder()
        b.header(version: 4, tensors: 0, keys: 0)
        #expect(try b.parseError() == .unsupportedVersion(4))
        var v1 = GGUFBuilder()
        v1.header(version: 1, tensors: 0, keys: 0)
        #expect(try v1.parseError() == .unsupportedVersion(1))
    }

    @Test func emptyAndTinyFilesAreTruncated() throws {
        #expect(try GGUFBuilder().parseError() == .truncated(field: "magic", offset: 0, needed: 4, fileSize: 0))
        var b = GGUFBuilder()
        b.bytes = Array("GGUF".utf8) + [3, 0]
        #expect(try b.parseError() == .truncated(field: "version", offset: 4, needed: 4, fileSize: 6))
    }

    @Test func truncatedInsideAValue() throws {
        var b = valid()
        b.bytes.removeLast(b.bytes.count - 60)  // inside the length of the architecture string
        #expect(try b.parseError() == .truncated(field: "general.architecture", offset: 56, needed: 8, fileSize: 60))
    }

    @Test func stringLengthPastEndOfFile() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.u64(1000)  // key length, but only a few bytes follow
        b.bytes += [UInt8](repeating: 0x61, count: 19)
        #expect(try b.parseError() == .truncated(field: "metadata key #0", offset: 32, needed: 1000, fileSize: 51))
    }

    @Test func stringLengthOverTheSaneLimit() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.u64(UInt64.max)  // an allocation bomb if trusted
        b.bytes += [UInt8](repeating: 0, count: 16)
        #expect(try b.parseError() == .lengthTooLarge(field: "metadata key #0", offset: 24, length: UInt64.max, limit: 65535))
    }

    @Test func arrayLengthPastEndOfFile() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.string("tokens")
        b.u32(GGUFValueType.array.rawValue)
        b.u32(GGUFValueType.string.rawValue)
        let lengthOffset = b.bytes.count
        b.u64(1 << 40)
        #expect(try b.parseError() == .lengthTooLarge(field: "length of tokens", offset: lengthOffset, length: 1 << 40, limit: 0))
    }

    @Test func metadataCountLargerThanTheFile() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1 << 50)
        #expect(try b.parseError() == .lengthTooLarge(field: "metadata count", offset: 16, length: 1 << 50, limit: 0))
    }

    @Test func unknownValueType() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.string("k")
        b.u32(99)
        #expect(try b.parseError() == .unknownValueType(field: "k", offset: 33, rawType: 99))
    }

    @Test func arraysNestedTooDeep() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.string("deep")
        b.u32(GGUFValueType.array.rawValue)
        for _ in 0 ..< 10 {
            b.u32(GGUFValueType.array.rawValue)
            b.u64(1)
        }
        guard case .arrayNestingTooDeep(field: "deep", offset: _)? = try b.parseError() else {
            Issue.record("expected arrayNestingTooDeep")
            return
        }
    }

    @Test func invalidUTF8() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.u64(2)
        b.bytes += [0xC3, 0x28] + [UInt8](repeating: 0, count: 16)
        #expect(try b.parseError() == .invalidUTF8(field: "metadata key #0", offset: 24))
    }

    @Test func duplicateKey() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 2)
        b.key("a", u32: 1)
        let second = b.bytes.count
        b.key("a", u32: 2)
        #expect(try b.parseError() == .duplicateKey("a", offset: second))
    }

    @Test func invalidAlignment() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.key("general.alignment", u32: 3)
        guard case .invalidMetadata(key: "general.alignment", offset: 24, reason: _)? = try b.parseError() else {
            Issue.record("expected invalidMetadata")
            return
        }
    }

    @Test func moreThanFourDimensions() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [1, 1, 1, 1, 1], offset: 0)
        b.data(count: 4)
        #expect(try b.parseError() == .tooManyDimensions(tensor: "t", offset: 24, count: 5))
    }

    @Test func elementCountOverflow() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [1 << 32, 1 << 32], offset: 0)
        b.data(count: 4)
        #expect(try b.parseError() == .elementCountOverflow(tensor: "t", offset: 24))
    }

    @Test func byteCountOverflow() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [1 << 31, 1 << 31], offset: 0)  // fits in elements, not in bytes of f32
        b.data(count: 4)
        #expect(try b.parseError() == .elementCountOverflow(tensor: "t", offset: 24))
    }

    @Test func unknownTensorType() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [8], type: 77, offset: 0)
        b.data(count: 32)
        #expect(try b.parseError() == .unknownTensorType(tensor: "t", offset: 45, rawType: 77))
    }

    @Test func rowNotWholeBlocks() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [48], type: TensorType.q4_0.rawValue, offset: 0)
        b.data(count: 64)
        #expect(try b.parseError() == .rowNotWholeBlocks(tensor: "t", offset: 24, type: .q4_0, rowLength: 48))
    }

    @Test func tensorPastEndOfFile() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [64], offset: 0)
        b.data(count: 100)  // 256 needed
        #expect(try b.parseError() == .tensorOutOfBounds(tensor: "t", start: 64, end: 320, fileSize: 164))
    }

    @Test func tensorOffsetHugeDoesNotOverflow() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [8], offset: UInt64(Int64.max) - 31)
        b.data(count: 32)
        guard case .tensorOutOfBounds(tensor: "t", start: _, end: _, fileSize: _)? = try b.parseError() else {
            Issue.record("expected tensorOutOfBounds")
            return
        }
    }

    @Test func overlappingTensors() throws {
        var b = GGUFBuilder()
        b.header(tensors: 2, keys: 0)
        b.tensor("a", shape: [16], offset: 0)
        b.tensor("b", shape: [16], offset: 32)  // a spans 0..<64
        b.data(count: 128)
        #expect(try b.parseError() == .overlappingTensors(first: "a", second: "b", offset: 32))
    }

    @Test func misalignedTensor() throws {
        var b = GGUFBuilder()
        b.header(tensors: 1, keys: 0)
        b.tensor("t", shape: [8], offset: 4)
        b.data(count: 64)
        #expect(try b.parseError() == .misalignedTensor(tensor: "t", dataOffset: 4, alignment: 32))
    }

    @Test func customAlignmentIsHonoured() throws {
        var b = GGUFBuilder()
        b.header(tensors: 2, keys: 1)
        b.key("general.alignment", u32: 64)
        b.tensor("a", shape: [8], offset: 0)
        b.tensor("b", shape: [8], offset: 64)
        b.data(count: 128, alignment: 64)
        let file = try b.parse()
        #expect(file.alignment == 64)
        #expect(file.dataSectionOffset % 64 == 0)
        var misaligned = GGUFBuilder()
        misaligned.header(tensors: 1, keys: 1)
        misaligned.key("general.alignment", u32: 64)
        misaligned.tensor("a", shape: [8], offset: 32)
        misaligned.data(count: 128, alignment: 64)
        #expect(try misaligned.parseError() == .misalignedTensor(tensor: "a", dataOffset: 32, alignment: 64))
    }

    @Test func duplicateTensorName() throws {
        var b = GGUFBuilder()
        b.header(tensors: 2, keys: 0)
        b.tensor("t", shape: [8], offset: 0)
        let second = b.bytes.count
        b.tensor("t", shape: [8], offset: 32)
        b.data(count: 64)
        #expect(try b.parseError() == .duplicateTensor("t", offset: second))
    }

    @Test func invalidBool() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.string("flag")
        b.u32(GGUFValueType.bool.rawValue)
        b.u8(7)
        #expect(try b.parseError() == .invalidMetadata(key: "flag", offset: 40, reason: "bool byte is 7"))
    }

    @Test func missingFileIsATypedError() throws {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
    }

    @Test func errorMessagesNameFieldAndOffset() {
        let message = GGUFError.truncated(field: "shape of blk.0.attn_q.weight", offset: 1234, needed: 8, fileSize: 1236).description
        #expect(message.contains("blk.0.attn_q.weight") && message.contains("1234"))
    }
}
