-- Every run but the latest has ended: none left 'running' behind a later one.
SELECT r.run_id, r.started_at, r.outcome
FROM pipeline_run r
WHERE (r.outcome IS NULL OR r.outcome = 'running')
  AND EXISTS (SELECT 1 FROM pipeline_run later WHERE later.started_at > r.started_at)
