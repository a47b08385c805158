-- Why a test run ended as it did when its state alone does not say: a run that recorded no
-- baselines, or replayed none, ends interrupted with this.
ALTER TABLE test_runs ADD COLUMN problem TEXT;
