# 014_worker_standby.pl — pgq on a streaming standby, and after promotion.
#
# On a hot standby the background worker does not run (it starts only when
# recovery is finished); publish, consume and the finishing calls fail with
# a clear read-only error (SQLSTATE 25006); the views answer, and
# pgq_workers says why the worker is not running.  After promotion the
# launcher starts and reclaims a lease that expired while the server was a
# standby.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgqTap;

my $primary = pgq_node('primary', { allows_streaming => 1 },
	"pgq.reclaim_interval = '200ms'", 'pgq.log_reclaims = on');
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pgq;
	SELECT pgq_create_queue('jobs');
});
my $ready = $primary->safe_psql('postgres',
	q{SELECT pgq_publish('jobs', '{"state": "ready"}')});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# The primary stops reclaiming (pgq.enabled = off, only there: the standby
# has its configuration from the backup), so that a lease can expire
# unreclaimed and reach the standby that way.
$primary->append_conf('postgresql.conf', 'pgq.enabled = off');
$primary->reload;
ok( defined wait_until($primary, 'postgres',
		q{SELECT status FROM pgq_workers WHERE database = current_database()},
		'disabled: pgq.enabled is off'),
	'pgq_workers on the primary says the worker is disabled');
my $leased = $primary->safe_psql('postgres',
	q{SELECT pgq_publish('jobs', '{"state": "leased"}')});
is( $primary->safe_psql('postgres',
		q{SELECT id || ' ' || attempt FROM pgq_consume('jobs', 1, lock_duration => '1 s')}),
	"$ready 1",
	'on the primary, a message is leased for a second');
$primary->wait_for_catchup($standby);

# ---- the worker does not run on the standby
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');
is( $standby->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pgq%'}),
	'0', 'no pgq launcher or worker on the standby');
ok(!$standby->log_contains(qr/pgq launcher started/),
	'the standby\'s log shows no launcher start');

# ---- writes fail with a clear read-only error
# sqlstate_of(SQL): "SQLSTATE message" of the error SQL raises on the
# standby, or "no error".
sub sqlstate_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $standby->psql('postgres', $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return 'no error' if $rc == 0 && $err !~ /ERROR/;
	my ($line) = $err =~ /ERROR:\s+(.*)/;
	return $line;
}
my %calls = (
	'publish' => q{SELECT pgq_publish('jobs', '{}')},
	'publish_batch' => q{SELECT pgq_publish_batch('jobs', ARRAY['{}'::jsonb])},
	'consume' => q{SELECT * FROM pgq_consume('jobs')},
	'ack'     => "SELECT pgq_ack('jobs', '$ready')",
	'nack'    => "SELECT pgq_nack('jobs', '$ready')",
	'discard' => "SELECT pgq_discard('jobs', '$ready')",
	'extend'  => "SELECT pgq_extend('jobs', '$ready', '1 hour')",
	'ack_batch' => "SELECT pgq_ack_batch('jobs', ARRAY['$ready'::uuid])",
	'requeue' => q{SELECT pgq_requeue('jobs')},
	'purge'   => q{SELECT pgq_purge('jobs')},
	'reclaim' => q{SELECT pgq_reclaim('jobs')},);
for my $call (sort keys %calls)
{
	like(sqlstate_of($calls{$call}),
		qr/^25006: cannot .* queue "jobs" during recovery/,
		"pgq_$call on the standby: 25006, says the queue is read-only in recovery");
}
my ($rc, $out, $err) = $standby->psql('postgres', q{SELECT pgq_publish('jobs', '{}')});
like($err, qr/HINT:\s+Connect to the primary server/,
	'the error hints at the primary');

# ---- the views answer
is( $standby->safe_psql('postgres',
		q{SELECT queue_name, max_attempts FROM pgq_queues}),
	'jobs|3', 'pgq_queues answers on the standby');
is( $standby->safe_psql('postgres', q{
	SELECT launcher_pid IS NULL, worker_pid IS NULL, status
	FROM pgq_workers WHERE database = current_database()}),
	't|t|not running: standby server, starts after promotion',
	'pgq_workers says the worker does not run on a standby');
is( $standby->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE lease_holder IS NOT NULL), count(*) FROM jobs}),
	'1|2', 'the replicated lease and messages are there, unchanged');

# ---- promotion: the launcher starts and reclaims the expired lease
$primary->stop;
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	'f', 'the standby is promoted');
ok( defined wait_until($standby, 'postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgq launcher'},
		'1', 30),
	'after promotion the pgq launcher runs');
ok( defined wait_until($standby, 'postgres',
		"SELECT lease_holder IS NULL AND locked_until IS NULL FROM jobs WHERE id = '$ready'",
		't', 30),
	'and reclaims the lease that expired meanwhile');
ok( $standby->log_contains(
		qr/^(?!.*statement: )(?=.*reclaimed)(?=.*\Q$ready\E)(?=.*"jobs")(?=.*attempt 1\b).*$/m),
	'the reclaim is logged');
ok( defined wait_until($standby, 'postgres', q{
	SELECT total_reclaimed, status IN ('idle', 'running')
	FROM pgq_workers WHERE database = current_database()}, '1|t', 10),
	'pgq_workers counts it and no longer says standby');
is( $standby->safe_psql('postgres', q{
	SELECT string_agg(id || ' ' || attempt, ',' ORDER BY attempt) FROM pgq_consume('jobs', 2)}),
	"$leased 1,$ready 2",
	'both messages are consumable on the new primary, the reclaimed one at attempt 2');
isnt($standby->safe_psql('postgres', q{SELECT pgq_publish('jobs', '{}')}),
	'', 'publish works on the new primary');

$standby->stop;
done_testing();
