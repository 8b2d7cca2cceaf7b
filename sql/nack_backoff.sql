--
-- nack_backoff: giving messages back, retry delays, and the dead state
--
SELECT pgq_create_queue('nb_jobs', max_attempts => 3, retry_delay => '10 seconds');

-- nack with retry_after => '0' makes the message ready again at once; the
-- reason is kept in error_detail and the lease is gone.
SELECT pgq_publish('nb_jobs', '"flaky"') AS m \gset
SELECT payload, attempt FROM pgq_consume('nb_jobs');
SELECT pgq_nack('nb_jobs', :'m', 'timeout talking to smtp', retry_after => '0', attempt => 1) AS nacked;
SELECT consumed_count, processed_at IS NULL AS unfinished, error_detail,
       lease_holder IS NULL AS no_holder
FROM nb_jobs;
SELECT payload, attempt FROM pgq_consume('nb_jobs');

-- retry_after keeps it away for that long: not consumable now, due in an
-- hour; still unfinished.
SELECT pgq_nack('nb_jobs', :'m', 'rate limited', retry_after => '1 hour', attempt => 2) AS nacked;
SELECT count(*) AS got FROM pgq_consume('nb_jobs');
SELECT error_detail, processed_at IS NULL AS unfinished,
       locked_until BETWEEN now() + interval '59 minutes'
                        AND clock_timestamp() + interval '1 hour' AS due_in_an_hour
FROM nb_jobs;

-- Without retry_after the queue's retry_delay applies, doubled for each
-- earlier attempt: retry_delay * 2^(attempt - 1), at most 2^10 times.
-- Here one message on a queue without an attempt limit is nacked twelve
-- times; after each nack the wait is cut short (locked_until moved to the
-- past) so that the next round can consume it at once.
SELECT pgq_create_queue('nb_backoff', max_attempts => 0, retry_delay => '10 seconds');
SELECT pgq_publish('nb_backoff', '"slow"') IS NOT NULL AS published;
CREATE TEMP TABLE nb_delays (attempt int, delay_s numeric);
DO $$
DECLARE
    m record;
BEGIN
    FOR i IN 1..12 LOOP
        SELECT id, attempt INTO m FROM pgq_consume('nb_backoff');
        PERFORM pgq_nack('nb_backoff', m.id, 'still failing', attempt => m.attempt);
        INSERT INTO nb_delays
        SELECT m.attempt, extract(epoch FROM q.locked_until - clock_timestamp())
        FROM nb_backoff q;
        UPDATE nb_backoff SET locked_until = clock_timestamp() - interval '1 second';
    END LOOP;
END
$$;
SELECT attempt, round(delay_s) AS delay_seconds FROM nb_delays ORDER BY attempt;

-- max_attempts 0 means no limit: twelve attempts and still not dead.
SELECT consumed_count, processed_at IS NULL AS unfinished, error_detail FROM nb_backoff;

-- A nack on the last allowed attempt makes the message dead at once:
-- finished (processed_at set) with the error, never delivered again.
SELECT pgq_create_queue('nb_dead', max_attempts => 2);
SELECT pgq_publish('nb_dead', '"poison"') AS p \gset
SELECT payload, attempt FROM pgq_consume('nb_dead');
SELECT pgq_nack('nb_dead', :'p', 'parse error', retry_after => '0') AS nacked;
SELECT payload, attempt FROM pgq_consume('nb_dead');
SELECT pgq_nack('nb_dead', :'p', 'parse error again', retry_after => '0') AS nacked;
SELECT consumed_count, processed_at IS NOT NULL AS finished, error_detail,
       locked_until, lease_holder
FROM nb_dead;
SELECT count(*) AS got FROM pgq_consume('nb_dead');

-- The default retry_delay is 0: a plain nack makes the message ready
-- again at once.  Without an error text a retried message has none, and a
-- dead one says why it died.
SELECT pgq_publish('nb_dead', '"mute"') AS p2 \gset
SELECT payload, attempt FROM pgq_consume('nb_dead');
SELECT pgq_nack('nb_dead', :'p2') AS nacked;
SELECT error_detail, processed_at IS NULL AS unfinished FROM nb_dead WHERE id = :'p2';
SELECT payload, attempt FROM pgq_consume('nb_dead');
SELECT pgq_nack('nb_dead', :'p2') AS nacked;
SELECT processed_at IS NOT NULL AS finished, error_detail FROM nb_dead WHERE id = :'p2';

-- Dead messages are what the Go tools call failures.
SELECT payload, error_detail FROM nb_dead
WHERE processed_at IS NOT NULL AND error_detail IS NOT NULL
ORDER BY payload::text;

-- Clean up.
SELECT pgq_drop_queue('nb_jobs');
SELECT pgq_drop_queue('nb_backoff');
SELECT pgq_drop_queue('nb_dead');
