# 013_worker_databases.pl — the background worker and the databases of a
# cluster.
#
# With pgq installed in some databases only, the worker reclaims there and
# leaves the others alone; a CREATE EXTENSION after start is picked up
# (databases without pgq are looked at again every ten seconds).  The worker
# keeps no connection open between passes, so with a short
# pgq.reclaim_interval DROP EXTENSION pgq, DROP DATABASE and DROP DATABASE
# WITH (FORCE) succeed within seconds, and none of them leaves an error loop
# in the log.
use strict;
use warnings;

use File::Basename qw(basename);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use PgqTap;

my $slack   = 5;             # seconds, for slow machines
my $recheck = 10;            # PGQ_RECHECK_INTERVAL, seconds
my $me      = basename($0);  # our sessions' application_name in the log

my $node = pgq_node('databases', "pgq.reclaim_interval = '100ms'",
	'pgq.log_reclaims = on');

# db1, db3 and db4 have pgq and a queue; db2 has not, but holds a table of
# the queue's shape with an expired lease that nothing may touch.
for my $db (qw(db1 db2 db3 db4))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
}
for my $db (qw(db1 db3 db4))
{
	$node->safe_psql($db, q{
		CREATE EXTENSION pgq;
		SELECT pgq_create_queue('jobs');
	});
}
my $legacy = q{
	CREATE TABLE legacy_jobs (
		id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
		created_at timestamptz NOT NULL DEFAULT now(),
		started_at timestamptz,
		locked_until timestamptz,
		scheduled_for timestamptz,
		processed_at timestamptz,
		consumed_count int NOT NULL DEFAULT 0,
		error_detail text,
		payload jsonb NOT NULL,
		metadata jsonb NOT NULL DEFAULT '{}',
		lease_holder text);
	INSERT INTO legacy_jobs (started_at, locked_until, consumed_count, payload, lease_holder)
	VALUES (now() - interval '1 hour', now() - interval '1 minute', 5, '{}', 'gone[1]');
};
$node->safe_psql('db2', $legacy);
my $legacy_state = q{SELECT locked_until IS NOT NULL, lease_holder, processed_at IS NULL
	FROM legacy_jobs};
my $legacy_before = $node->safe_psql('db2', $legacy_state);

# A restart, so that the first pass finds pgq where it is installed.
$node->restart;

# passes(DB): passes of the worker in DB since start, from pgq_workers.
sub passes
{
	my ($db, $about) = @_;
	return $node->safe_psql($db, qq{
		SELECT coalesce(max(passes), 0) FROM pgq_workers WHERE database = '$about'});
}

# wait_passes(DB, N): wait until the worker made N more passes in DB.
sub wait_passes
{
	my ($db, $n) = @_;
	my $target = passes($db, $db) + $n;
	return defined wait_until($node, $db, qq{
		SELECT passes >= $target FROM pgq_workers WHERE database = '$db'}, 't', 30);
}

# leased_and_reclaimed(DB, SECONDS): lease a message for 300 ms and wait
# for the worker to reclaim it; returns the seconds that took, or undef.
sub leased_and_reclaimed
{
	my ($db, $seconds) = @_;
	my $id = $node->safe_psql($db, q{SELECT pgq_publish('jobs', '{}')});
	$node->safe_psql($db, q{SELECT pgq_consume('jobs', lock_duration => '300 ms')});
	return wait_until($node, $db,
		"SELECT lease_holder IS NULL AND locked_until IS NULL FROM jobs WHERE id = '$id'",
		't', $seconds);
}

# error_lines(OFFSET): ERROR/FATAL/PANIC lines in the log after OFFSET that
# our own sessions did not cause, and the worker's reports of a failed queue
# (logged at LOG level: the pass goes on).
sub error_lines
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return grep {
		(/\b(?:ERROR|FATAL|PANIC):/ || /LOG:\s+pgq worker: .* failed/)
		  && !/\] \Q$me\E /
	} split /\n/, $log;
}

# no_error_loop(OFFSET, LABEL, DB, MAX): after five more passes of the worker
# in DB, at most MAX error lines in the log since OFFSET (a worker caught by
# a drop may fail once: terminated by WITH (FORCE), or refused by the
# dropped database), of which at most one mentions pgq.  An error loop would
# log one per pass.
sub no_error_loop
{
	my ($offset, $label, $db, $max) = @_;
	ok(wait_passes($db, 5), "$label: the worker goes on in $db");
	my @errors = error_lines($offset);
	note "error lines after $label:\n", join("\n", @errors);
	cmp_ok(scalar(grep { /pgq/ } @errors), '<=', 1,
		"$label: at most one error about pgq in the log");
	cmp_ok(scalar(@errors), '<=', $max, "$label: no error loop in the log");
	return;
}

# ---- pgq only where it is installed
ok( defined wait_until($node, 'db1', q{
	SELECT string_agg(database, ',' ORDER BY database) FROM pgq_workers
	WHERE passes > 0}, 'db1,db3,db4'),
	'the worker passed in db1, db3 and db4');
is( $node->safe_psql('db1',
		q{SELECT string_agg(database, ',' ORDER BY database) FROM pgq_workers}),
	'db1,db3,db4',
	'pgq_workers lists the databases that have pgq, and only those');
is($node->safe_psql('db2', $legacy_state),
	$legacy_before, 'the look-alike table in db2, without pgq, is untouched');

# CREATE EXTENSION in db2 now; the worker finds it within the recheck
# interval, checked below.
my $start = time;
$node->safe_psql('db2', q{
	CREATE EXTENSION pgq;
	SELECT pgq_create_queue('jobs');
});
ok(defined leased_and_reclaimed('db1', 30), 'the worker reclaims in db1');
ok( defined wait_until($node, 'db1', q{
	SELECT total_reclaimed FROM pgq_workers WHERE database = 'db1'},
		'1', 10),
	'pgq_workers counts it for db1');
ok( defined wait_until($node, 'db1', q{
	SELECT total_reclaimed FROM pgq_workers WHERE database = 'db3'},
		'0', 10),
	'and nothing for db3');

# A worker is seen in pg_stat_activity with its database while it waits for
# the catalog of queues, which a session holds locked.
my $locker = $node->background_psql('db1');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE pgq_queue_config IN ACCESS EXCLUSIVE MODE');
ok( defined wait_until($node, 'postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	WHERE backend_type = 'pgq worker' AND datname = 'db1'}, 't', 30),
	'a "pgq worker" connected to db1 shows in pg_stat_activity');
$locker->query_safe('ROLLBACK');
$locker->quit;

# ---- CREATE EXTENSION in db2 is picked up
my $waited = leased_and_reclaimed('db2', $recheck + 30);
ok(defined $waited, 'after CREATE EXTENSION the worker reclaims in db2');
cmp_ok(time - $start, '<=', $recheck + 0.1 + 0.3 + $slack,
	'within the ten seconds recheck + interval + lease');
ok( defined wait_until($node, 'db2', q{
	SELECT total_reclaimed FROM pgq_workers WHERE database = 'db2'},
		'1', 10),
	'pgq_workers counts it for db2');
is($node->safe_psql('db2', $legacy_state),
	$legacy_before, 'the look-alike table, not a queue, is still untouched');

# ---- DROP EXTENSION pgq while the worker runs
my $offset = -s $node->logfile;
$start = time;
my ($rc, $out, $err) = $node->psql('db3', 'DROP EXTENSION pgq');
is($rc, 0, 'DROP EXTENSION pgq succeeds while the worker runs')
  or diag $err;
cmp_ok(time - $start, '<', 5, 'within seconds');
ok( defined wait_until($node, 'db1',
		q{SELECT count(*) FROM pgq_workers WHERE database = 'db3'}, '0', 30),
	'pgq_workers no longer lists db3');
no_error_loop($offset, 'DROP EXTENSION', 'db1', 1);

# ---- DROP DATABASE while the worker runs
$offset = -s $node->logfile;
$start = time;
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db1');
is($rc, 0, 'DROP DATABASE db1 succeeds while the worker runs')
  or diag $err;
cmp_ok(time - $start, '<', 5, 'within seconds');
no_error_loop($offset, 'DROP DATABASE', 'db2', 1);
is( $node->safe_psql('db2',
		q{SELECT string_agg(database, ',' ORDER BY database) FROM pgq_workers}),
	'db2,db4', 'pgq_workers lists the remaining databases');

# ---- DROP DATABASE WITH (FORCE) while the worker runs and a client is in
my $client = $node->background_psql('db4');
$client->query_safe(q{SELECT pgq_publish('jobs', '{}')});
$client->query_safe(q{SELECT pgq_consume('jobs', lock_duration => '1 hour')});
$offset = -s $node->logfile;
$start = time;
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db4 WITH (FORCE)');
is($rc, 0, 'DROP DATABASE db4 WITH (FORCE) succeeds while the worker runs')
  or diag $err;
cmp_ok(time - $start, '<', 5, 'within seconds');
close_session($client);
no_error_loop($offset, 'DROP DATABASE WITH (FORCE)', 'db2', 2);
is( $node->safe_psql('db2',
		q{SELECT string_agg(database, ',' ORDER BY database) FROM pgq_workers}),
	'db2', 'pgq_workers lists only db2 now');

# ---- and the worker still reclaims
ok(defined leased_and_reclaimed('db2', 30), 'the worker still reclaims in db2');
# (the pass records its counts when it ends, just after the row changed)
ok( defined wait_until(
		$node, 'db2', q{
	SELECT total_reclaimed || '|' || (last_error IS NULL) FROM pgq_workers WHERE database = 'db2'},
		'2|true', 10),
	'pgq_workers counts it, no error recorded');

$node->stop;
done_testing();
