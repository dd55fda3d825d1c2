import Docket
import Foundation
import Testing

@Suite struct FlushOrderTests {
    @Test func givenChildrenQueuedBeforeTheirParent_whenCommitting_thenTheParentIsInsertedFirst() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Book(id: 10, authorID: 1, title: "The Left Hand of Darkness"))
        uow.insert(Book(id: 11, authorID: 1, title: "The Dispossessed"))
        uow.insert(Author(id: 1, name: "Ursula K. Le Guin"))
        try await uow.commit()

        #expect(
            fx.writes.map { String($0.prefix(20)) } == [
                "INSERT INTO \"authors", "INSERT INTO \"books\" ", "INSERT INTO \"books\" ",
            ])
        #expect(try fx.count("authors") == 1)
        #expect(try fx.count("books") == 2)
    }

    @Test func givenGeneratedParentKeys_whenCommitting_thenChildrenReceiveThem() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let author = uow.insert(Author(name: "Octavia E. Butler"))
        let kindred = try uow.insert(Book(title: "Kindred"), linking: \.authorID, to: author)
        let dawn = try uow.insert(Book(title: "Dawn"), linking: \.authorID, to: author)
        #expect(author.value.id == nil)
        try await uow.commit()

        let authorID = try #require(author.value.id)
        #expect(kindred.value.authorID == authorID)
        #expect(dawn.value.authorID == authorID)
        let stored = try await fx.db.read { try Book.all().order("id").fetchAll($0) }
        #expect(stored.map(\.authorID) == [authorID, authorID])
        #expect(stored.map(\.id) == [kindred.value.id, dawn.value.id])
    }

    @Test func givenParentAndChildrenDeletedParentFirst_whenCommitting_thenChildrenAreDeletedFirst() async throws {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute("INSERT INTO authors (id, name) VALUES (1, 'Iain M. Banks')")
            try $0.execute(
                "INSERT INTO books (id, author_id, title) VALUES (1, 1, 'Excession'), (2, 1, 'Look to Windward')")
        }
        fx.reset()
        let uow = UnitOfWork(database: fx.db)
        let author = try #require(try await uow.find(Author.self, id: 1))
        let books = try await uow.fetch(Book.filter("author_id = ?", [1]))
        uow.delete(author)
        for book in books { uow.delete(book) }
        try await uow.commit()

        #expect(
            fx.writes == [
                "DELETE FROM \"books\" WHERE \"id\" = ? AND \"version\" = ?",
                "DELETE FROM \"books\" WHERE \"id\" = ? AND \"version\" = ?",
                "DELETE FROM \"authors\" WHERE \"id\" = ?",
            ])
        #expect(try fx.count("authors") == 0)
        #expect(try fx.count("books") == 0)
    }

    @Test func givenAThreeLevelTree_whenInsertedInOneCommit_thenEachLevelGetsItsParentsKey() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let root = uow.insert(Category(name: "Fiction"))
        let child = try uow.insert(Category(name: "Science fiction"), linking: \.parentID, to: root)
        let grandchild = try uow.insert(Category(name: "Space opera"), linking: \.parentID, to: child)
        try await uow.commit()

        let rows = try await fx.db.read { try Category.all().order("id").fetchAll($0) }
        #expect(rows.count == 3)
        #expect(rows[0].parentID == nil)
        #expect(rows[1].parentID == root.value.id)
        #expect(rows[2].parentID == child.value.id)
        #expect(grandchild.value.parentID == child.value.id)
    }

    @Test func givenATreeWithKnownKeysQueuedLeafFirst_whenCommitting_thenRowsAreOrderedByReference() async throws {
        let fx = try Fixture { $0.foreignKeys = true }
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Category(id: 3, parentID: 2, name: "Space opera"))
        uow.insert(Category(id: 2, parentID: 1, name: "Science fiction"))
        uow.insert(Category(id: 1, parentID: nil, name: "Fiction"))
        let plan = try await uow.plan()
        #expect(plan.steps.count == 1)
        if case .insert(_, _, let rows) = plan.steps.first {
            #expect(rows == [2, 1, 0])
        } else {
            Issue.record("\(plan)")
        }
        try await uow.commit()
        #expect(try fx.count("categories") == 3)
    }

    @Test func givenAMutualReferenceCycle_whenCommitting_thenTheNullableSideIsPostUpdated() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let user = uow.insert(User(name: "ada"))
        let post = try uow.insert(Post(title: "Notes on the Analytical Engine"), linking: \.userID, to: user)
        try uow.link(user, \.favoritePostID, to: post)
        try await uow.commit()

        #expect(
            fx.writes == [
                "INSERT INTO \"users\" (\"id\", \"name\", \"favorite_post_id\") VALUES (?, ?, ?)",
                "INSERT INTO \"posts\" (\"id\", \"user_id\", \"title\") VALUES (?, ?, ?)",
                "UPDATE \"users\" SET \"favorite_post_id\" = ? WHERE \"id\" = ?",
            ])
        let userID = user.value.id
        let stored = try await fx.db.read { try User.find(userID, in: $0) }
        #expect(stored?.favoritePostID == post.value.id)
        #expect(user.value.favoritePostID == post.value.id)
        #expect(post.value.userID == user.value.id)
    }

    @Test func givenACycleOfNotNullKeys_whenCommitting_thenItFailsBeforeAnySQLNamingTheRows() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let chicken = uow.insert(Chicken())
        let egg = try uow.insert(Egg(), linking: \.chickenID, to: chicken)
        try uow.link(chicken, \.eggID, to: egg)
        fx.reset()
        let error = await #expect(throws: FlushError.self) { try await uow.commit() }
        let message = "\(error!)"
        #expect(message.contains("Chicken #1 chickens.egg_id ← key of Egg #2"))
        #expect(message.contains("Egg #2 eggs.chicken_id ← key of Chicken #1"))
        #expect(message.contains("nothing was written"))
        #expect(fx.writes.isEmpty)
        #expect(try fx.count("chickens") == 0)
        #expect(uow.pendingChangeCount == 2)
        #expect(chicken.value.id == nil)
    }

    @Test func givenADeleteAndAnInsertOfTheSameUniqueValue_whenCommitting_thenTheDeleteRunsFirst() async throws {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute("INSERT INTO authors (id, name) VALUES (1, 'N. K. Jemisin')")
            try $0.execute(
                "INSERT INTO books (id, author_id, title, isbn) VALUES (1, 1, 'The Fifth Season (1st ed.)', '978-0316229296')"
            )
        }
        fx.reset()
        let uow = UnitOfWork(database: fx.db)
        let old = try #require(try await uow.find(Book.self, id: 1))
        uow.insert(Book(authorID: 1, title: "The Fifth Season", isbn: "978-0316229296"))
        uow.delete(old)
        try await uow.commit()

        #expect(fx.writes.first?.hasPrefix("DELETE FROM \"books\"") == true)
        #expect(fx.writes.last?.hasPrefix("INSERT INTO \"books\"") == true)
        let titles = try await fx.db.read { try Book.fetchAll($0).map(\.title) }
        #expect(titles == ["The Fifth Season"])
    }

    @Test func givenQueuedChanges_whenPrinted_thenThePlanReadsAsOrderedSteps() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let author = uow.insert(Author(name: "Ted Chiang"))
        try uow.insert(Book(title: "Exhalation"), linking: \.authorID, to: author)
        let text = "\(try await uow.plan())"
        #expect(text.contains("1. INSERT INTO \"authors\""))
        #expect(text.contains("2. INSERT INTO \"books\""))
        #expect(text.contains("author_id ← key of #1"))
    }

    @Test func givenChangesWithoutADatabase_whenPlanned_thenThePlannerIsAPureFunction() throws {
        let authors = TableInfo.fixture("authors", foreignKeys: [])
        let books = TableInfo.fixture(
            "books", foreignKeys: [.init(parentTable: "authors", columns: ["author_id"], parentColumns: ["id"])])
        let changes = [
            RowChange(
                index: 0, kind: .insert, table: "books", model: "Book", columns: ["id", "author_id"],
                values: [.null, .null], snapshot: nil, keySlot: 0, generatesKey: true,
                links: [.init(slot: 1, parent: 1)], versionSlot: nil),
            RowChange(
                index: 1, kind: .insert, table: "authors", model: "Author", columns: ["id"], values: [.null],
                snapshot: nil, keySlot: 0, generatesKey: true, links: [], versionSlot: nil),
        ]
        let plan = try FlushPlanner.plan(changes, schema: ["authors": authors, "books": books])
        #expect(
            plan.steps == [
                .insert(table: "authors", columns: ["id"], rows: [1]),
                .insert(table: "books", columns: ["id", "author_id"], rows: [0]),
            ])
    }
}

extension TableInfo {
    static func fixture(_ name: String, foreignKeys: [ForeignKey]) -> TableInfo {
        TableInfo(
            name: name,
            columns: [
                .init(name: "id", declaredType: "INTEGER", notNull: false, hasDefault: false, primaryKeyIndex: 1)
            ],
            foreignKeys: foreignKeys)
    }
}
