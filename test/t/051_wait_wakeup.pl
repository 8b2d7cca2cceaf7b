# 051_wait_wakeup.pl — consumers waiting with pgq_consume(..., wait => ...)
# are woken by a commit, never before (ACCEPTANCE 16, issue "Waiting
# consumers woken at commit" item 1).
#
# Each waiter is a psql session of its own running
#   SELECT ... FROM pgq_consume(q, 1, wait => '30 s')
# and is known to be asleep once pg_stat_activity shows it in the
# "Extension" wait event.  Nothing but a wake-up ends that sleep early: the
# queues hold no lease or scheduled message that would end it, so a waiter
# that returns well before 30 s was woken.
#   - a publish in an open transaction wakes no one; its COMMIT does, at once
#   - a rolled-back publish wakes no one
#   - statement_timeout and pg_cancel_backend end the wait with 57014, and
#     the session and the queue are fine afterwards
#   - a lease that expires (never acked) wakes a waiter, which gets the
#     message at attempt 2 just after the lease ends
#   - five waiters and five messages published in one commit: each waiter
#     gets one; one message for three waiters: one returns, two sleep on
#   - a waiter with a metadata filter sleeps through messages that do not
#     match and wakes for one that does
#   - waiting is refused under REPEATABLE READ (0A000)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use PgqTap;

my $prompt = 2;      # seconds a woken waiter may take to return (load)
my $slack = 2;       # seconds of scheduling slack for timed events

my $node = pgq_node('wait_wakeup');
$node->safe_psql('postgres', q{
	CREATE EXTENSION pgq;
	SELECT pgq_create_queue('jobs');
	SELECT pgq_create_queue('leases');
	SELECT pgq_create_queue('herd');
	SELECT pgq_create_queue('filtered');
});

# ------------------------------------------------------------- helpers

# A psql session that survives errors (they are what some tests expect).
sub session
{
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	$s->{pid} = $s->query_safe('SELECT pg_backend_pid()');
	return $s;
}

# start(SESSION, SQL): send SQL without waiting for it; its output, then
# "DONE <sqlstate>", appear on the session's stdout when it ends.
sub start
{
	my ($s, $sql) = @_;
	$s->{stdout} = '';
	$s->{stderr} = '';
	$s->{stdin} .= "$sql;\n\\echo DONE :SQLSTATE\n";
	$s->{run}->pump_nb;
	return;
}

# finished(SESSION): has the statement sent by start() ended?
sub finished
{
	my ($s) = @_;
	$s->{run}->pump_nb;
	return $s->{stdout} =~ /DONE \w+\n/;
}

# wait_done(SESSION, SECONDS): wait for the statement to end; returns the
# seconds waited, or undef after SECONDS.
sub wait_done
{
	my ($s, $seconds) = @_;
	my $start = time;
	until (finished($s))
	{
		return undef if time - $start > $seconds;
		usleep(5_000);
	}
	return time - $start;
}

# result(SESSION): (output, sqlstate) of the statement that ended; its
# error output is kept in $s->{error}.  Clears the session's buffers for
# the next query.
sub result
{
	my ($s) = @_;
	my ($out, $state) = $s->{stdout} =~ /\A(.*?)\n?DONE (\w+)\n/s;
	$s->{error} = $s->{stderr};
	$s->{stdout} = '';
	$s->{stderr} = '';
	return ($out, $state);
}

# asleep(SESSION...): wait until every session sleeps in pgq's wait.
sub asleep
{
	my @pids = map { $_->{pid} } @_;
	my $list = join(',', @pids);
	return defined wait_until($node, 'postgres', qq{
		SELECT count(*) FROM pg_stat_activity
		WHERE pid IN ($list) AND state = 'active'
		  AND wait_event_type = 'Extension'}, scalar(@pids), 30);
}

# still_asleep(SECONDS, SESSION...): after SECONDS, none has returned and
# every one still sleeps.
sub still_asleep
{
	my ($seconds, @sessions) = @_;
	usleep($seconds * 1_000_000);
	return 0 if grep { finished($_) } @sessions;
	return asleep(@sessions);
}

my $consume = q{SELECT payload->>'n' || ' ' || attempt FROM pgq_consume('%s', 1, wait => '30 s'%s)};

sub waiting_consume
{
	my ($s, $queue, $extra) = @_;
	start($s, sprintf($consume, $queue, defined $extra ? ", $extra" : ''));
	return;
}

my $waiter = session();
my $publisher = session();

# ---- a publish in an open transaction wakes no one; the commit does
waiting_consume($waiter, 'jobs');
ok(asleep($waiter), 'a waiter sleeps on an empty queue');
$publisher->query_safe('BEGIN');
$publisher->query_safe(q{SELECT pgq_publish('jobs', '{"n": 1}')});
ok(still_asleep(1, $waiter),
	'a publish in an open transaction does not wake it (1 s later)');
$publisher->query_safe('COMMIT');
my $t = wait_done($waiter, 30);
ok(defined $t && $t < $prompt, 'the COMMIT wakes it at once')
  or diag('woken after ' . ($t // 'never'));
note sprintf('woken %.1f ms after the commit', 1000 * $t) if defined $t;
is_deeply([ result($waiter) ], [ '1 1', '00000' ],
	'it returns the committed message, attempt 1');
is($node->safe_psql('postgres', q{SELECT pgq_ack('jobs', id, 1) FROM jobs}),
	't', 'and acks it');

# ---- a rolled-back publish wakes no one
waiting_consume($waiter, 'jobs');
ok(asleep($waiter), 'the waiter sleeps again');
$publisher->query_safe('BEGIN');
$publisher->query_safe(q{SELECT pgq_publish('jobs', '{"n": "rolled back"}')});
$publisher->query_safe('ROLLBACK');
ok(still_asleep(1, $waiter), 'a rolled-back publish does not wake it');
$publisher->query_safe('BEGIN');
$publisher->query_safe(q{SAVEPOINT s});
$publisher->query_safe(q{SELECT pgq_publish('jobs', '{"n": "undone"}')});
$publisher->query_safe(q{ROLLBACK TO SAVEPOINT s});
$publisher->query_safe(q{SELECT pgq_publish('jobs', '{"n": 2}')});
$publisher->query_safe('COMMIT');
$t = wait_done($waiter, 30);
ok(defined $t && $t < $prompt,
	'a commit with one publish rolled back to a savepoint wakes it');
is_deeply([ result($waiter) ], [ '2 1', '00000' ],
	'it gets the kept message, never the rolled-back ones');
is( $node->safe_psql('postgres',
		q{SELECT pgq_ack('jobs', id, 1) FROM jobs WHERE processed_at IS NULL}),
	't', 'and acks it');

# ---- statement_timeout and cancel end the wait with 57014
$waiter->query_safe(q{SET statement_timeout = '500ms'});
my $start = time;
waiting_consume($waiter, 'jobs');
$t = wait_done($waiter, 30);
ok(defined $t && time - $start < 0.5 + $slack,
	'statement_timeout ends the wait');
is((result($waiter))[1], '57014', 'with SQLSTATE 57014');
like($waiter->{error}, qr/canceling statement due to statement timeout/,
	'and the statement timeout message');
$waiter->query_safe(q{RESET statement_timeout});

waiting_consume($waiter, 'jobs');
ok(asleep($waiter), 'a waiter sleeps');
is($publisher->query_safe("SELECT pg_cancel_backend($waiter->{pid})"),
	't', 'pg_cancel_backend');
$t = wait_done($waiter, 30);
ok(defined $t && $t < $prompt, 'the cancel ends the wait at once');
is((result($waiter))[1], '57014', 'with SQLSTATE 57014');
like($waiter->{error}, qr/canceling statement due to user request/,
	'and the cancel message');
is($waiter->query_safe('SELECT 1'), '1', 'the session works afterwards');
is($node->safe_psql('postgres', q{SELECT count(*) FROM jobs WHERE processed_at IS NULL}),
	'0', 'no message was leased or left behind');

# ---- waiting is refused where the snapshot would never see a publish
$waiter->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
waiting_consume($waiter, 'jobs');
$t = wait_done($waiter, 30);
is((result($waiter))[1], '0A000', 'wait under REPEATABLE READ: 0A000');
$waiter->query_safe('ROLLBACK');

# ---- an expired lease wakes a waiter
$node->safe_psql('postgres', q{SELECT pgq_publish('leases', '{"n": 3}')});
my $holder = session();
is($holder->query_safe(q{SELECT payload->>'n' || ' ' || attempt FROM pgq_consume('leases', lock_duration => '2 s')}),
	'3 1', 'another session leases the message for 2 s and never acks');
my $leased_at = time;
waiting_consume($waiter, 'leases');
ok(asleep($waiter), 'a waiter sleeps while the lease runs');
$t = wait_done($waiter, 30);
my $after = time - $leased_at;
ok(defined $t && $after >= 2 - 0.1 && $after < 2 + $slack,
	'the waiter returns when the lease ends')
  or diag("returned after $after s");
note sprintf('returned %.2f s after the 2 s lease began', $after);
is_deeply([ result($waiter) ], [ '3 2', '00000' ],
	'with the message, attempt 2');
is($holder->query_safe(q{SELECT pgq_ack('leases', id, 1) FROM leases}),
	'f', "the first holder's late ack is refused");

# ---- many waiters, many messages in one commit: one each
my @herd = map { session() } 1 .. 5;
waiting_consume($_, 'herd') for @herd;
ok(asleep(@herd), 'five waiters sleep');
$publisher->query_safe('BEGIN');
$publisher->query_safe(qq{SELECT pgq_publish('herd', '{"n": $_}')}) for 1 .. 5;
$publisher->query_safe('COMMIT');
my @got;
my $all = 1;
for my $s (@herd)
{
	my $w = wait_done($s, 30);
	$all = 0 unless defined $w && $w < $prompt + $slack;
	my ($out, $state) = result($s);
	push @got, $out if $state eq '00000';
}
ok($all, 'one commit of five messages wakes all five waiters');
is_deeply([ sort @got ], [ map { "$_ 1" } 1 .. 5 ],
	'each waiter got one message, none twice');

# one message for three waiters: one returns, two sleep on
my @three = @herd[ 0 .. 2 ];
waiting_consume($_, 'herd') for @three;
ok(asleep(@three), 'three waiters sleep');
$publisher->query_safe(q{SELECT pgq_publish('herd', '{"n": 6}')});
my $deadline = time + 30;
my @woken;
while (time < $deadline)
{
	@woken = grep { finished($_) } @three;
	last if @woken;
	usleep(5_000);
}
my @sleeping = grep { !finished($_) } @three;
is(scalar(@woken), 1, 'one message: one waiter returns');
is((result($woken[0]))[0], '6 1', 'with the message') if @woken;
is(scalar(@sleeping), 2, 'two waiters are left');
ok(still_asleep(1, @sleeping), 'and still sleep (1 s later)');
$publisher->query_safe(q{SELECT pgq_publish_batch('herd', ARRAY['{"n": 7}', '{"n": 8}']::jsonb[])});
@got = ();
$all = 1;
for my $s (@sleeping)
{
	my $w = wait_done($s, 30);
	$all = 0 unless defined $w && $w < $prompt;
	push @got, (result($s))[0];
}
ok($all, 'a batch of two wakes the other two');
is_deeply([ sort @got ], [ '7 1', '8 1' ], 'each gets one');

# ---- a filtered waiter wakes for a match only
waiting_consume($waiter, 'filtered', q{metadata_filter => '{"kind": "a"}'});
ok(asleep($waiter), 'a filtered waiter sleeps');
$publisher->query_safe(q{SELECT pgq_publish('filtered', '{"n": 9}', '{"kind": "b"}')});
ok(still_asleep(1, $waiter),
	'a message that does not match leaves it asleep');
$publisher->query_safe(q{SELECT pgq_publish('filtered', '{"n": 10}', '{"kind": "a"}')});
$t = wait_done($waiter, 30);
ok(defined $t && $t < $prompt, 'a matching message wakes it at once');
is_deeply([ result($waiter) ], [ '10 1', '00000' ], 'with that message');

close_session($_) for ($waiter, $publisher, $holder, @herd);
$node->stop;
done_testing();
