import Foundation
import Logging

/// How a ``Database`` opens and runs its connections. Every field has a sensible default.
///
/// ```swift
/// var config = Configuration()
/// config.synchronous = .full      // fsync on every commit
/// config.readerCount = 8
/// let db = try Database(path: "app.sqlite", configuration: config)
/// ```
public struct Configuration: Sendable {
    /// `PRAGMA synchronous` (https://sqlite.org/pragma.html#pragma_synchronous). In WAL mode,
    /// `normal` never corrupts the database and survives an application crash; a power loss may
    /// lose the last commits. `full` makes every commit durable across power loss.
    public enum Synchronous: String, Sendable {
        case off = "OFF"
        case normal = "NORMAL"
        case full = "FULL"
        case extra = "EXTRA"
    }

    /// Default: `.normal`.
    public var synchronous: Synchronous = .normal
    /// `PRAGMA foreign_keys`. Default: on.
    public var foreignKeys = true
    /// How long a write waits for the write lock while another process holds it (another app
    /// instance, a worker, `docket migrate`, a `sqlite3` shell): the deadline after which the write
    /// fails with `SQLITE_BUSY` and a message that names this setting. Default: 30 s. Docket's own
    /// connections never wait for each other; the writer waits in short jittered sleeps, and the
    /// jobs that queue up meanwhile commit together once it has the lock. See `Docs/Concurrency.md`,
    /// "More than one process".
    public var busyTimeout: Duration = .seconds(30)
    /// Reader connections in the pool. Default: the number of cores, at least 2.
    public var readerCount = max(2, ProcessInfo.processInfo.activeProcessorCount)
    /// Prepared statements kept per connection (least recently used ones are finalized).
    public var statementCacheCapacity = 64
    /// Group commit: how many waiting write jobs may share one transaction, and for how long the
    /// writer keeps adding jobs to a running group. Set `maximumJobs` to 1 to turn it off.
    public var groupCommit = GroupCommit()
    /// SQL is logged at `.debug` when a logger is set.
    public var logger: Logger?
    /// Runs on every new connection after Docket's pragmas, e.g. to register functions.
    public var prepareConnection: (@Sendable (Connection) throws -> Void)?
    /// Called with the SQL of every statement a connection starts (`sqlite3_trace_v2`), on that
    /// connection's thread. For tests and diagnostics; it costs a call per statement when set.
    public var trace: (@Sendable (TraceEvent) -> Void)?
    /// The SQLite VFS to open connections with; `nil` is the default VFS. Tests use this for fault
    /// injection.
    public var vfsName: String?

    public init() {}
}

/// Bounds on group commit. See `Docs/Concurrency.md`.
public struct GroupCommit: Sendable {
    /// At most this many jobs share one transaction. 1 turns group commit off.
    public var maximumJobs: Int
    /// The writer stops adding waiting jobs to a group once the group has run this long, so the
    /// first job of a group is never held back by many after it.
    public var maximumDuration: Duration

    public init(maximumJobs: Int = 64, maximumDuration: Duration = .milliseconds(10)) {
        self.maximumJobs = max(1, maximumJobs)
        self.maximumDuration = maximumDuration
    }

    /// One job per transaction.
    public static let disabled = GroupCommit(maximumJobs: 1)
}

/// One statement started by one of a database's connections.
public struct TraceEvent: Sendable, CustomStringConvertible {
    /// The statement's SQL, with `?` placeholders (values are not shown).
    public let sql: String
    /// `true` for the writer connection, `false` for a reader.
    public let isWriter: Bool

    public var description: String { sql }
}
