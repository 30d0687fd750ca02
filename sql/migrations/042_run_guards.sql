-- A run limited to some regions leaves the submissions of other regions (and of no region)
-- alone: how many it left is part of its record (campaign-rules.md, "Which region a
-- submission belongs to"). pipeline_run.outcome also takes `refused`: the inputs looked
-- like a mistake and nothing was replaced (the message says which guard to force).
ALTER TABLE pipeline_run ADD COLUMN submissions_other_regions INTEGER;
