--
-- metadata_filter: consuming only messages whose metadata contains the
-- filter (metadata @> metadata_filter)
--
SELECT pgq_create_queue('mf_jobs');

SELECT pgq_publish('mf_jobs', '"acme email"',   '{"tenant": "acme",   "kind": "email"}') IS NOT NULL AS published;
SELECT pgq_publish('mf_jobs', '"acme sms"',     '{"tenant": "acme",   "kind": "sms"}') IS NOT NULL AS published;
SELECT pgq_publish('mf_jobs', '"globex email"', '{"tenant": "globex", "kind": "email"}') IS NOT NULL AS published;
SELECT pgq_publish('mf_jobs', '"no metadata"') IS NOT NULL AS published;
SELECT pgq_publish('mf_jobs', '"acme email 2"', '{"tenant": "acme",   "kind": "email", "trace": "x"}') IS NOT NULL AS published;

-- One key: every acme message, oldest first, up to batch_size.
SELECT payload, metadata, attempt
FROM pgq_consume('mf_jobs', 2, metadata_filter => '{"tenant": "acme"}');

-- Two keys must both match; extra keys in the message do not matter.
SELECT payload, metadata
FROM pgq_consume('mf_jobs', 10, metadata_filter => '{"tenant": "acme", "kind": "email"}');

-- Messages leased by an earlier call are not offered again.
SELECT payload
FROM pgq_consume('mf_jobs', 10, metadata_filter => '{"kind": "email"}');

-- No match: nothing is leased.
SELECT count(*) AS got FROM pgq_consume('mf_jobs', 10, metadata_filter => '{"tenant": "initech"}');
SELECT count(*) AS got FROM pgq_consume('mf_jobs', 10, metadata_filter => '{"tenant": "ACME"}');

-- The empty filter matches everything, like no filter at all.
SELECT payload, metadata FROM pgq_consume('mf_jobs', 10, metadata_filter => '{}');

-- What is left unconsumed: nothing.
SELECT count(*) AS ready FROM mf_jobs WHERE consumed_count = 0;

-- The filter must be a JSON object (22023).
SELECT * FROM pgq_consume('mf_jobs', metadata_filter => '["tenant"]');
SELECT :'SQLSTATE' AS sqlstate;
SELECT * FROM pgq_consume('mf_jobs', metadata_filter => '"acme"');
SELECT :'SQLSTATE' AS sqlstate;

-- Clean up.
SELECT pgq_drop_queue('mf_jobs');
