import DocketPostgres
import Testing

/// Opening from a URL: every part read, every mistake named (no server needed).
@Suite struct PostgresURLTests {
    @Test func givenAFullURL_whenParsed_thenEveryPartIsRead() throws {
        let url = try PostgresURL("postgres://app:p%40ss@db.example.com:6543/shop%20db?sslmode=require")
        #expect(url.user == "app")
        #expect(url.password == "p@ss")
        #expect(url.host == "db.example.com")
        #expect(url.port == 6543)
        #expect(url.database == "shop db")
        #expect(url.sslMode == .require)
        // The password never shows.
        #expect(url.description == "postgres://app:***@db.example.com:6543/shop db?sslmode=require")
    }

    @Test func givenAShortURL_whenParsed_thenDefaultsApply() throws {
        let url = try PostgresURL("postgresql://app@localhost")
        #expect(url.port == 5432)
        #expect(url.password == nil)
        #expect(url.database == nil)
        #expect(url.sslMode == .prefer)
    }

    @Test(arguments: [
        ("mysql://app@localhost/db", "the scheme must be postgres:// or postgresql://, not mysql"),
        ("postgres://localhost/db", "it names no user"),
        ("postgres://app@/db", "it names no host"),
        ("postgres://app@localhost:0/db", "port 0 is out of range"),
        ("postgres://app@localhost/db?sslmode=maybe", "sslmode=maybe is not one of disable, prefer, require"),
        ("postgres://app@localhost/db?timeout=5", "unknown parameter timeout"),
        ("postgres://app@localhost/a/b", "the database name a/b holds a /"),
        ("not a url at all", "the scheme must be"),
    ])
    func givenABadURL_whenParsed_thenTheErrorNamesThePartAtFault(url: String, reason: String) {
        #expect {
            try PostgresURL(url)
        } throws: { error in
            (error as? PostgresURLError)?.reason.contains(reason) == true
        }
    }

    @Test func givenABadURLWithAPassword_whenParsed_thenTheErrorHidesThePassword() {
        #expect {
            try PostgresURL("postgres://app:secret@localhost/db?sslmode=nope")
        } throws: { error in
            let text = "\(error)"
            return !text.contains("secret") && text.contains("***")
        }
    }
}
