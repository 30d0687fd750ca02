-- Statuses are those of campaign-rules.md; an unexpected row has its reason, others none.
SELECT status_id, status, unexpected_reason
FROM centre_year_status
WHERE status NOT IN ('on_time', 'late', 'invalid', 'missing', 'covered', 'unexpected')
   OR (status = 'unexpected' AND unexpected_reason IS NULL)
   OR (status <> 'unexpected' AND unexpected_reason IS NOT NULL)
