-- Every issue is an error or a warning, with a French message.
SELECT issue_id, severity, message
FROM submission_issue
WHERE severity NOT IN ('error', 'warning') OR message IS NULL OR message = ''
