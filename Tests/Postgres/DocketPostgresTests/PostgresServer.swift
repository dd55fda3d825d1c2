import Docket
import DocketPostgres
import Foundation
import Testing

/// A throwaway PostgreSQL server for the tests of this process, started at first use from the
/// installed server binaries (`/usr/lib/postgresql/*/bin`): `initdb` into a temporary folder, then
/// `postgres` on a free loopback port, as the `postgres` user when the tests run as root (the
/// server refuses root). A watcher stops the server and removes the folder when this process
/// ends, however it ends (even SIGKILL).
///
/// Without PostgreSQL installed the suite prints one "skipped: PostgreSQL not installed" line and
/// its tests do not run; under `CI=true` they run and fail, saying so.
enum PostgresServer {
    /// The server's base URL (database `postgres`), or why there is none.
    static let started: Result<PostgresURL, PostgresServerError> = {
        let result: Result<PostgresURL, PostgresServerError>
        do throws(PostgresServerError) { result = .success(try start()) } catch { result = .failure(error) }
        if case .failure(PostgresServerError.notInstalled) = result, !isCI {
            print(
                "skipped: PostgreSQL not installed (no /usr/lib/postgresql/*/bin/postgres); DocketPostgresTests did not run"
            )
        }
        return result
    }()

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether the tests run: a server started, or CI, where its absence must fail them.
    static var enabled: Bool {
        if case .failure(PostgresServerError.notInstalled) = started { return isCI }
        return true
    }

    /// A fresh database of its own for one test, dropped afterwards, so tests run in parallel.
    @discardableResult
    static func withDatabase<R>(_ body: (PostgresBackend) async throws -> R) async throws -> R {
        let base = try started.get()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try await PostgresBackend.open(base)
        try await admin.execute("CREATE DATABASE \(name)")
        var url = base
        url.database = name
        let db = try await PostgresBackend.open(url)
        do {
            let value = try await body(db)
            await db.close()
            try await admin.execute("DROP DATABASE \(name)")
            await admin.close()
            return value
        } catch {
            await db.close()
            _ = try? await admin.execute("DROP DATABASE \(name)")
            await admin.close()
            throw error
        }
    }

    private static func start() throws(PostgresServerError) -> PostgresURL {
        let fm = FileManager.default
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted {
            $0.compare($1, options: .numeric) == .orderedDescending
        }
        guard
            let version = versions.first(where: {
                fm.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/postgres")
            })
        else { throw .notInstalled }
        let bin = "/usr/lib/postgresql/\(version)/bin"
        let asRoot = getuid() == 0
        // A short folder: the socket path `<folder>/.s.PGSQL.<port>` must fit in 107 bytes.
        let folder = "/tmp/docket-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: false)
            if asRoot { try fm.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: folder) }
        } catch {
            throw .failed("cannot make \(folder): \(error)")
        }
        func command(_ arguments: [String]) -> [String] {
            asRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments
        }
        let initdb = run(
            command([
                "\(bin)/initdb", "-D", "\(folder)/data", "-U", "docket", "--auth=trust", "-E", "UTF8", "--locale=C",
                "--no-sync",
            ]), in: folder)
        guard initdb.status == 0 else { throw .failed("initdb failed: \(initdb.output)") }
        for _ in 0..<5 {
            let port = freePort()
            // The watcher: starts the server, waits while this process lives, then stops it (SIGINT,
            // fast shutdown) and removes the folder.
            let script = """
                "\(bin)/postgres" -D "\(folder)/data" -k "\(folder)" -p \(port) -c listen_addresses=127.0.0.1 \
                  -c fsync=off -c max_connections=200 > "\(folder)/log" 2>&1 &
                pid=$!
                while [ -d /proc/\(getpid()) ] && kill -0 $pid 2>/dev/null; do sleep 0.5; done
                kill -INT $pid 2>/dev/null; wait $pid; rm -rf "\(folder)"
                """
            let watcher = Process()
            watcher.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            watcher.arguments = command(["sh", "-c", script])
            watcher.currentDirectoryURL = URL(fileURLWithPath: folder)
            watcher.standardOutput = FileHandle.nullDevice
            watcher.standardError = FileHandle.nullDevice
            do { try watcher.run() } catch { throw .failed("cannot start postgres: \(error)") }
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, watcher.isRunning {
                if run(["\(bin)/pg_isready", "-q", "-h", "127.0.0.1", "-p", "\(port)"], in: folder).status == 0 {
                    return PostgresURL(
                        host: "127.0.0.1", port: port, user: "docket", database: "postgres", sslMode: .disable)
                }
                usleep(100_000)
            }
            let log = (try? String(contentsOfFile: "\(folder)/log", encoding: .utf8)) ?? ""
            guard log.contains("could not bind") else { throw .failed("postgres did not start: \(log)") }
        }
        throw .failed("postgres found no free port in 5 tries")
    }

    private static func run(_ arguments: [String], in folder: String) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A loopback port nothing listens on now (the kernel's choice for port 0).
    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum PostgresServerError: Error, CustomStringConvertible {
    case notInstalled
    case failed(String)

    var description: String {
        switch self {
        case .notInstalled:
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres), and CI=true requires it: "
                + "apt-get install -y postgresql"
        case .failed(let why): "the test PostgreSQL server did not start: \(why)"
        }
    }
}
