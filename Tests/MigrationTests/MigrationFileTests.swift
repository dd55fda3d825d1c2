import Foundation
import Testing

@testable import Docket
@testable import DocketMigrations

@Suite struct MigrationFileTests {
    private func parse(_ contents: String) -> Result<Migration, MigrationErrors> {
        MigrationFile.parse(path: "Migrations/1_x.sql", version: 1, name: "x", contents: contents)
    }

    private func problems(_ contents: String) -> [MigrationError] {
        if case .failure(let errors) = parse(contents) { return errors.problems }
        return []
    }

    @Test func givenFileNames_whenParsed_thenOnlyDigitsUnderscoreNameDotSqlAreAccepted() {
        #expect(MigrationFile.parseName("20261123124500_create_books.sql")! == (20_261_123_124_500, "create_books"))
        #expect(MigrationFile.parseName("007_add-index.v2.sql")! == (7, "add-index.v2"))
        for bad in [
            "create_books.sql", "v1_books.sql", "1_.sql", "1-books.sql", "1_books.SQL", "1_two words.sql",
            "99999999999999999999_too_big.sql",
        ] {
            #expect(MigrationFile.parseName(bad) == nil, "\(bad)")
        }
    }

    @Test func givenUpAndDownSectionsWithOptions_whenParsed_thenStepsCarryStatementsLinesAndOptions() throws {
        let migration = try parse(
            """
            -- a comment before the first marker is fine
            -- migrate:up transaction:false
            CREATE INDEX a_b ON a(b);
            VACUUM;
            -- migrate:down foreign_keys:on
            DROP INDEX a_b;
            """
        ).get()
        #expect(migration.up.statements.map(\.line) == [3, 4])
        #expect(migration.up.options.transaction == false)
        #expect(migration.up.options.foreignKeysOff == false)
        #expect(migration.down?.statements.map(\.sql) == ["DROP INDEX a_b;"])
        #expect(migration.down?.options.transaction == true)
        #expect(migration.down?.options.foreignKeysOff == false)
        #expect(migration.down?.options.description == "foreign_keys:on")
    }

    @Test func givenIrreversibleDown_whenParsed_thenTheMigrationHasNoDownStep() throws {
        let migration = try parse("-- migrate:up\nDELETE FROM a;\n-- migrate:down irreversible\n").get()
        #expect(migration.down == nil)
        #expect(migration.downMarkerLine == 3)
    }

    @Test func givenNoDownSection_whenParsed_thenTheProblemSaysHowToFixIt() {
        let found = problems("-- migrate:up\nCREATE TABLE a (id INTEGER);\n")
        #expect(found.map(\.kind) == [.missingDownSection])
        #expect(found.first?.message.contains("-- migrate:down irreversible") == true)
    }

    @Test func givenEmptySections_whenParsed_thenBothAreReported() {
        let found = problems("-- migrate:up\n-- only a comment\n-- migrate:down\n\n")
        #expect(found.map(\.kind) == [.missingUpSection, .missingDownSection])
        #expect(found.map(\.line) == [1, 3])
    }

    @Test func givenMarkerMistakes_whenParsed_thenEachIsReportedWithItsLine() {
        let found = problems(
            """
            CREATE TABLE stray (id INTEGER);
            -- migrate:up transaction:maybe
            SELECT 1;
            -- migrate:upp
            -- migrate:down
            SELECT 2;
            -- migrate:down
            """)
        #expect(found.map(\.kind) == [.malformedFile, .malformedFile, .malformedFile, .malformedFile])
        #expect(Set(found.compactMap(\.line)) == [1, 2, 4, 7])
        #expect(found.contains { $0.line == 1 && $0.message.contains("SQL before") })
        #expect(found.contains { $0.line == 2 && $0.message.contains("unknown option 'transaction:maybe'") })
        #expect(found.contains { $0.line == 4 && $0.message.contains("not a section marker") })
        #expect(found.contains { $0.line == 7 && $0.message.contains("second '-- migrate:down'") })
    }

    @Test func givenForeignKeysOffWithoutTransaction_whenParsed_thenItIsRefused() {
        let found = problems(
            "-- migrate:up transaction:false foreign_keys:off\nSELECT 1;\n-- migrate:down\nSELECT 2;\n")
        #expect(found.first?.message.contains("needs a transaction") == true)
    }

    @Test func givenTheSameUpSectionWithBOMCRLFAndTrailingSpaces_whenParsed_thenTheChecksumIsTheSame() throws {
        let plain = try parse("-- migrate:up\nCREATE TABLE a (id INTEGER);\n-- migrate:down\nDROP TABLE a;\n").get()
        let noisy = try parse(
            "\u{FEFF}-- migrate:up  \r\n\r\nCREATE TABLE a (id INTEGER);   \t\r\n\r\n-- migrate:down\r\nDROP TABLE a;\r\n"
        ).get()
        let edited = try parse("-- migrate:up\nCREATE TABLE a (id INTEGER, b TEXT);\n-- migrate:down\nDROP TABLE a;\n")
            .get()
        #expect(plain.checksum == noisy.checksum)
        #expect(plain.checksum != edited.checksum)
        #expect(plain.checksum?.count == 64)
    }

    @Test func givenKnownText_whenChecksummed_thenItIsItsSHA256() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        #expect(
            MigrationFile.checksum(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
