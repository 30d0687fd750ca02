-- At most one current (latest valid) version per resolved centre and year, and a current
-- version is a valid one.
SELECT campaign_year, finess_et, count(*) AS current_versions
FROM submission
WHERE is_current = TRUE AND finess_et IS NOT NULL
GROUP BY campaign_year, finess_et
HAVING count(*) > 1
UNION ALL
SELECT campaign_year, submission_id, 0
FROM submission
WHERE is_current = TRUE AND is_valid = FALSE
