-- migrate:up
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    placed_at TEXT NOT NULL,
    total REAL NOT NULL DEFAULT 0
);

-- migrate:down
DROP TABLE orders;
