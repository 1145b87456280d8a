// Every metadata value type, nested arrays and version 2 files round-trip through the reader.

import EmberFormats
import EmberTestSupport
import Testing

@Suite struct GGUFValueTests {
    @Test(arguments: [UInt32(2), 3])
    func everyValueTypeParses(version: UInt32) throws {
        var b = GGUFBuilder()
        b.header(version: version, tensors: 1, keys: 14)
        func key(_ name: String, _ type: GGUFValueType, _ write: (inout GGUFBuilder) -> Void) {
            b.string(name)
            b.u32(type.rawValue)
            write(&b)
        }
        key("u8", .uint8) { $0.u8(200) }
        key("i8", .int8) { $0.u8(0xFF) }
        key("u16", .uint16) { $0.bytes += [0x34, 0x12] }
        key("i16", .int16) { $0.bytes += [0xFE, 0xFF] }
        key("u32", .uint32) { $0.u32(4_000_000_000) }
        key("i32", .int32) { $0.i32(-5) }
        key("u64", .uint64) { $0.u64(1 << 40) }
        key("i64", .int64) { $0.u64(UInt64(bitPattern: -7)) }
        key("f32", .float32) { $0.f32(1.5) }
        key("f64", .float64) { $0.u64((2.25).bitPattern) }
        key("bool", .bool) { $0.u8(1) }
        key("string", .string) { $0.string("héllo ✓") }
        key("strings", .array) { b in
            b.u32(GGUFValueType.string.rawValue)
            b.u64(2)
            b.string("a")
            b.string("")
        }
        key("nested", .array) { b in
            b.u32(GGUFValueType.array.rawValue)
            b.u64(2)
            b.u32(GGUFValueType.int32.rawValue)
            b.u64(2)
            b.i32(1)
            b.i32(-2)
            b.u32(GGUFValueType.float32.rawValue)
            b.u64(1)
            b.f32(0.5)
        }
        b.tensor("weight", shape: [4, 2], type: TensorType.f16.rawValue, offset: 0)
        b.data(count: 16)

        let file = try b.parse()
        let m = file.metadata
        #expect(file.version == version)
        #expect(m.keys == ["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "bool", "string", "strings", "nested"])
        #expect(m["u8"] == .uint8(200))
        #expect(m["i8"] == .int8(-1))
        #expect(m["u16"] == .uint16(0x1234))
        #expect(m["i16"] == .int16(-2))
        #expect(try m.int("u32") == 4_000_000_000)
        #expect(m["i32"] == .int32(-5))
        #expect(m["u64"] == .uint64(1 << 40))
        #expect(m["i64"] == .int64(-7))
        #expect(try m.float("f32") == 1.5)
        #expect(m["f64"] == .float64(2.25))
        #expect(try m.bool("bool"))
        #expect(try m.string("string") == "héllo ✓")
        #expect(try m.array("strings").strings == ["a", ""])
        #expect(try m.array("nested") == .array([.int32([1, -2]), .float32([0.5])]))
        let tensor = try #require(file.tensorInfo(named: "weight"))
        #expect(tensor.type == .f16 && tensor.shape == [4, 2] && tensor.byteCount == 16 && tensor.rowCount == 2)
    }

    @Test func typedAccessorsNameTheKey() throws {
        var b = GGUFBuilder()
        b.header(tensors: 0, keys: 1)
        b.key("general.name", string: "x")
        let m = try b.parse().metadata
        #expect(throws: MetadataError.wrongType(key: "general.name", expected: "an integer", found: .string)) { try m.int("general.name") }
        #expect(throws: MetadataError.missing(key: "llama.block_count")) { try m.int("llama.block_count") }
        #expect(try m.intIfPresent("absent") == nil)
    }
}
