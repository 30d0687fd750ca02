-- file_outcome: what the reader learnt of each file beyond version 1 (format from the
-- bytes, template version used, data lines read, remarks on a readable file).
ALTER TABLE file_outcome ADD COLUMN format TEXT;
ALTER TABLE file_outcome ADD COLUMN template_version TEXT;
ALTER TABLE file_outcome ADD COLUMN rows_in INTEGER;
ALTER TABLE file_outcome ADD COLUMN notes TEXT;
