-- When a cycle recomputes a few old months for some units alone (cycle.rs, the portal's touched
-- query lists both), every other unit's rows of those months as they are stored, into the same
-- staging table: the months are swapped in whole, and a row of a unit no touched dossier has
-- ever belonged to cannot have changed. The parameter is the first day of the first of those
-- months (it spares ClickHouse the partitions before it; the lists do not). A month of
-- measures_daily holds what its last swap put there, so these rows are exact whether ClickHouse
-- merged them or not.
INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
SELECT source, day, unit_code, measure, dimension, value
FROM measures_daily
WHERE source = 'portal' AND day >= toDate(?) AND has(OLD_MONTHS, toYYYYMM(day)) AND unit_code NOT IN OLD_UNITS
