# 021_crash_consume.pl — a consumer dies with kill -9 around pgq_consume.
#
# ACCEPTANCE 1: kill -9 of a backend inside BEGIN; pgq_consume — the lease
#   and the attempt roll back; the message is consumable at once, attempt 1.
# ACCEPTANCE 2: kill -9 of a consumer after an autocommit pgq_consume — the
#   lease survives; the message is redelivered once, after the lease, with
#   attempt 2, and only that attempt may finish it.
# ACCEPTANCE 9: a poison message whose consumer is killed every time ends
#   dead after max_attempts, is never lost, and pgq_requeue brings it back.
# Also: a consumer killed while it waits (wait => ...) leaves the wake-up
#   machinery working after the crash restart.
#
# "kill -9 of a backend" makes the postmaster reinitialise (restart_after_crash
# = on), which also kills every other session; "kill -9 of a consumer" kills
# the client process (psql), whose backend then ends its session normally.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use PgqTap;

my $node = pgq_node('crash_consume', 'restart_after_crash = on',
	"pgq.reclaim_interval = '200ms'", 'pgq.history_interval = 0');
$node->safe_psql('postgres', 'CREATE EXTENSION pgq');

# Checks run in one session of their own (cheaper than a psql per query),
# opened again after each crash restart.
my $admin;

sub sql
{
	my ($query) = @_;
	$admin //= $node->background_psql('postgres');
	return $admin->query_safe($query);
}

# kill -9 a backend; wait for the crash restart (which ends every session)
sub crash
{
	my ($pid) = @_;
	crash_backend($node, $pid);
	close_session($admin) if $admin;
	undef $admin;
	return;
}

sub until_ok
{
	my ($query, $want, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return ok(defined wait_until($node, 'postgres', $query, $want, 60), $name);
}

# kill -9 the psql process of a background session and wait until its
# backend has ended its session.
sub kill_client
{
	my ($session, $backend_pid) = @_;
	$session->{run}->signal('KILL');
	eval { $session->{run}->finish; };
	defined wait_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $backend_pid", '0', 60)
	  or die "backend $backend_pid did not end";
	return;
}

sub new_session
{
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	return ($s, $pid);
}

# The row's lease columns, for comparing states.
sub lease_state
{
	my ($queue, $id) = @_;
	return sql(
		qq{SELECT consumed_count, started_at IS NULL, locked_until IS NULL,
		          lease_holder IS NULL, processed_at IS NULL
		   FROM $queue WHERE id = '$id'});
}

# ------------------------------------------------------------------------
# ACCEPTANCE 1: kill -9 of the backend inside BEGIN; consume.
# A lease of an hour: "consumable at once" cannot be the lease running out.
sql(q{SELECT pgq_create_queue('in_tx', lock_duration => '1 hour')});
my $id = sql(q{SELECT pgq_publish('in_tx', '{"n": 1}')});

my ($s, $pid) = new_session();
$s->query_safe('BEGIN');
is( $s->query_safe(q{SELECT id || ' ' || attempt FROM pgq_consume('in_tx')}),
	"$id 1",
	'inside BEGIN: the consumer leases the message, attempt 1');
is(sql(q{SELECT count(*) FROM pgq_consume('in_tx')}),
	'0', 'while that transaction is open, another consumer skips the message');

crash($pid);
close_session($s);

is(lease_state('in_tx', $id), '0|t|t|t|t',
	'after kill -9 and crash restart: no lease, attempt count back to 0');
is(sql(q{SELECT id || ' ' || attempt FROM pgq_consume('in_tx')}),
	"$id 1", 'the message is consumable at once, with attempt 1');
is(sql(qq{SELECT pgq_ack('in_tx', '$id', 1)}), 't', 'and acked with attempt 1');

# The same with the client killed instead of the backend (no crash restart:
# the backend sees the connection drop and rolls back).
$id = sql(q{SELECT pgq_publish('in_tx', '{"n": 2}')});
($s, $pid) = new_session();
$s->query_safe('BEGIN');
is( $s->query_safe(q{SELECT id || ' ' || attempt FROM pgq_consume('in_tx')}),
	"$id 1",
	'inside BEGIN (client killed next): the consumer leases the message');
kill_client($s, $pid);
is(lease_state('in_tx', $id), '0|t|t|t|t',
	'after kill -9 of the client: no lease, attempt count back to 0');
is(sql(q{SELECT id || ' ' || attempt FROM pgq_consume('in_tx')}),
	"$id 1", 'the message is consumable at once, with attempt 1');
is(sql(qq{SELECT pgq_ack('in_tx', '$id', 1)}), 't', 'and acked with attempt 1');

# ------------------------------------------------------------------------
# ACCEPTANCE 2: kill -9 after an autocommit consume.  The lease is long
# enough for the crash restart to end well before it does.  "Not before the
# lease ends" is checked where the message comes back: the consume that gets
# it again runs after the old locked_until.
sql(q{SELECT pgq_create_queue('auto', lock_duration => '5 s')});
$id = sql(q{SELECT pgq_publish('auto', '{"n": 3}')});

($s, $pid) = new_session();
my ($got, $lease_end) = split /\|/,
  $s->query_safe(
	q{SELECT id || ' ' || attempt, locked_until FROM pgq_consume('auto')});
is($got, "$id 1", 'autocommit consume leases the message, attempt 1');

crash($pid);
close_session($s);

# (On a machine slower than the lease, it may already have ended.)
is( sql(
		qq{SELECT consumed_count, (locked_until = '$lease_end' AND lease_holder IS NOT NULL)
		                          OR clock_timestamp() >= '$lease_end'
		   FROM auto WHERE id = '$id'}),
	'1|t',
	'after kill -9 and crash restart the committed lease is still there');

# The worker, restarted with the server, reclaims the lease once it ends.
until_ok(
	qq{SELECT lease_holder IS NULL AND locked_until IS NULL
	   FROM auto WHERE id = '$id'},
	't', 'the background worker reclaims the expired lease after the crash');
is( sql(
		qq{SELECT id || ' ' || attempt || ' ' || (clock_timestamp() >= '$lease_end')
		   FROM pgq_consume('auto')}),
	"$id 2 true",
	'redelivered after the lease ended, with attempt 2');
is(sql(qq{SELECT pgq_ack('auto', '$id', 1)}),
	'f', 'the killed consumer\'s attempt 1 can no longer ack');
is(sql(qq{SELECT pgq_ack('auto', '$id', 2)}), 't', 'attempt 2 acks');
is(sql(qq{SELECT consumed_count, processed_at IS NOT NULL, error_detail IS NULL
          FROM auto WHERE id = '$id'}),
	'2|t|t', 'done after exactly two deliveries');
is(sql(q{SELECT count(*) FROM pgq_consume('auto')}),
	'0', 'and never delivered again');

# The same with the client killed: no restart, the lease still holds.
$id = sql(q{SELECT pgq_publish('auto', '{"n": 4}')});
($s, $pid) = new_session();
($got, $lease_end) = split /\|/,
  $s->query_safe(
	q{SELECT id || ' ' || attempt, locked_until FROM pgq_consume('auto', lock_duration => '3 s')}
  );
is($got, "$id 1", 'autocommit consume (client killed next), attempt 1');
kill_client($s, $pid);
is( sql(
		qq{SELECT consumed_count, lease_holder IS NOT NULL OR clock_timestamp() >= '$lease_end'
		   FROM auto WHERE id = '$id'}),
	'1|t',
	'after kill -9 of the client the lease still holds');
# Polled from now on: a consume before the lease ended would print "2 false"
# (and lease the message for an hour), never "2 true".
until_ok(
	qq{SELECT attempt || ' ' || (clock_timestamp() >= '$lease_end')
	   FROM pgq_consume('auto', lock_duration => '1 hour')},
	'2 true', 'redelivered after the lease ended, with attempt 2');
is(sql(qq{SELECT pgq_nack('auto', '$id', 'stale', attempt => 1)}),
	'f', 'attempt 1 can no longer nack');
is(sql(qq{SELECT pgq_ack('auto', '$id', 2)}), 't', 'attempt 2 acks');

# ------------------------------------------------------------------------
# ACCEPTANCE 9: a poison message — every consumer that takes it is killed.
sql(q{SELECT pgq_create_queue('poison', max_attempts => 3, lock_duration => '1 s')}
);
$id = sql(q{SELECT pgq_publish('poison', '{"poison": true}')});
for my $attempt (1 .. 3)
{
	# Each time it becomes available again it is taken and the taker killed.
	($s, $pid) = new_session();
	until_ok(
		qq{SELECT count(*) FROM poison
		   WHERE id = '$id' AND locked_until > clock_timestamp()},
		'0', "poison attempt $attempt: the message is available");
	is($s->query_safe(q{SELECT attempt FROM pgq_consume('poison')}),
		$attempt, "poison attempt $attempt: consumed");
	crash($pid);
	close_session($s);
}
until_ok(qq{SELECT processed_at IS NOT NULL FROM poison WHERE id = '$id'},
	't', 'after the third lease expires the worker makes it dead');
is( sql(
		qq{SELECT consumed_count, error_detail, locked_until IS NULL, lease_holder IS NULL
		   FROM poison WHERE id = '$id'}),
	'3|lease expired after 3 attempts|t|t',
	'dead, kept, with the reason');
is(sql(q{SELECT count(*) FROM pgq_consume('poison')}),
	'0', 'a dead message is not consumed');
is(sql(qq{SELECT pgq_requeue('poison', ARRAY['$id'::uuid])}),
	'1', 'pgq_requeue brings it back');
is(sql(q{SELECT id || ' ' || attempt FROM pgq_consume('poison')}),
	"$id 1", 'consumable again with attempt 1');
is(sql(qq{SELECT pgq_ack('poison', '$id', 1)}), 't', 'and acked');

# ------------------------------------------------------------------------
# A consumer killed while it waits for work.
sql(q{SELECT pgq_create_queue('waiting')});
($s, $pid) = new_session();
$s->{stdin} .= "SELECT count(*) FROM pgq_consume('waiting', wait => '60 s');\n";
$s->{run}->pump_nb;
until_ok(qq{SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid},
	'Extension', 'a consumer waits on the empty queue');
crash($pid);
close_session($s);

($s, $pid) = new_session();
$s->{stdin} .=
  "SELECT payload FROM pgq_consume('waiting', wait => '30 s');\n\\echo waiter-done\n";
$s->{run}->pump_nb;
until_ok(qq{SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid},
	'Extension', 'after the crash restart a new consumer waits');
my $t0 = time;
sql(q{SELECT pgq_publish('waiting', '{"woken": true}')});
$s->{run}->pump until $s->{stdout} =~ /waiter-done/ || time - $t0 > 20;
like($s->{stdout}, qr/\{"woken": true\}/,
	'a publish wakes it and it receives the message');
cmp_ok(time - $t0, '<', 10, 'woken by the commit, not by the end of the wait');
$s->quit;
close_session($admin);

$node->stop;
done_testing();
