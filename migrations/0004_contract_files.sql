-- gryt local schema, version 4: what gryt last wrote to each contract file.
-- A pull compares each contract file with the hash recorded here: a file whose text differs
-- was edited by hand since, and is merged as a local edit instead of being overwritten.
CREATE TABLE contract_files (
    version    TEXT PRIMARY KEY,     -- the file is .gryt/generations/<version>.yaml
    sha256     TEXT NOT NULL,        -- hex SHA-256 of the bytes gryt last wrote or loaded
    written_at TEXT NOT NULL
);
