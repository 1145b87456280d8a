// The wall-clock time `strftime_now` formats, with Python's `strftime` directives in the C locale.
// Rendering takes it as a parameter so tests (and reproducible prompts) can fix the date.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

public struct JinjaDateTime: Sendable, Equatable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The local time now, as Python's `datetime.now()` gives it.
    public static func now() -> JinjaDateTime {
        var seconds = time(nil)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return JinjaDateTime(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                             hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }

    private static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                                     "September", "October", "November", "December"]
    private static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// Days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's `days_from_civil`.
    private var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// 0 for Monday through 6 for Sunday (1970-01-01 was a Thursday).
    private var weekday: Int { ((daysSinceEpoch % 7) + 7 + 3) % 7 }

    private var dayOfYear: Int {
        daysSinceEpoch - JinjaDateTime(year: year, month: 1, day: 1).daysSinceEpoch + 1
    }

    /// Python's `strftime(format)`; unknown directives stay as written, as glibc leaves them.
    func formatted(_ format: String) -> String {
        func padded(_ value: Int, _ width: Int = 2) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var result = ""
        var scalars = format.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == "%" else {
                result.unicodeScalars.append(scalar)
                continue
            }
            guard let directive = scalars.next() else {
                result += "%"
                break
            }
            let monthName = Self.monthNames[max(0, min(11, month - 1))]
            let weekdayName = Self.weekdayNames[weekday]
            switch directive {
            case "Y": result += String(year)
            case "y": result += padded(year % 100)
            case "m": result += padded(month)
            case "d": result += padded(day)
            case "e": result += (day < 10 ? " " : "") + String(day)
            case "H": result += padded(hour)
            case "I": result += padded(hour % 12 == 0 ? 12 : hour % 12)
            case "M": result += padded(minute)
            case "S": result += padded(second)
            case "p": result += hour < 12 ? "AM" : "PM"
            case "B": result += monthName
            case "b", "h": result += String(monthName.prefix(3))
            case "A": result += weekdayName
            case "a": result += String(weekdayName.prefix(3))
            case "j": result += padded(dayOfYear, 3)
            case "w": result += String((weekday + 1) % 7)
            case "u": result += String(weekday + 1)
            case "F": result += String(year) + "-" + padded(month) + "-" + padded(day)
            case "D": result += padded(month) + "/" + padded(day) + "/" + padded(year % 100)
            case "T": result += padded(hour) + ":" + padded(minute) + ":" + padded(second)
            case "R": result += padded(hour) + ":" + padded(minute)
            case "%": result += "%"
            default:
                result += "%"
                result.unicodeScalars.append(directive)
            }
        }
        return result
    }
}
