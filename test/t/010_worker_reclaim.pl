# 010_worker_reclaim.pl — the background worker reclaims the lease of a
# consumer that died holding it.
#
# A backend consumes a message with a short lease and is killed with SIGKILL
# (the server restarts after the crash, restart_after_crash = on).  With no
# client running, the worker makes the message deliverable again within
# lease + pgq.reclaim_interval; the next consume gets it at attempt + 1, the
# dead consumer's fenced ack fails; pgq_workers counts the reclaim, and with
# pgq.log_reclaims = on the log names the queue, the message and the attempt
# (quiet with it off).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use PgqTap;

my $interval = 0.2;    # pgq.reclaim_interval, seconds
my $lease    = 2;      # lock_duration of the dying consumer, seconds
my $slack    = 5;      # for slow machines: scheduling, psql start-up

my $node = pgq_node('reclaim', 'restart_after_crash = on',
	"pgq.reclaim_interval = '200ms'", 'pgq.log_reclaims = on');

$node->safe_psql('postgres', q{
	CREATE EXTENSION pgq;
	SELECT pgq_create_queue('jobs', lock_duration => '1 hour');
});
my $id = $node->safe_psql('postgres',
	q{SELECT pgq_publish('jobs', '{"task": "resize", "n": 1}')});

ok( defined wait_until($node, 'postgres', 'SELECT count(*) > 0 FROM pg_stat_activity'
		. " WHERE backend_type = 'pgq launcher'", 't'),
	'the pgq launcher runs');

# ---- a consumer takes the lease and is killed
my ($session, $pid, $got_id, $attempt) =
  hold_lease($node, 'postgres', 'jobs', "$lease s");
is($got_id,  $id, 'the consumer got the message');
is($attempt, '1', 'at attempt 1');
is( $node->safe_psql('postgres',
		"SELECT lease_holder LIKE '%[$pid]' AND locked_until > now() FROM jobs"),
	't',
	'the lease is held by the consumer\'s backend');
my $locked_until = $node->safe_psql('postgres', 'SELECT locked_until FROM jobs');

my $log_offset = -s $node->logfile;
crash_backend($node, $pid);
close_session($session);
pass('the server restarted after SIGKILL of the consumer');

# Before the lease ends, nothing is taken from the dead consumer (the check
# only means something if the restart was quicker than the lease).
is( $node->safe_psql('postgres',
		"SELECT clock_timestamp() >= '$locked_until' OR lease_holder IS NOT NULL FROM jobs"),
	't',
	'an unexpired lease is left alone after the restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM jobs'),
	'1', 'the message survived the crash');

# ---- the worker reclaims it: no client calls pgq_reclaim here
my $waited = wait_until($node, 'postgres',
	'SELECT lease_holder IS NULL AND locked_until IS NULL AND processed_at IS NULL FROM jobs',
	't', 30);
ok(defined $waited, 'the worker reclaimed the expired lease');
my $late = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM clock_timestamp() - '$locked_until'::timestamptz)");
cmp_ok($late, '<=', $interval + $slack,
	"reclaimed within pgq.reclaim_interval of the lease's end (+${slack}s slack)");
is($node->safe_psql('postgres', 'SELECT consumed_count, error_detail IS NULL FROM jobs'),
	'1|t', 'reclaimed as ready: attempt count kept, no error');

# ---- pgq_workers shows it
my $launcher = launcher_pid($node);
isnt($launcher, '', 'a launcher runs after the crash restart');
ok( defined wait_until($node, 'postgres', q{
	SELECT total_reclaimed, passes > 0, last_error IS NULL,
		status IN ('idle', 'running')
	FROM pgq_workers WHERE database = current_database()},
		'1|t|t|t', 10),
	'pgq_workers counts the reclaimed message');
is( $node->safe_psql('postgres',
		'SELECT launcher_pid FROM pgq_workers WHERE database = current_database()'),
	$launcher,
	'pgq_workers shows the launcher\'s pid');

# ---- the log line, with pgq.log_reclaims = on
ok( $node->log_contains(
		qr/^(?!.*statement: )(?=.*reclaimed)(?=.*\Q$id\E)(?=.*"jobs")(?=.*attempt 1\b).*$/m,
		$log_offset),
	'the log names the reclaimed message, its queue and its attempt');

# ---- redelivered at attempt 2; the dead consumer's ack is fenced off
is( $node->safe_psql('postgres',
		q{SELECT id || ' ' || attempt || ' ' || (payload->>'n') FROM pgq_consume('jobs')}),
	"$id 2 1",
	'the next consume gets the message at attempt 2');
is($node->safe_psql('postgres', "SELECT pgq_ack('jobs', '$id', attempt => 1)"),
	'f', 'an ack with the dead consumer\'s attempt is refused');
is($node->safe_psql('postgres', "SELECT pgq_ack('jobs', '$id', attempt => 2)"),
	't', 'the new holder acks it');

# ---- with pgq.log_reclaims = off, a reclaim is not logged at LOG level
$node->append_conf('postgresql.conf', 'pgq.log_reclaims = off');
$node->reload;
ok( defined wait_until($node, 'postgres', 'SHOW pgq.log_reclaims', 'off'),
	'pgq.log_reclaims turned off by reload');
my $id2 = $node->safe_psql('postgres',
	q{SELECT pgq_publish('jobs', '{"task": "resize", "n": 2}')});
$log_offset = -s $node->logfile;
is( $node->safe_psql('postgres',
		"SELECT attempt FROM pgq_consume('jobs', lock_duration => '500 ms')"),
	'1', 'a second message is leased for half a second');
ok( defined wait_until($node, 'postgres',
		"SELECT lease_holder IS NULL FROM jobs WHERE id = '$id2'", 't', 30),
	'the worker reclaims it too');
ok( defined wait_until($node, 'postgres', q{
	SELECT total_reclaimed FROM pgq_workers WHERE database = current_database()},
	'2', 10),
	'pgq_workers counts both');
ok(!$node->log_contains(qr/reclaimed message \Q$id2\E/, $log_offset),
	'with pgq.log_reclaims = off the reclaim is not logged');

$node->stop;
done_testing();
