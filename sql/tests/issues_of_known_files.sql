-- Every issue belongs to a file that has an outcome in the same campaign.
SELECT i.issue_id, i.source_file
FROM submission_issue i
LEFT JOIN file_outcome f ON f.campaign_year = i.campaign_year AND f.source_file = i.source_file
WHERE f.source_file IS NULL
