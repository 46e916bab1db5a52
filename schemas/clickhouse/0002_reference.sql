-- Reference data from schemas/reference/, replaced as a whole on every migrate run.

CREATE TABLE IF NOT EXISTS ref_units
(
    code            String,
    name            String,
    kind            String,
    former_province String
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_denominators
(
    unit_code String,
    measure   String,
    value     UInt64
)
ENGINE = MergeTree
ORDER BY (unit_code, measure);
