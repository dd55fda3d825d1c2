-- The bookstore example's authors.

-- migrate:up
CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    bio TEXT
);

-- migrate:down
DROP TABLE authors;
