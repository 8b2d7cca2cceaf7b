--
-- large_payload: big messages round-trip intact
--
SELECT pgq_create_queue('lp_jobs');

-- A payload of 20 MB: one object holding a 1 MB block of md5 strings (so
-- that it does not compress) repeated 20 times, plus a nested array.  Its
-- size and md5 are shown as it is published ...
WITH sent AS (
    SELECT jsonb_build_object(
               'blob', repeat(string_agg(md5(i::text), '' ORDER BY i), 20),
               'list', jsonb_build_array(1, 'two', jsonb_build_object('three', 3))) AS payload
    FROM generate_series(1, 32768) AS i)
SELECT octet_length(payload::text) AS text_bytes, md5(payload::text) AS md5,
       pgq_publish('lp_jobs', payload, '{"size": "large"}') IS NOT NULL AS published
FROM sent;

-- ... and the consumer receives exactly that: same size, same md5.
SELECT attempt, metadata, octet_length(payload::text) AS text_bytes,
       md5(payload::text) AS md5
FROM pgq_consume('lp_jobs');

SELECT pgq_ack('lp_jobs', id, 1) AS acked FROM lp_jobs;

-- A batch of two 5 MB payloads keeps each one apart and intact.
SELECT count(*) AS published
FROM pgq_publish_batch('lp_jobs', ARRAY[
    jsonb_build_object('part', 1, 'data', repeat('a', 5 * 1024 * 1024)),
    jsonb_build_object('part', 2, 'data', repeat('b', 5 * 1024 * 1024))]);
SELECT payload->'part' AS part, octet_length(payload->>'data') AS data_bytes,
       payload->>'data' = repeat(CASE payload->>'part' WHEN '1' THEN 'a' ELSE 'b' END, 5 * 1024 * 1024) AS intact
FROM pgq_consume('lp_jobs', 10) ORDER BY part;

-- Clean up.
SELECT pgq_drop_queue('lp_jobs');
