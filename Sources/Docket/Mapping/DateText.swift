import Foundation

/// Fast ISO-8601 formatting and parsing for the `.iso8601` date strategy.
///
/// Foundation's `ISO8601DateFormatter` costs microseconds per date; this is a few dozen integer
/// operations. Dates are written in UTC with milliseconds (`2024-05-01T12:30:00.250Z`); reading
/// also accepts no fraction or up to 9 fraction digits, a `±HH:MM` offset, and a space instead
/// of `T` (SQLite's own `datetime()` format, read as UTC).
enum DateText {
    /// Seconds since 1970 from 0000-01-01T00:00:00Z up to, not including, 10000-01-01T00:00:00Z:
    /// the dates whose text has a four-digit year.
    static let representableRange = -62_167_219_200.0..<253_402_300_800.0

    static func format(_ date: Date) -> String {
        // Nearest, not down: a Date is a Double counted from 2001, so a whole millisecond read back
        // can sit a hair below itself once shifted to 1970.
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.toNearestOrEven))
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let msOfDay = millis - days * 86_400_000
        let (y, m, d) = civil(fromDays: days)
        let h = msOfDay / 3_600_000
        let mi = (msOfDay / 60_000) % 60
        let s = (msOfDay / 1000) % 60
        let ms = msOfDay % 1000
        // Written digit by digit into the string's own storage: no intermediate arrays per date.
        return String(unsafeUninitializedCapacity: 25) { out in
            var i = 0
            func put(_ byte: UInt8) {
                out[i] = byte
                i += 1
            }
            func put(_ value: Int64, _ width: Int) {
                var v = value
                for k in stride(from: i + width - 1, through: i, by: -1) {
                    out[k] = UInt8(48 + v % 10)
                    v /= 10
                }
                i += width
            }
            if y < 0 { put(45) }
            put(abs(y), 4)
            put(45)
            put(m, 2)
            put(45)
            put(d, 2)
            put(84)
            put(h, 2)
            put(58)
            put(mi, 2)
            put(58)
            put(s, 2)
            put(46)
            put(ms, 3)
            put(90)
            return i
        }
    }

    static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    private static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Date? {
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var v: Int64 = 0
            for _ in 0..<width {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
                i += 1
            }
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let y = number(4), expect(45), let m = number(2), expect(45), let d = number(2),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        var seconds = Double(days(fromCivil: y, m, d)) * 86_400
        if i == b.count { return Date(timeIntervalSince1970: seconds) }
        guard i < b.count, b[i] == 84 || b[i] == 32 else { return nil }
        i += 1
        guard let h = number(2), expect(58), let mi = number(2), expect(58), let s = number(2),
            h < 24, mi < 60, s < 61
        else { return nil }
        seconds += Double(h * 3600 + mi * 60 + s)
        var fractionMillis: Int64 = 0
        if expect(46) {
            var digits = 0
            var value: Int64 = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 3 { value = value * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0, digits <= 9 else { return nil }
            if digits < 3 { for _ in digits..<3 { value *= 10 } }
            fractionMillis = value
        }
        if i < b.count {
            if b[i] == 90 {
                i += 1
            } else if b[i] == 43 || b[i] == 45 {
                let sign: Int64 = b[i] == 43 ? 1 : -1
                i += 1
                guard let oh = number(2), expect(58), let om = number(2) else { return nil }
                seconds -= Double(sign * (oh * 3600 + om * 60))
            } else {
                return nil
            }
        }
        guard i == b.count else { return nil }
        // Milliseconds are added as an integer count, so formatting what was parsed is exact.
        return Date(timeIntervalSince1970: (seconds * 1000 + Double(fractionMillis)) / 1000)
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(fromCivil y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z: Int64) -> (Int64, Int64, Int64) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
