-- A status row that names its current submission names one that is loaded, of the same year.
SELECT c.status_id, c.submission_id
FROM centre_year_status c
LEFT JOIN submission s ON s.submission_id = c.submission_id AND s.campaign_year = c.campaign_year
WHERE c.submission_id IS NOT NULL AND s.submission_id IS NULL
