-- stress publisher: a batch of pub_batch messages (about 1% poison),
-- recorded in stress_published in the same statement.
WITH p AS (
	SELECT pgq_publish_batch('stress_q', ARRAY(
		SELECT (CASE WHEN random() < 0.01
					 THEN '{"job": "resize", "poison": true}'
					 ELSE '{"job": "resize"}' END)::jsonb
		FROM generate_series(1, :pub_batch))) AS id)
INSERT INTO stress_published (id) SELECT id FROM p;
