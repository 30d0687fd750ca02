-- v_conformite_region: one row per campaign year and region (key: campaign_year, region_code):
-- the 'region' level of v_conformite, where the rules are.
CREATE VIEW v_conformite_region AS
SELECT campaign_year, region_code, n_expected, n_on_time, n_late, n_invalid, n_missing, n_covered, n_unexpected,
       compliance_rate_pct, on_time_rate_pct, avg_days_late
FROM v_conformite
WHERE niveau = 'region';
