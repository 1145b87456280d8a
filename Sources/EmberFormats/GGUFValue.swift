// Metadata values of a GGUF file. Arrays keep their element type and are stored unboxed, so memory
// stays proportional to the file (a 100 MB array of bytes is 100 MB, not 100 M enum cases).

public enum GGUFValueType: UInt32, Sendable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    public var description: String {
        switch self {
        case .uint8: "u8"
        case .int8: "i8"
        case .uint16: "u16"
        case .int16: "i16"
        case .uint32: "u32"
        case .int32: "i32"
        case .float32: "f32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "u64"
        case .int64: "i64"
        case .float64: "f64"
        }
    }
}

public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value as an integer if it is one (of any width) and fits.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): Int(v)
        case let .int8(v): Int(v)
        case let .uint16(v): Int(v)
        case let .int16(v): Int(v)
        case let .uint32(v): Int(v)
        case let .int32(v): Int(v)
        case let .uint64(v): Int(exactly: v)
        case let .int64(v): Int(v)
        default: nil
        }
    }

    /// The value as a float if it is any number.
    public var floatValue: Float? {
        switch self {
        case let .float32(v): v
        case let .float64(v): Float(v)
        default: intValue.map(Float.init)
        }
    }

    public var boolValue: Bool? {
        if case let .bool(v) = self { return v }
        return nil
    }

    public var stringValue: String? {
        if case let .string(v) = self { return v }
        return nil
    }

    public var arrayValue: GGUFArray? {
        if case let .array(v) = self { return v }
        return nil
    }

    /// A short rendering for listings: arrays show their type and length, long strings are cut.
    public var summary: String {
        switch self {
        case let .string(s): s.count > 80 ? "\"\(s.prefix(77))...\"" : "\"\(s)\""
        case let .array(a): "[\(a.elementType); \(a.count)]"
        case let .float32(v): "\(v)"
        case let .float64(v): "\(v)"
        case let .bool(v): "\(v)"
        default: "\(intValue.map(String.init) ?? "?")"
        }
    }
}

/// A homogeneous GGUF array. Nested arrays hold their own element type each.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32])
    case uint64([UInt64]), int64([Int64]), float32([Float]), float64([Double]), bool([Bool]), string([String])
    case array([GGUFArray])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    public var count: Int {
        switch self {
        case let .uint8(a): a.count
        case let .int8(a): a.count
        case let .uint16(a): a.count
        case let .int16(a): a.count
        case let .uint32(a): a.count
        case let .int32(a): a.count
        case let .uint64(a): a.count
        case let .int64(a): a.count
        case let .float32(a): a.count
        case let .float64(a): a.count
        case let .bool(a): a.count
        case let .string(a): a.count
        case let .array(a): a.count
        }
    }

    public var strings: [String]? {
        if case let .string(a) = self { return a }
        return nil
    }

    /// Elements as floats, for arrays of any numeric type.
    public var floats: [Float]? {
        switch self {
        case let .float32(a): a
        case let .float64(a): a.map(Float.init)
        default: integers?.map(Float.init)
        }
    }

    /// Elements as integers, for arrays of any integer type (nil if one does not fit `Int`).
    public var integers: [Int]? {
        switch self {
        case let .uint8(a): a.map(Int.init)
        case let .int8(a): a.map(Int.init)
        case let .uint16(a): a.map(Int.init)
        case let .int16(a): a.map(Int.init)
        case let .uint32(a): a.map(Int.init)
        case let .int32(a): a.map(Int.init)
        case let .int64(a): a.map(Int.init)
        case let .uint64(a):
            a.allSatisfy { $0 <= UInt64(Int.max) } ? a.map { Int($0) } : nil
        default: nil
        }
    }
}
