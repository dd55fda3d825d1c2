-- Books, one author each. The stock CHECK and the version column come later, through the table
-- rebuild of 20261123120500_rebuild_books.

-- migrate:up
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    title TEXT NOT NULL,
    isbn TEXT NOT NULL UNIQUE,
    price REAL NOT NULL,
    stock INTEGER NOT NULL
);
CREATE INDEX books_author_id ON books(author_id);

-- migrate:down
DROP TABLE books;
