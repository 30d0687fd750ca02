-- FINESS+ files list closed ETs with their closing date: kept in the history so that
-- "open during year N" is known from the date where the source gives one (an extract
-- lists open ETs only and leaves it null).
ALTER TABLE finess_et_history ADD COLUMN datefermeture DATE;
