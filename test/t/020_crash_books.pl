# 020_crash_books.pl — crashes with the books balanced (issue "Waiting
# consumers woken at commit, and a proof against every race", ACCEPTANCE 3).
#
# Bookkeeping tables outside the queue record, each in the same transaction
# as the pgq call it describes:
#   published   every id pgq_publish returned (publish and record commit
#               together, or neither does)
#   deliveries  every lease pgq_consume handed out (id, attempt, when, until)
#   results     the "work" of a consumer, written with its ack: one row per
#               successful fenced ack
# Consumers (psql scripts looping) run while they are killed with SIGKILL at
# random moments, their backends are killed (crash restart, restart_after_crash
# = on) and the server is shut down with "immediate" and started again:
#   A  exactly once: BEGIN; consume; write result; ack; COMMIT
#   B  at least once: autocommit consume (waiting up to 100 ms for work),
#      work, then ack and write the result in one statement
#   P  a publisher: BEGIN; publish + record; COMMIT (or ROLLBACK)
# Then the leases run out (lock_duration 2 s, pgq.reclaim_interval 200 ms),
# the queue is drained, and SQL checks the books: every committed publish is
# in the queue and nothing else is; each message is acked exactly once (one
# result) or dead; a message is delivered again only after its previous lease
# ended; no attempt is handed out twice; a lease taken inside a transaction
# that died left no trace; the exactly-once consumers' results appear once.
use strict;
use warnings;

use IPC::Run;
use List::Util qw(shuffle);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use PgqTap;

my $seed = $ENV{PGQ_TEST_SEED} // int(time);
srand($seed);
note "random seed $seed (set PGQ_TEST_SEED to repeat)";

my $messages = 300;    # published before the consumers start
my $lease = 2;         # seconds, the queue's lock_duration
my $max_attempts = 4;

my $node = pgq_node('crash_books', 'restart_after_crash = on',
	"pgq.reclaim_interval = '200ms'", 'pgq.history_interval = 0',
	'log_statement = none');
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub sql { return $node->safe_psql('postgres', shift); }

sql(qq{
CREATE EXTENSION pgq;
SELECT pgq_create_queue('jobs', max_attempts => $max_attempts,
                        lock_duration => '$lease s');
CREATE TABLE published (id uuid PRIMARY KEY, publisher text NOT NULL);
CREATE TABLE deliveries (
	id uuid NOT NULL,
	attempt int NOT NULL,
	leased_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	locked_until timestamptz NOT NULL,
	consumer text NOT NULL);
CREATE TABLE results (
	id uuid NOT NULL,
	attempt int NOT NULL,
	consumer text NOT NULL);
INSERT INTO published
SELECT pgq_publish('jobs', jsonb_build_object('n', g)), 'initial'
FROM generate_series(1, $messages) g;
});
is(sql('SELECT count(*) FROM jobs'), $messages, "$messages messages published");

# ------------------------------------------------------------ the consumers
# Each is a psql script repeating one iteration; :me names the consumer.
# psql (without ON_ERROR_STOP) goes on after errors and exits when the
# connection is lost.
my $consume_and_record = q{
WITH c AS (SELECT * FROM pgq_consume('jobs', 1, wait => :'wait')),
     d AS (INSERT INTO deliveries (id, attempt, locked_until, consumer)
           SELECT id, attempt, locked_until, :'me' FROM c
           RETURNING id, attempt)
SELECT count(*) > 0 AS got, max(id::text) AS id, max(attempt) AS attempt
FROM d \gset
};
my %iteration = (
	# exactly once: lease, result and ack commit together or not at all
	A => qq{\\set wait 0
BEGIN;
$consume_and_record
\\if :got
SELECT pg_sleep(0.02 + random() * 0.08);
INSERT INTO results (id, attempt, consumer) VALUES (:'id', :attempt, :'me');
SELECT pgq_ack('jobs', :'id', :attempt) AS acked \\gset
\\if :acked
COMMIT;
\\else
ROLLBACK;
\\endif
\\else
COMMIT;
SELECT pg_sleep(0.05);
\\endif
},
	# at least once: the lease commits first; the result is written by the
	# statement that acks, only if the fenced ack succeeds
	B => qq{\\set wait '100 ms'
$consume_and_record
\\if :got
SELECT pg_sleep(0.02 + random() * 0.08);
WITH a AS (SELECT pgq_ack('jobs', :'id', :attempt) AS ok)
INSERT INTO results (id, attempt, consumer) SELECT :'id', :attempt, :'me'
FROM a WHERE ok;
\\endif
},
	# a publisher: commits most transactions, rolls some back
	P => q{BEGIN;
INSERT INTO published (id, publisher)
SELECT pgq_publish('jobs', jsonb_build_object('by', :'me', 'k', g)), :'me'
FROM generate_series(1, 2) g;
SELECT pg_sleep(random() * 0.1);
SELECT random() < 0.8 AS commit \gset
\if :commit
COMMIT;
\else
ROLLBACK;
\endif
},
);
my %script;
for my $kind (keys %iteration)
{
	$script{$kind} = "$tmp/$kind.sql";
	open my $fh, '>', $script{$kind} or die "cannot write $script{$kind}: $!";
	print $fh "\\set QUIET on\n";
	print $fh $iteration{$kind} for 1 .. 2000;
	close $fh;
}

# Start one consumer process; returns [name, IPC::Run harness].
sub start_consumer
{
	my ($kind, $name) = @_;
	my $h = IPC::Run::start(
		[
			$node->installed_command('psql'), '-X', '-q', '-v', "me=$name",
			'-d', $node->connstr('postgres') . " application_name=chaos_$name",
			'-f', $script{$kind}
		],
		'<', \undef, '>', '/dev/null', '2>>', "$tmp/consumers.err");
	return [ $name, $h ];
}

sub kill_consumer
{
	my ($c) = @_;
	eval { $c->[1]->signal('KILL'); };    # (it may have exited already)
	eval { $c->[1]->finish; };
	return;
}

sub pause { usleep(int(1_000_000 * ($_[0] + rand($_[1] - $_[0])))); return; }

sub chaos_backends
{
	return split /\n/,
	  sql(q{SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'chaos\_%'});
}

# ------------------------------------------------------------------ chaos
# Each round: consumers run, then one kind of fault, then every consumer
# still alive is killed with SIGKILL.
my @rounds = ('client', 'backend', 'client', 'immediate', 'backend', 'client');
my %faults;
for my $round (1 .. @rounds)
{
	my $fault = $rounds[ $round - 1 ];
	my @consumers = map { start_consumer(substr($_, 0, 1), "${_}_r$round") }
	  ('A1', 'A2', 'B1', 'B2', 'P1');
	defined wait_until($node, 'postgres',
		qq{SELECT count(*) FROM pg_stat_activity
		   WHERE application_name LIKE 'chaos\\_%\\_r$round'}, '5', 30)
	  or die "round $round: the consumers did not connect";
	pause(0.5, 1.2);

	if ($fault eq 'client')
	{
		# SIGKILL two consumers (whatever they are doing), let the others go on
		my @victims = (shuffle(@consumers[ 0 .. 3 ]))[ 0 .. 1 ];
		kill_consumer($_) for @victims;
		$faults{client} += 2;
		pause(0.3, 0.8);
	}
	elsif ($fault eq 'backend')
	{
		# SIGKILL one of their backends: the postmaster kills all sessions
		my @pids = grep { kill 0, $_ } shuffle(chaos_backends());
		if (@pids)
		{
			crash_backend($node, $pids[0]);
			$faults{backend}++;
		}
	}
	else
	{
		$node->stop('immediate');
		$node->start;
		$faults{immediate}++;
	}
	kill_consumer($_) for @consumers;
}
is( join(',', map { "$_=$faults{$_}" } sort keys %faults),
	'backend=2,client=6,immediate=1',
	'faults: consumers killed, backends killed, immediate shutdown');
# What the backends of killed clients logged (for the record: where a kill
# lands is up to timing; 021_crash_consume.pl places kills precisely).
my $log = slurp_file($node->logfile);
my $eof_in_tx = () =
  $log =~ /unexpected EOF on client connection with an open transaction/g;
my $lost = () = $log =~ /connection to client lost/g;
note "backends of killed clients: $eof_in_tx saw EOF inside a transaction, "
  . "$lost lost the client while answering";

# ------------------------------------------------------------------ drain
ok( defined wait_until(
		$node, 'postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'chaos\_%'},
		'0', 30),
	'every killed consumer\'s session is gone');
ok( defined wait_until(
		$node, 'postgres',
		q{SELECT count(*) FROM jobs
		  WHERE processed_at IS NULL AND locked_until > clock_timestamp()},
		'0', 30),
	'every lease the dead consumers held has run out');
sql(q{
DO $$
DECLARE
	m record;
BEGIN
	LOOP
		SELECT * INTO m FROM pgq_consume('jobs');
		EXIT WHEN NOT FOUND;
		INSERT INTO deliveries (id, attempt, locked_until, consumer)
		VALUES (m.id, m.attempt, m.locked_until, 'drain');
		INSERT INTO results (id, attempt, consumer) VALUES (m.id, m.attempt, 'drain');
		IF NOT pgq_ack('jobs', m.id, m.attempt) THEN
			RAISE EXCEPTION 'drain: ack of % attempt % failed', m.id, m.attempt;
		END IF;
	END LOOP;
END
$$});
# Messages whose last lease used up their attempts become dead by reclaim.
ok( defined wait_until(
		$node, 'postgres',
		'SELECT count(*) FROM jobs WHERE processed_at IS NULL', '0', 30),
	'the queue is drained: every message finished');

# ------------------------------------------------------------ the books
# Each check is one query printing one value; all run in one psql call.
my @checks = (
	[
		'the publisher committed more messages',
		qq{SELECT count(*) > $messages FROM published},
		'true'
	],
	[
		'the queue holds exactly the committed publishes',
		q{SELECT count(*) FILTER (WHERE q.id IS NULL) || ' lost, '
		         || count(*) FILTER (WHERE p.id IS NULL) || ' unexpected'
		  FROM published p FULL JOIN jobs q USING (id)},
		'0 lost, 0 unexpected'
	],
	[
		'no result for a message that was never published',
		q{SELECT count(*) FROM results r
		  WHERE NOT EXISTS (SELECT FROM published p WHERE p.id = r.id)},
		'0'
	],
	[
		'every message is acked exactly once (one result) or dead',
		qq{SELECT count(*) FROM jobs q
		   WHERE NOT (
		       -- done: acked exactly once, by the holder of the last attempt
		       (q.error_detail IS NULL
		        AND (SELECT count(*) FROM results r WHERE r.id = q.id) = 1
		        AND (SELECT r.attempt FROM results r WHERE r.id = q.id) = q.consumed_count)
		    OR -- dead: every attempt's lease ran out, never acked
		       (q.error_detail = 'lease expired after ' || q.consumed_count || ' attempts'
		        AND q.consumed_count = $max_attempts
		        AND NOT EXISTS (SELECT FROM results r WHERE r.id = q.id)))},
		'0'
	],
	[
		'no message has two results',
		q{SELECT count(*) FROM (SELECT id FROM results GROUP BY id HAVING count(*) > 1) x},
		'0'
	],
	[
		'each attempt was handed out exactly once (1 .. consumed_count, no gaps, '
		  . 'none twice): a lease taken in a transaction that died rolled back',
		q{SELECT count(*) FROM jobs q
		  WHERE (SELECT array_agg(d.attempt ORDER BY d.attempt) FROM deliveries d
		         WHERE d.id = q.id)
		        IS DISTINCT FROM
		        (SELECT array_agg(g) FROM generate_series(1, q.consumed_count) g)},
		'0'
	],
	[
		'a message was delivered again only after its previous lease ended',
		q{SELECT count(*) FROM deliveries d1
		  JOIN deliveries d2 ON d2.id = d1.id AND d2.attempt = d1.attempt + 1
		  WHERE d2.leased_at < d1.locked_until},
		'0'
	],
	[
		'a lease never acked was followed by a new delivery, or the message is dead',
		q{SELECT count(*) FROM deliveries d
		  WHERE NOT EXISTS (SELECT FROM results r WHERE r.id = d.id AND r.attempt = d.attempt)
		    AND NOT EXISTS (SELECT FROM deliveries n
		                    WHERE n.id = d.id AND n.attempt = d.attempt + 1)
		    AND NOT EXISTS (SELECT FROM jobs q
		                    WHERE q.id = d.id AND q.error_detail IS NOT NULL)},
		'0'
	],
	[
		'some leases were lost with their consumers and delivered again',
		q{SELECT count(*) > 0 FROM deliveries WHERE attempt > 1},
		'true'
	],
	[
		'exactly once: each lease an A consumer committed has its result, '
		  . 'written with the ack',
		q{SELECT count(*) FROM deliveries d
		  WHERE d.consumer LIKE 'A%'
		    AND NOT EXISTS (SELECT FROM results r
		                    WHERE r.id = d.id AND r.attempt = d.attempt
		                      AND r.consumer = d.consumer)},
		'0'
	],
	[
		'exactly once: the A consumers did work',
		q{SELECT count(*) > 0 FROM results WHERE consumer LIKE 'A%'},
		'true'
	],
	[
		'summary',
		q{SELECT (SELECT count(*) FROM published) || ' published; results: '
		         || (SELECT string_agg(c || ' ' || n, ', ' ORDER BY c)
		             FROM (SELECT left(consumer, 1) AS c, count(*) AS n
		                   FROM results GROUP BY 1) r)
		         || '; ' || (SELECT count(*) FROM jobs WHERE error_detail IS NOT NULL)
		         || ' dead; '
		         || (SELECT count(DISTINCT id) FROM deliveries WHERE attempt > 1)
		         || ' delivered more than once'},
		undef
	],
);
my @values = split /\n/,
  sql(join("\n", map { "SELECT ($_->[1])::text;" } @checks)), -1;
for my $i (0 .. $#checks)
{
	my ($name, undef, $want) = @{ $checks[$i] };
	if (defined $want) { is($values[$i], $want, $name); }
	else { note "$name: $values[$i]"; }
}

$node->stop;
done_testing();
