import Docket
import Testing

/// The unit of work's statements are written once, from a dialect's primitives (issue 16's seam):
/// SQLite's text, and the same statements with numbered parameters as PostgreSQL writes them.
@Suite struct SQLDialectTests {
    /// Numbered parameters and `IS NOT DISTINCT FROM`, as PostgreSQL spells them.
    struct NumberedDialect: SQLDialect {
        func parameter(_ position: Int) -> String { "$\(position)" }
        var nullSafeEquals: String { "IS NOT DISTINCT FROM" }
        var maximumParameters: Int { 65_535 }
    }

    let sqlite = SQLiteDialect()
    let numbered = NumberedDialect()

    @Test func givenSQLite_whenBuildingEachStatement_thenTheTextIsSQLites() {
        #expect(
            sqlite.insert("books", columns: ["id", "title"]) == #"INSERT INTO "books" ("id", "title") VALUES (?, ?)"#)
        #expect(
            sqlite.update("books", set: ["title"], key: "id", version: "version", compare: ["pages"])
                == #"UPDATE "books" SET "title" = ?, "version" = ? WHERE "id" = ? AND "version" = ? AND "pages" IS ?"#)
        #expect(sqlite.delete("books", key: "id", version: nil) == #"DELETE FROM "books" WHERE "id" = ?"#)
        #expect(
            sqlite.upsert("tags", columns: ["id", "name", "count"], conflict: ["name"], key: "id", doNothing: false)
                == #"INSERT INTO "tags" ("id", "name", "count") VALUES (?, ?, ?) ON CONFLICT ("name") "#
                + #"DO UPDATE SET "count" = excluded."count" RETURNING "id""#)
        #expect(sqlite.selectByKey("books", columns: [], key: "id") == #"SELECT 1 FROM "books" WHERE "id" = ?"#)
    }

    @Test func givenNumberedParameters_whenBuildingAnUpdate_thenTheyCountInBindOrder() {
        // The executor binds: set values, new version, key, expected version, compared values.
        #expect(
            numbered.update("books", set: ["title", "pages"], key: "id", version: "version", compare: ["title"])
                == #"UPDATE "books" SET "title" = $1, "pages" = $2, "version" = $3 WHERE "id" = $4 AND "version" = $5 "#
                + #"AND "title" IS NOT DISTINCT FROM $6"#)
        #expect(
            numbered.delete("books", key: "id", version: "version")
                == #"DELETE FROM "books" WHERE "id" = $1 AND "version" = $2"#)
    }

    @Test func givenSeveralRows_whenBuildingAnInsert_thenParametersRunRowAfterRowAndKeysComeBack() {
        #expect(
            numbered.insert("books", columns: ["author_id", "title"], rows: 3, returning: ["id"])
                == #"INSERT INTO "books" ("author_id", "title") VALUES ($1, $2), ($3, $4), ($5, $6) RETURNING "id""#)
        // 65,535 parameters of 4 columns: 16,383 rows per statement, never more.
        #expect(numbered.rowsPerStatement(columns: 4) == 16_383)
        #expect(numbered.rowsPerStatement(columns: 4) * 4 <= numbered.maximumParameters)
        #expect(sqlite.rowsPerStatement(columns: 0) == 32_766)
    }

    @Test func givenANameHoldingAQuote_whenQuoted_thenTheQuoteIsDoubled() {
        #expect(sqlite.quote(#"odd"name"#) == #""odd""name""#)
        #expect(numbered.insert(#"a"b"#, columns: ["c"]) == #"INSERT INTO "a""b" ("c") VALUES ($1)"#)
    }
}
