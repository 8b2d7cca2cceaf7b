--
-- scheduled: messages published with scheduled_for are not delivered
-- before that time
--
SELECT pgq_create_queue('sc_jobs');

-- One message due in two seconds, then one for right now.  Only the second
-- one can be consumed yet; the first is in the "scheduled" state.
SELECT pgq_publish('sc_jobs', '"later"', scheduled_for => clock_timestamp() + interval '2 seconds') IS NOT NULL AS published;
SELECT pgq_publish('sc_jobs', '"now"') IS NOT NULL AS published;
SELECT payload, attempt FROM pgq_consume('sc_jobs', 10);
SELECT count(*) AS got FROM pgq_consume('sc_jobs', 10);
SELECT payload, processed_at IS NULL AND scheduled_for > clock_timestamp() AS scheduled,
       consumed_count
FROM sc_jobs WHERE payload = '"later"';

-- Once it falls due it is delivered like any other message.
SELECT pg_sleep(extract(epoch FROM scheduled_for - clock_timestamp()) + 0.01)
FROM sc_jobs WHERE payload = '"later"';
SELECT payload, attempt FROM pgq_consume('sc_jobs', 10);

-- A due scheduled message takes its place in line by its scheduled time,
-- not by when it was published: "early" (published first, due two
-- seconds later) comes after "plain" (published meanwhile) and before "late"
-- (published after it fell due).
SELECT pgq_publish('sc_jobs', '"early"', scheduled_for => clock_timestamp() + interval '2 seconds') IS NOT NULL AS published;
SELECT pgq_publish('sc_jobs', '"plain"') IS NOT NULL AS published;
SELECT pg_sleep(extract(epoch FROM scheduled_for - clock_timestamp()) + 0.01)
FROM sc_jobs WHERE payload = '"early"';
SELECT pgq_publish('sc_jobs', '"late"') IS NOT NULL AS published;
SELECT payload FROM pgq_consume('sc_jobs', 10);

-- A scheduled_for in the past is simply ready, in publish order.
SELECT pgq_publish('sc_jobs', '"past-1"', scheduled_for => '2000-01-01 00:00:00+00') IS NOT NULL AS published;
SELECT pgq_publish('sc_jobs', '"past-2"', scheduled_for => '1999-01-01 00:00:00+00') IS NOT NULL AS published;
SELECT payload FROM pgq_consume('sc_jobs', 10);

-- pgq_publish_batch schedules every message of the batch.
SELECT count(*) AS published
FROM pgq_publish_batch('sc_jobs', ARRAY['"b1"', '"b2"']::jsonb[],
                       scheduled_for => now() + interval '1 day');
SELECT count(*) AS got FROM pgq_consume('sc_jobs', 10);
SELECT payload, scheduled_for > now() + interval '23 hours' AS due_in_a_day
FROM sc_jobs WHERE processed_at IS NULL AND scheduled_for > now()
ORDER BY payload::text;

-- Clean up.
SELECT pgq_drop_queue('sc_jobs');
