// Trace events as JSON lines, written byte by byte into the recorder's buffer: formatting with the
// standard library (String(format:), JSONEncoder) would cost microseconds per event, and the `op`
// level records tens of thousands of events a second.

/// The phase types of the Chrome trace-event format that Ember writes.
enum EventPhase: UInt8 {
    case complete = 0x58  // "X": a span with ts and dur
    case instant = 0x69  // "i"
    case counter = 0x43  // "C"
    case metadata = 0x4D  // "M": process_name, thread_name
}

/// A growable byte buffer that events are written into with plain pointer stores: Array appends
/// (a capacity and uniqueness check per byte) made encoding most of an event's cost. It lives as long
/// as the process's one recorder and is never freed.
struct EventEncoder {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    var isEmpty: Bool { count == 0 }

    mutating func removeAll() { count = 0 }

    /// Makes room for `extra` more bytes.
    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: max(2 * capacity, count + extra))
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = max(2 * capacity, count + extra)
    }

    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count)
        if let source = bytes.baseAddress { (base + count).update(from: source, count: bytes.count) }
        count += bytes.count
    }

    mutating func ascii(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    /// A JSON string literal, quotes included.
    mutating func string(_ text: String) {
        append(0x22)
        defer { append(0x22) }
        // Names and arguments rarely need escaping: copy them whole.
        let copied = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else { return false }
            append(utf8)
            return true
        }
        if copied == true { return }
        for byte in text.utf8 {
            switch byte {
            case 0x22, 0x5C:
                append(0x5C)
                append(byte)
            case 0x0A: ascii("\\n")
            case 0x0D: ascii("\\r")
            case 0x09: ascii("\\t")
            case 0 ..< 0x20:
                ascii("\\u00")
                append(hexDigit(byte >> 4))
                append(hexDigit(byte & 15))
            default: append(byte)
            }
        }
    }

    mutating func integer(_ value: Int) {
        if value < 0 { append(0x2D) }
        unsigned(value.magnitude)
    }

    mutating func unsigned(_ value: UInt) {
        var digits = 1
        var power: UInt = 10
        while digits < 20 && value >= power {
            digits += 1
            power = power &* 10
        }
        reserve(digits)
        var rest = value
        for index in stride(from: count + digits - 1, through: count, by: -1) {
            base[index] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
            rest /= 10
        }
        count += digits
    }

    /// Nanoseconds as microseconds with three decimals, the unit of `ts` and `dur`.
    mutating func microseconds(_ nanoseconds: UInt64) {
        unsigned(UInt(nanoseconds / 1000))
        let fraction = nanoseconds % 1000
        append(0x2E)
        append(UInt8(fraction / 100) + 0x30)
        append(UInt8(fraction / 10 % 10) + 0x30)
        append(UInt8(fraction % 10) + 0x30)
    }

    mutating func value(_ value: TraceValue) {
        switch value {
        case let .int(number): integer(number)
        case let .double(number):
            guard number.isFinite else { return ascii("null") }
            var text = number.description
            text.withUTF8 { append($0) }
        case let .string(text): string(text)
        }
    }

    /// `{"name":…,"cat":…,"ph":…,"ts":…,` then the caller's fields, then `"pid":…,"tid":…,"args":{…}}`.
    mutating func event(_ phase: EventPhase, name: String, category: TraceLevel?, timestamp: UInt64?,
                        duration: UInt64? = nil, pid: Int, tid: Int, args: TraceArguments) {
        ascii("{\"name\":")
        string(name)
        if let category {
            ascii(",\"cat\":")
            string(category.name)
        }
        ascii(",\"ph\":\"")
        append(phase.rawValue)
        append(0x22)
        if let timestamp {
            ascii(",\"ts\":")
            microseconds(timestamp)
        }
        if let duration {
            ascii(",\"dur\":")
            microseconds(duration)
        }
        if phase == .instant { ascii(",\"s\":\"t\"") }
        ascii(",\"pid\":")
        integer(pid)
        ascii(",\"tid\":")
        integer(tid)
        if !args.isEmpty {
            ascii(",\"args\":{")
            for (index, (key, item)) in args.enumerated() {
                if index > 0 { append(0x2C) }
                string(key)
                append(0x3A)
                value(item)
            }
            append(0x7D)
        }
        ascii("}\n")
    }

    private func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? nibble + 0x30 : nibble - 10 + 0x61 }
}
