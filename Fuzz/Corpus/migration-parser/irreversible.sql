-- migrate:up transaction:false
VACUUM;
-- migrate:down irreversible
