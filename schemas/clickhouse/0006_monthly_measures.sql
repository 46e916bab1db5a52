-- measures_daily summed per month, kept by the rollup task in the same cycle (and swapped in
-- the same way) as the days it sums. The API reads whole months here and only the partial
-- months at a period's edges from measures_daily, so a year costs 12 rows per measure and unit
-- instead of 365.
CREATE TABLE IF NOT EXISTS measures_monthly
(
    source    String,
    month     Date,
    unit_code String,
    measure   String,
    dimension String,
    value     UInt64
)
ENGINE = MergeTree
PARTITION BY (source, toYYYYMM(month))
ORDER BY (measure, dimension, unit_code, month);

CREATE VIEW IF NOT EXISTS v_monthly_measures AS
SELECT source, month, unit_code, measure, dimension, value FROM measures_monthly;
