-- stress reclaimer: sweep expired leases every 300 ms, as the background
-- worker would, racing the consumers' late acks.
\sleep 300 ms
SELECT pgq_reclaim('stress_q');
