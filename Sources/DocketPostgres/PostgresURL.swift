#if Postgres
    import Foundation
    import PostgresNIO

    /// Where a PostgreSQL database is, parsed from a URL:
    ///
    /// ```
    /// postgres://user:password@host:port/database?sslmode=disable
    /// postgresql://user@localhost/app                      (port 5432, no password, sslmode=prefer)
    /// ```
    ///
    /// User name, password and database name are percent-decoded (`p%40ss` is `p@ss`). `sslmode` is
    /// `disable`, `prefer` (the default, as libpq's) or `require`; `verify-full` and `verify-ca` are
    /// also `require`, with the server's certificate checked against the system's roots. Any other
    /// query parameter is refused, as is a URL without a user or a host, so that a typo is an error
    /// rather than a setting silently ignored.
    public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
        public enum SSLMode: String, Sendable, CaseIterable {
            case disable, prefer, require
            case verifyCA = "verify-ca"
            case verifyFull = "verify-full"
        }

        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String?
        public var sslMode: SSLMode

        public init(
            host: String, port: Int = 5432, user: String, password: String? = nil, database: String? = nil,
            sslMode: SSLMode = .prefer
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.sslMode = sslMode
        }

        /// Parses `text`; throws ``PostgresURLError`` naming the part at fault.
        public init(_ text: String) throws {
            guard let components = URLComponents(string: text) else {
                throw PostgresURLError(url: text, reason: "it is not a URL")
            }
            guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
                throw PostgresURLError(
                    url: text,
                    reason: "the scheme must be postgres:// or postgresql://, not \(components.scheme ?? "none")"
                )
            }
            guard let host = components.host, !host.isEmpty else {
                throw PostgresURLError(url: text, reason: "it names no host (postgres://user@HOST/database)")
            }
            guard let user = components.user, !user.isEmpty else {
                throw PostgresURLError(url: text, reason: "it names no user (postgres://USER@host/database)")
            }
            if let port = components.port, !(1...65_535).contains(port) {
                throw PostgresURLError(url: text, reason: "port \(port) is out of range (1 to 65535)")
            }
            var sslMode = SSLMode.prefer
            for item in components.queryItems ?? [] {
                guard item.name == "sslmode" else {
                    throw PostgresURLError(
                        url: text, reason: "unknown parameter \(item.name); only sslmode is understood")
                }
                guard let value = item.value, let mode = SSLMode(rawValue: value) else {
                    throw PostgresURLError(
                        url: text,
                        reason: "sslmode=\(item.value ?? "") is not one of "
                            + SSLMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                sslMode = mode
            }
            let path = components.percentEncodedPath.drop { $0 == "/" }
            guard !path.contains("/") else {
                throw PostgresURLError(url: text, reason: "the database name \(path) holds a /")
            }
            self.init(
                host: host, port: components.port ?? 5432, user: components.user ?? user,
                password: components.password,
                database: path.isEmpty ? nil : path.removingPercentEncoding ?? String(path),
                sslMode: sslMode)
        }

        /// The URL with the password hidden, for logs and error messages.
        public var description: String {
            var text = "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)"
            if let database { text += "/\(database)" }
            return text + "?sslmode=\(sslMode.rawValue)"
        }

        /// The postgres-nio client configuration for this URL.
        public var clientConfiguration: PostgresClient.Configuration {
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case .disable: tls = .disable
            case .prefer:
                var config = TLSConfiguration.makeClientConfiguration()
                config.certificateVerification = .none
                tls = .prefer(config)
            case .require:
                var config = TLSConfiguration.makeClientConfiguration()
                config.certificateVerification = .none
                tls = .require(config)
            case .verifyCA, .verifyFull:
                tls = .require(TLSConfiguration.makeClientConfiguration())
            }
            return PostgresClient.Configuration(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
    }

    /// A PostgreSQL URL that could not be used: the URL (password hidden) and why.
    public struct PostgresURLError: Error, Sendable, Equatable, CustomStringConvertible {
        public let url: String
        public let reason: String

        init(url: String, reason: String) {
            // Never repeat a password in an error message.
            if var components = URLComponents(string: url), components.password != nil {
                components.password = "***"
                self.url = components.string ?? "(URL hidden: it holds a password)"
            } else {
                self.url = url
            }
            self.reason = reason
        }

        public var description: String { "invalid PostgreSQL URL \(url): \(reason)" }
    }
#endif
