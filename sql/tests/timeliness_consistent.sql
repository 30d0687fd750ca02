-- On time and late centres have a first valid transmission; days late is set for late
-- centres only, and positive; missing centres received nothing.
SELECT status_id, status, first_valid_at, days_late, submissions_received
FROM centre_year_status
WHERE (status IN ('on_time', 'late') AND first_valid_at IS NULL)
   OR (status = 'late' AND (days_late IS NULL OR days_late < 1))
   OR (status <> 'late' AND days_late IS NOT NULL)
   OR (status = 'missing' AND submissions_received <> 0)
