# 012_worker_restart.pl — the background worker comes back after it is
# killed or terminated, and keeps reclaiming.
#
# The "pgq launcher" is killed with SIGKILL (a crash: the server restarts,
# restart_after_crash = on) and terminated with pg_terminate_backend (a
# clean exit: the postmaster starts it again, no crash restart).  A
# per-database "pgq worker", caught while it waits for a lock, is killed with
# SIGKILL too.  Each time a new launcher (new pid) shows up in
# pg_stat_activity and in pgq_workers, and an expired lease is reclaimed
# within lease + pgq.reclaim_interval.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgqTap;

my $slack = 5;    # seconds, for slow machines

my $node = pgq_node('restart', 'restart_after_crash = on',
	"pgq.reclaim_interval = '200ms'");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pgq;
	SELECT pgq_create_queue('jobs');
});
# A database the worker found without pgq is looked at again only every ten
# seconds (013_worker_databases.pl tests that); a restart makes the first
# pass find the extension at once.
$node->restart;

# wait_for_new_launcher(OLD_PID): the pid of a launcher other than OLD_PID.
sub wait_for_new_launcher
{
	my ($old) = @_;
	defined wait_until($node, 'postgres', qq{
		SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'pgq launcher' AND pid <> $old}, '1', 30)
	  or return '';
	return launcher_pid($node);
}

# reclaims_ok(LABEL): a lease of half a second, left to expire, is
# reclaimed by the worker within the lease + interval.
sub reclaims_ok
{
	my ($label) = @_;
	my $id = $node->safe_psql('postgres',
		qq{SELECT pgq_publish('jobs', '{"label": "$label"}')});
	my $row = $node->safe_psql('postgres',
		q{SELECT id || ' ' || attempt FROM pgq_consume('jobs', lock_duration => '500 ms')});
	is($row, "$id 1", "$label: a message is leased for half a second");
	my $waited = wait_until($node, 'postgres',
		"SELECT lease_holder IS NULL AND locked_until IS NULL FROM jobs WHERE id = '$id'",
		't', 30);
	ok(defined $waited && $waited <= 0.5 + 0.2 + $slack,
		"$label: the worker reclaimed it within lease + interval");
	$node->safe_psql('postgres', "SELECT pgq_ack('jobs', '$id')");
	return;
}

my $launcher = launcher_pid($node);
like($launcher, qr/^\d+$/, 'one pgq launcher runs');
is( $node->safe_psql('postgres', q{
	SELECT datname IS NULL FROM pg_stat_activity WHERE backend_type = 'pgq launcher'}),
	't', 'the launcher is connected to no database');
reclaims_ok('at start');
is( $node->safe_psql('postgres',
		'SELECT launcher_pid FROM pgq_workers WHERE database = current_database()'),
	$launcher,
	'pgq_workers shows the launcher');

# ---- SIGKILL of the launcher: crash restart, a new launcher
my $offset = -s $node->logfile;
crash_backend($node, $launcher);
ok( $node->log_contains(qr/\(PID $launcher\) was terminated by signal 9/, $offset),
	'the postmaster saw the launcher die of SIGKILL');
my $new = wait_for_new_launcher($launcher);
like($new, qr/^\d+$/, 'after SIGKILL a new launcher runs');
isnt($new, $launcher, 'with a new pid');
reclaims_ok('after SIGKILL');
ok( defined wait_until($node, 'postgres',
		'SELECT launcher_pid FROM pgq_workers WHERE database = current_database()', $new),
	'pgq_workers shows the new launcher');
$launcher = $new;

# ---- pg_terminate_backend of the launcher: restarted, no crash restart
$offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)"),
	't', 'pg_terminate_backend of the launcher');
$new = wait_for_new_launcher($launcher);
like($new, qr/^\d+$/, 'after pg_terminate_backend a new launcher runs');
isnt($new, $launcher, 'with a new pid');
ok(!$node->log_contains(qr/reinitializing/, $offset),
	'terminating the launcher did not restart the server');
reclaims_ok('after pg_terminate_backend');
ok( defined wait_until($node, 'postgres',
		'SELECT launcher_pid FROM pgq_workers WHERE database = current_database()', $new),
	'pgq_workers shows the new launcher');
$launcher = $new;

# ---- a per-database worker, visible while it waits for a lock
# Holding the catalog of queues locked makes each pass's worker wait (up to
# its lock_timeout), long enough to find it in pg_stat_activity.
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE pgq_queue_config IN ACCESS EXCLUSIVE MODE');
ok( defined wait_until($node, 'postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	WHERE backend_type = 'pgq worker' AND datname = 'postgres'
	  AND wait_event_type = 'Lock'}, 't', 30),
	'a "pgq worker" for database postgres shows in pg_stat_activity');
# Each worker waits at most its lock_timeout: kill the one seen, or if it is
# gone already, the next one.
$offset = -s $node->logfile;
my $worker = '';
for (1 .. 100)
{
	$worker = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity
		WHERE backend_type = 'pgq worker' AND datname = 'postgres' LIMIT 1});
	last if $worker ne '' && kill 'KILL', $worker;
	$worker = '';
}
isnt($worker, '', 'a pgq worker was killed with SIGKILL');
wait_crash_restart($node, $offset);
close_session($locker);
ok( $node->log_contains(qr/\(PID $worker\) was terminated by signal 9/, $offset),
	'the postmaster saw the worker die of SIGKILL');
$new = wait_for_new_launcher($launcher);
like($new, qr/^\d+$/, 'after SIGKILL of a worker a new launcher runs');
reclaims_ok('after SIGKILL of a worker');

$node->stop;
done_testing();
