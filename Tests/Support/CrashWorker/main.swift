import CFaultVFS
import Docket
import Foundation

/// A process that commits units of work from many tasks until it is killed. Reliability tests
/// start it, read the commits it acknowledges, SIGKILL it at a random moment, and check the file.
///
/// Usage: `docket-crash-worker <database path> <tasks> [synchronous: normal|full] [commits per task]`.
/// Each unit of work inserts one author and two books linked to it, all carrying the commit's tag;
/// after `commit()` returns, the worker prints `ack <tag>` and flushes stdout. With a number of
/// commits per task, each task stops after that many, and the worker prints `done` and exits 0
/// (the multi-process tests run several at once on one file); a failed commit exits 3.
///
/// With a sixth argument `fault-after=N`, the database is opened on the fault-injecting VFS, which
/// fails every write, sync and truncate after the first N (once the tables exist): each commit then
/// prints `ack <tag>` or `fail <tag> <unknown|failed>`, and the worker carries on. The fault tests
/// SIGKILL it at a random moment around the fault and check each reported outcome.
struct Author: Model {
    var id: Int64?
    var name: String
}

struct Book: Model {
    var id: Int64?
    var authorID: Int64?
    var title: String
    static let columnNaming = ColumnNaming.snakeCase
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let tasks = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: docket-crash-worker <database> <tasks> [normal|full]\n".utf8))
    exit(2)
}
var configuration = Configuration()
configuration.synchronous = arguments.count > 3 && arguments[3] == "full" ? .full : .normal
let commitsPerTask = arguments.count > 4 ? Int(arguments[4]) : nil
let faultAfter = arguments.count > 5 && arguments[5].hasPrefix("fault-after=") ? Int32(arguments[5].dropFirst(12)) : nil
if faultAfter != nil {
    guard faultvfs_register() == 0 else { exit(4) }
    configuration.vfsName = "faultvfs"
}
let db = try Database(path: arguments[1], configuration: configuration)
try await db.write { db in
    try db.execute(
        """
        CREATE TABLE IF NOT EXISTS authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                                          title TEXT NOT NULL);
        """)
}
if let faultAfter { faultvfs_arm(faultAfter, 10 | (3 << 8)) }  // SQLITE_IOERR_WRITE
/// Writes a line straight to the pipe (unbuffered, one write(2) under PIPE_BUF bytes, so lines from
/// concurrent tasks never interleave and nothing sits in a buffer when the process is killed).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

emit("ready")
await withTaskGroup(of: Void.self) { group in
    for task in 0..<tasks {
        group.addTask {
            var n = 0
            while commitsPerTask.map({ n < $0 }) ?? true {
                n += 1
                let tag = "\(ProcessInfo.processInfo.processIdentifier)-\(task)-\(n)"
                do {
                    try await withUnitOfWork(db) { uow in
                        let author = uow.insert(Author(name: tag))
                        try uow.insert(Book(title: tag + "/a"), linking: \.authorID, to: author)
                        try uow.insert(Book(title: tag + "/b"), linking: \.authorID, to: author)
                    }
                    emit("ack \(tag)")
                } catch {
                    if faultAfter != nil {
                        let unknown = (error as? DatabaseError)?.isCommitOutcomeUnknown == true
                        emit("fail \(tag) \(unknown ? "unknown" : "failed")")
                        continue
                    }
                    FileHandle.standardError.write(Data("commit failed: \(error)\n".utf8))
                    exit(3)
                }
            }
        }
    }
}
emit("done")
