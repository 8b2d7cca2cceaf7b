--
-- requeue_purge: bringing dead messages back, deleting finished ones, and
-- retention
--
SELECT pgq_create_queue('rp_jobs', max_attempts => 1);

-- Four messages end in four states: discarded (dead), nacked on its last
-- attempt (dead), acked (done), and one left ready.
SELECT pgq_publish('rp_jobs', '"discarded"') AS m_discarded \gset
SELECT pgq_publish('rp_jobs', '"exhausted"') AS m_exhausted \gset
SELECT pgq_publish('rp_jobs', '"done"') AS m_done \gset
SELECT pgq_publish('rp_jobs', '"waiting"') AS m_waiting \gset
SELECT payload, attempt FROM pgq_consume('rp_jobs', 3);
SELECT pgq_discard('rp_jobs', :'m_discarded', 'invalid recipient') AS discarded;
SELECT pgq_nack('rp_jobs', :'m_exhausted', 'upstream down') AS nacked;
SELECT pgq_ack('rp_jobs', :'m_done') AS acked;
CREATE TEMP VIEW rp_state AS
SELECT payload,
       CASE WHEN processed_at IS NULL AND locked_until > now() THEN 'in flight'
            WHEN processed_at IS NULL THEN 'ready'
            WHEN error_detail IS NULL THEN 'done'
            ELSE 'dead' END AS state,
       consumed_count, error_detail
FROM rp_jobs;
SELECT * FROM rp_state ORDER BY payload::text;

-- pgq_requeue with ids brings back only those dead messages: ready again
-- with their attempts and error reset.
SELECT pgq_requeue('rp_jobs', ARRAY[:'m_discarded']::uuid[]) AS requeued;
SELECT * FROM rp_state ORDER BY payload::text;

-- Ids of messages that are not dead (done, ready) are ignored.
SELECT pgq_requeue('rp_jobs', ARRAY[:'m_done', :'m_waiting']::uuid[]) AS requeued;

-- Without ids it brings back every dead message; done ones stay done.
SELECT pgq_requeue('rp_jobs') AS requeued;
SELECT * FROM rp_state ORDER BY payload::text;
SELECT pgq_requeue('rp_jobs') AS requeued;

-- Requeued messages are delivered again from attempt 1.
SELECT payload, attempt FROM pgq_consume('rp_jobs', 10) ORDER BY payload::text;
SELECT pgq_ack_batch('rp_jobs', ARRAY[:'m_discarded', :'m_exhausted']::uuid[]) AS acked;

-- pgq_purge deletes finished messages (done and dead) finished at least
-- older_than ago.  Pretend two of them finished two days ago.
SELECT pgq_discard('rp_jobs', :'m_waiting', 'obsolete') AS discarded;
UPDATE rp_jobs SET processed_at = now() - interval '2 days'
WHERE id IN (:'m_discarded', :'m_waiting');
SELECT pgq_purge('rp_jobs', '3 days') AS purged;
SELECT pgq_purge('rp_jobs', '1 day') AS purged;
SELECT * FROM rp_state ORDER BY payload::text;

-- The default older_than is 0: every finished message.  Unfinished ones
-- are never purged.
SELECT pgq_publish('rp_jobs', '"unfinished"') IS NOT NULL AS published;
SELECT pgq_purge('rp_jobs') AS purged;
SELECT * FROM rp_state ORDER BY payload::text;

-- retention => '0': an ack deletes the message instead of keeping it
-- (pgq_ack and pgq_ack_batch alike).
SELECT pgq_create_queue('rp_zero', retention => '0');
SELECT pgq_publish('rp_zero', '"a"') AS z1 \gset
SELECT pgq_publish('rp_zero', '"b"') AS z2 \gset
SELECT pgq_publish('rp_zero', '"c"') AS z3 \gset
SELECT payload, attempt FROM pgq_consume('rp_zero', 3);
SELECT pgq_ack('rp_zero', :'z1', 1) AS acked;
SELECT pgq_ack('rp_zero', :'z1', 1) AS acked_again;
SELECT pgq_ack_batch('rp_zero', ARRAY[:'z2']::uuid[]) AS acked;
SELECT payload FROM rp_zero ORDER BY payload::text;

-- Dead messages are kept for inspection until the reclaim sweep applies
-- the retention (its return value counts only reclaimed leases).
SELECT pgq_discard('rp_zero', :'z3', 'bad') AS discarded;
SELECT payload, error_detail FROM rp_zero;
SELECT pgq_reclaim('rp_zero') AS reclaimed;
SELECT count(*) AS rows_left FROM rp_zero;

-- A longer retention keeps finished rows until they are that old.
SELECT pgq_create_queue('rp_week', retention => '7 days');
SELECT pgq_publish('rp_week', '"old"') AS w1 \gset
SELECT pgq_publish('rp_week', '"recent"') AS w2 \gset
SELECT pgq_ack_batch('rp_week', ARRAY[:'w1', :'w2']::uuid[]) AS acked;
UPDATE rp_week SET processed_at = now() - interval '8 days' WHERE id = :'w1';
SELECT pgq_reclaim('rp_week') AS reclaimed;
SELECT payload FROM rp_week;

-- Clean up.
DROP VIEW rp_state;
SELECT pgq_drop_queue('rp_jobs');
SELECT pgq_drop_queue('rp_zero');
SELECT pgq_drop_queue('rp_week');
