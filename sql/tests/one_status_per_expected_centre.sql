-- One status row per expected centre and campaign year: any (year, ET) listed twice.
SELECT campaign_year, finess_et, count(*) AS rows_for_centre
FROM centre_year_status
WHERE finess_et IS NOT NULL AND status <> 'unexpected'
GROUP BY campaign_year, finess_et
HAVING count(*) > 1
