-- Adds CHECK (stock >= 0) and the optimistic-locking version column to books. SQLite cannot add a
-- CHECK constraint with ALTER TABLE, so this rebuilds the table with the 12-step procedure of
-- https://sqlite.org/lang_altertable.html#otheralter while order_lines rows point at books.
-- The runner does steps 1, 2, 10, 11 and 12: foreign keys off before BEGIN IMMEDIATE,
-- PRAGMA foreign_key_check before COMMIT, foreign keys back on after.

-- migrate:up
-- 4. Create the new table in its final shape.
CREATE TABLE new_books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    title TEXT NOT NULL,
    isbn TEXT NOT NULL UNIQUE,
    price REAL NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0),
    version INTEGER NOT NULL DEFAULT 0
);
-- 5. Copy the rows; ids are kept, so order_lines.book_id still points at the same books.
INSERT INTO new_books (id, author_id, title, isbn, price, stock)
    SELECT id, author_id, title, isbn, price, stock FROM books;
-- 6. Drop the old table (its index goes with it).
DROP TABLE books;
-- 7. Give the new table the old name: order_lines' REFERENCES books(id) now means this table.
ALTER TABLE new_books RENAME TO books;
-- 8. Recreate the indexes (and triggers and views, when there are any).
CREATE INDEX books_author_id ON books(author_id);

-- migrate:down
CREATE TABLE old_books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    title TEXT NOT NULL,
    isbn TEXT NOT NULL UNIQUE,
    price REAL NOT NULL,
    stock INTEGER NOT NULL
);
INSERT INTO old_books (id, author_id, title, isbn, price, stock)
    SELECT id, author_id, title, isbn, price, stock FROM books;
DROP TABLE books;
ALTER TABLE old_books RENAME TO books;
CREATE INDEX books_author_id ON books(author_id);
