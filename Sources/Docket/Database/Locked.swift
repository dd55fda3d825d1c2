import Foundation

/// A value behind a lock that ThreadSanitizer understands.
///
/// Swift's `Synchronization.Mutex` is built on raw futexes on Linux, which ThreadSanitizer cannot
/// see: every access it protects is then reported as a race, and `.ci/run` judges the TSan run by
/// its exit status. `Locked` uses `NSLock` (a `pthread_mutex`, which TSan intercepts) instead.
///
/// `@unchecked Sendable`: `value` is only ever read or written inside `withLock`, under `lock`.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
