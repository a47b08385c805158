-- FAST across the fleet: each node reads which test runs record every half second and notes
-- here up to when it has (so that a stop can wait until every node stored the traffic it
-- admitted before), and a run keeps when any node last saw traffic for it (so that its
-- inactivity timeout counts the whole fleet's traffic). Both in microseconds, on the
-- database's clock.
ALTER TABLE nodes ADD COLUMN traffic_synced_at BIGINT;
ALTER TABLE test_runs ADD COLUMN last_traffic_at BIGINT;
