-- migrate:up foreign_keys:on
INSERT INTO t VALUES ('it''s; -- not a comment');
/* block; */
-- migrate:down
DELETE FROM t;
