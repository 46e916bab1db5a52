-- Digital-skills coverage ("Bình dân học vụ số") of the whole province per target group at the
-- end of a day: people certified before it / the group's population (reference data). Adults
-- are every certified person of adult age, whatever their group (measure certified_adult); the
-- other groups count their own members (measure certified, by group). Change the date to move
-- the end; add unit_code to both sides to get it per unit.
SELECT
    target_group,
    certified,
    population,
    certified / population AS coverage
FROM
(
    SELECT if(measure = 'certified_adult', 'adult', dimension) AS target_group, sum(value) AS certified
    FROM v_daily_measures
    WHERE source = 'training' AND day < toDate('2026-04-01')
      AND ((measure = 'certified' AND dimension != 'adult') OR measure = 'certified_adult')
    GROUP BY target_group
) AS c
ANY INNER JOIN
(
    SELECT measure AS target_group, sum(value) AS population
    FROM v_denominators
    GROUP BY target_group
) AS p USING target_group
ORDER BY target_group
