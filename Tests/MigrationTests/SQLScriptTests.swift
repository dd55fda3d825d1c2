import Foundation
import Testing

@testable import Docket
@testable import DocketMigrations

@Suite struct SQLScriptTests {
    private func split(_ text: String, firstLine: Int = 1) throws -> [SQLStatement] {
        try SQLScript.split(text, firstLine: firstLine).get()
    }

    @Test func givenStatementsOnSeveralLines_whenSplit_thenEachHasTheLineOfItsFirstToken() throws {
        let statements = try split(
            """
            CREATE TABLE a (id INTEGER);

            -- a comment before the second statement
            INSERT INTO a VALUES (1);
            INSERT INTO a
                VALUES (2);
            """, firstLine: 10)
        #expect(statements.map(\.line) == [10, 13, 14])
        #expect(statements[1].sql == "-- a comment before the second statement\nINSERT INTO a VALUES (1);")
        #expect(statements[2].sql == "INSERT INTO a\n    VALUES (2);")
    }

    @Test func givenATriggerWithBeginEnd_whenSplit_thenItStaysOneStatement() throws {
        let statements = try split(
            """
            CREATE TABLE log (message TEXT);
            CREATE TRIGGER books_stock AFTER UPDATE OF stock ON books BEGIN
                INSERT INTO log VALUES ('stock changed; again');
                UPDATE books SET version = version + 1 WHERE id = new.id;
            END;
            SELECT 1;
            """)
        #expect(statements.count == 3)
        #expect(statements[1].sql.hasPrefix("CREATE TRIGGER"))
        #expect(statements[1].sql.hasSuffix("END;"))
        #expect(statements.map(\.line) == [1, 2, 6])
    }

    @Test func givenSemicolonsInStringsQuotedNamesAndComments_whenSplit_thenTheyDoNotEndStatements() throws {
        let statements = try split(
            """
            INSERT INTO t VALUES ('a;b', "c;d"); /* x; y */ INSERT INTO t VALUES ([e;f]);
            -- trailing comment; with a semicolon
            """)
        #expect(
            statements.map(\.sql) == [
                "INSERT INTO t VALUES ('a;b', \"c;d\");", "/* x; y */ INSERT INTO t VALUES ([e;f]);",
            ])
    }

    @Test func givenALastStatementWithoutSemicolon_whenSplit_thenItIsKept() throws {
        let statements = try split("SELECT 1;\nSELECT 2")
        #expect(statements.map(\.sql) == ["SELECT 1;", "SELECT 2"])
        #expect(statements.map(\.line) == [1, 2])
    }

    @Test func givenOnlyCommentsAndEmptyStatements_whenSplit_thenThereAreNoStatements() throws {
        #expect(try split("-- nothing\n;;\n/* still nothing */\n").isEmpty)
    }

    @Test func givenAnUnterminatedTrigger_whenSplit_thenTheErrorNamesTheLineItStartsOn() {
        let result = SQLScript.split(
            "SELECT 1;\n\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM b;\n", firstLine: 5)
        #expect(throws: SQLScript.SplitError(line: 7)) { try result.get() }
    }

    @Test func givenAnUnclosedString_whenSplit_thenItIsAnError() {
        #expect(throws: SQLScript.SplitError(line: 2)) { try SQLScript.split("SELECT 1;\nSELECT 'oops;\n").get() }
    }
}
