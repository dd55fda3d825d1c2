/// When ``withUnitOfWork(_:scope:retry:isolation:_:)`` runs its body again: after a conflict (a
/// stale write: another commit changed a row this unit of work loaded), with a fresh unit of work,
/// a bounded number of times, waiting a jittered, growing delay between attempts.
///
/// ```swift
/// try await withUnitOfWork(db, retry: .conflicts(attempts: 10)) { uow in
///     var counter = try await uow.find(Counter.self, id: 1)!
///     counter.value += 1
///     uow.update(counter)
/// }   // a stale write re-runs the body (up to 10 attempts in all); db.retryCount counts the re-runs
/// ```
///
/// The body must be safe to run again: everything it does outside the unit of work (sending mail,
/// appending to an array) happens once per attempt.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included (at least 1).
    public var attempts: Int
    /// The delay before the first retry; each later retry waits up to twice as long as the one
    /// before, capped at `maximumDelay`. Each delay is drawn at random from its upper half, so that
    /// tasks that conflicted together do not retry in step.
    public var baseDelay: Duration
    public var maximumDelay: Duration

    public init(attempts: Int, baseDelay: Duration = .microseconds(200), maximumDelay: Duration = .milliseconds(50)) {
        self.attempts = max(1, attempts)
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// No retry: a conflict is thrown to the caller (the default of `withUnitOfWork`).
    public static let never = RetryPolicy(attempts: 1)

    /// Retry conflicts, `attempts` attempts in all.
    public static func conflicts(
        attempts: Int = 8, baseDelay: Duration = .microseconds(200), maximumDelay: Duration = .milliseconds(50)
    ) -> RetryPolicy {
        RetryPolicy(attempts: attempts, baseDelay: baseDelay, maximumDelay: maximumDelay)
    }

    /// `true` for the errors a retry can cure: another commit got there first.
    public static func isConflict(_ error: any Error) -> Bool {
        if case UnitOfWorkError.staleWrite = error { return true }
        if let error = error as? DatabaseError, error.isRetryableConflict { return true }
        return (error as? any RetryableConflict) != nil
    }

    /// The delay before retry number `retry` (1 for the first).
    func delay(beforeRetry retry: Int) -> Duration {
        var cap = baseDelay
        for _ in 1..<max(1, min(retry, 30)) where cap < maximumDelay { cap = cap * 2 }
        cap = min(cap, maximumDelay)
        return cap * Double.random(in: 0.5...1.0)
    }
}

/// An error a backend raises when a transaction lost a race that running it again can win (for
/// example a serialization failure or a deadlock on PostgreSQL). ``RetryPolicy`` retries these like
/// stale writes.
public protocol RetryableConflict: Error {}
