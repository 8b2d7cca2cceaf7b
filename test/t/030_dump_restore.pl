# 030_dump_restore.pl — pg_dump / pg_restore of a database with queues
# (ACCEPTANCE 7, issue "Any language, any deployment" item 5).
#
# A database holds several queues — non-default settings, a mixed-case name,
# a queue in another schema, an unlogged one — with ready, scheduled,
# retry-waiting, in-flight, dead and done messages.  After pg_dump -Fc and
# pg_restore into a new database, the queues (pgq_queues) and every message
# come back unchanged, and the API works on them: consume, ack, nack,
# discard, requeue; the in-flight lease stays in flight until it expires.
# A schema-only dump restores working, empty queues with their settings.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgqTap;

# No history samples: the worker would add rows to pgq_history (an extension
# configuration table, dumped with the data) between the two dumps compared.
my $node = pgq_node('dump_restore', "pgq.reclaim_interval = '200ms'",
	'pgq.history_interval = 0');

my $tmp = PostgreSQL::Test::Utils::tempdir;

# One session per database for the checks (cheaper than a psql per query).
my %session;

sub sql
{
	my ($db, $query) = @_;
	$session{$db} //= $node->background_psql($db);
	return $session{$db}->query_safe($query);
}

# ------------------------------------------------------------------ source
$node->safe_psql('postgres', 'CREATE DATABASE src');
sql('src', q{
CREATE EXTENSION pgq;
CREATE SCHEMA app;
SELECT pgq_create_queue('jobs', max_attempts => 5, lock_duration => '10 min',
                        retry_delay => '5 s', retention => '7 days');
SELECT pgq_create_queue('"MixedCase"', max_attempts => 0, lock_duration => '30 s');
SELECT pgq_create_queue('app.emails', max_attempts => 2, lock_duration => '3 s',
                        retry_delay => '1 min');
SELECT pgq_create_queue('scratch', unlogged => true, retention => '0');
});

# Messages in every state, set up in one psql script: each statement is a
# transaction of its own, so created_at orders the messages; \gset keeps ids.
my @ids = split /\|/, sql('src', q{
-- jobs: done, dead (discarded), nacked and waiting for its retry, ready x3,
-- scheduled, in flight
SELECT pgq_publish('jobs', '{"state": "done"}') AS done \gset
SELECT count(*) AS n FROM pgq_consume('jobs') \gset
SELECT pgq_ack('jobs', :'done', 1) AS ok \gset
SELECT pgq_publish('jobs', '{"state": "discarded"}') AS discarded \gset
SELECT count(*) AS n FROM pgq_consume('jobs') \gset
SELECT pgq_discard('jobs', :'discarded', 'bad payload', 1) AS ok \gset
SELECT pgq_publish('jobs', '{"state": "retrying"}') AS retrying \gset
SELECT count(*) AS n FROM pgq_consume('jobs') \gset
SELECT pgq_nack('jobs', :'retrying', 'transient', retry_after => '1 hour', attempt => 1) AS ok \gset
SELECT pgq_publish('jobs', '{"state": "ready", "n": 1}', '{"n": "1"}') AS ready1 \gset
SELECT pgq_publish('jobs', '{"state": "ready", "n": 2}', '{"n": "2"}') AS ready2 \gset
SELECT pgq_publish('jobs', '{"state": "ready", "n": 3}', '{"n": "3"}') AS ready3 \gset
SELECT pgq_publish('jobs', '{"state": "scheduled"}', '{}', now() + interval '1 day') AS scheduled \gset
SELECT pgq_publish('jobs', '{"state": "in flight"}', '{"kind": "lease"}') AS in_flight \gset
-- app.emails: dead after its max_attempts (2) nacks, and one ready
SELECT pgq_publish('app.emails', '{"to": "a@example.com"}') AS emails_dead \gset
SELECT count(*) AS n FROM pgq_consume('app.emails') \gset
SELECT pgq_nack('app.emails', :'emails_dead', retry_after => '0', attempt => 1) AS ok \gset
SELECT count(*) AS n FROM pgq_consume('app.emails') \gset
SELECT pgq_nack('app.emails', :'emails_dead', retry_after => '0', attempt => 2) AS ok \gset
SELECT pgq_publish('app.emails', '{"to": "b@example.com"}') AS emails_ready \gset
-- "MixedCase": done, in flight for an hour, ready
SELECT pgq_publish('"MixedCase"', '{"mc": 1}') AS mc_done \gset
SELECT count(*) AS n FROM pgq_consume('"MixedCase"') \gset
SELECT pgq_ack('"MixedCase"', :'mc_done') AS ok \gset
SELECT pgq_publish('"MixedCase"', '{"mc": 2}') AS mc_leased \gset
SELECT count(*) AS n FROM pgq_consume('"MixedCase"', lock_duration => '1 hour') \gset
SELECT pgq_publish('"MixedCase"', '{"mc": 3}') AS mc_ready \gset
-- scratch: one ready
SELECT pgq_publish('scratch', '{"s": 1}') AS scratch_ready \gset
SELECT concat_ws('|', :'done', :'discarded', :'retrying', :'ready1', :'ready2',
       :'ready3', :'scheduled', :'in_flight', :'emails_dead', :'emails_ready',
       :'mc_done', :'mc_leased', :'mc_ready', :'scratch_ready');
});
my ($done, $discarded, $retrying, @ready, $scheduled, $in_flight, $emails_dead,
	$emails_ready, $mc_done, $mc_leased, $mc_ready, $scratch_ready);
($done, $discarded, $retrying, $ready[0], $ready[1], $ready[2], $scheduled,
	$in_flight, $emails_dead, $emails_ready, $mc_done, $mc_leased, $mc_ready,
	$scratch_ready) = @ids;
is(scalar(@ids), 14, 'src: fourteen messages published');

# Last: the lease that must still be in flight after the restore and expire
# a few seconds later (long enough for a loaded machine to dump and restore).
my ($got, $lease_end) = split /\|/,
  sql('src',
	q{SELECT id || ' ' || attempt, locked_until FROM pgq_consume('jobs',
	    lock_duration => '12 s', metadata_filter => '{"kind": "lease"}')});
is($got, "$in_flight 1", 'src: in flight');

# Each queue's messages by state.
my $states_query = q{
SELECT string_agg(q || ': ' || state || ' ' || n, ', ' ORDER BY q COLLATE "C", state COLLATE "C") FROM (
  SELECT q, state, count(*) AS n FROM (
    SELECT q, CASE
      WHEN processed_at IS NOT NULL AND error_detail IS NULL THEN 'done'
      WHEN processed_at IS NOT NULL THEN 'dead'
      WHEN locked_until > now() AND lease_holder IS NOT NULL THEN 'in flight'
      WHEN available_at > now() THEN 'waiting'
      ELSE 'ready' END AS state
    FROM (SELECT 'jobs' AS q, * FROM jobs
          UNION ALL SELECT 'MixedCase', * FROM "MixedCase"
          UNION ALL SELECT 'app.emails', * FROM app.emails
          UNION ALL SELECT 'scratch', * FROM scratch) m) s
  GROUP BY q, state) c};
is( sql('src', $states_query),
	'MixedCase: done 1, MixedCase: in flight 1, MixedCase: ready 1, '
	  . 'app.emails: dead 1, app.emails: ready 1, '
	  . 'jobs: dead 1, jobs: done 1, jobs: in flight 1, jobs: ready 3, jobs: waiting 2, '
	  . 'scratch: ready 1',
	'src: messages in every state');

# What must come back: the settings and every column of every message.
my $queues_query = q{
SELECT queue::text, queue_schema, queue_name, max_attempts, lock_duration,
       retry_delay, retention, unlogged, created_at
FROM pgq_queues ORDER BY queue::text COLLATE "C"};
my $messages_query = join(
	"\nUNION ALL\n",
	map {
		qq{(SELECT '$_' AS q, id, payload, metadata, consumed_count, error_detail,
		        created_at, started_at, locked_until, scheduled_for, processed_at,
		        lease_holder, available_at
		 FROM $_ ORDER BY created_at, id)}
	} ('jobs', '"MixedCase"', 'app.emails', 'scratch'));
my $src_queues = sql('src', $queues_query);
my $src_messages = sql('src', $messages_query);
is(scalar(split /\n/, $src_queues), 4, 'src: four queues');

# ------------------------------------------------------------- full dump
my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', 'src' ],
	'pg_dump -Fc of the database with queues');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dst', $dump ],
	'pg_restore into a new database');

# First, while its lease runs: the in-flight message is not delivered.
is( sql('dst',
		q{SELECT (SELECT count(*) FROM pgq_consume('jobs', 10,
		            metadata_filter => '{"kind": "lease"}')),
		         (SELECT locked_until > clock_timestamp() FROM jobs
		          WHERE metadata @> '{"kind": "lease"}')}),
	'0|t',
	'restored: the in-flight message stays in flight while its lease runs');
is(sql('dst', $queues_query), $src_queues,
	'restored: every queue with its settings (pgq_queues)');
is(sql('dst', $messages_query), $src_messages,
	'restored: every message, every column, lease columns included');

# The restored database dumps the same as the source, schema and data.
$node->command_ok([ 'pg_dump', '-f', "$tmp/src.sql", '-d', 'src' ], 'plain dump of src');
$node->command_ok([ 'pg_dump', '-f', "$tmp/dst.sql", '-d', 'dst' ], 'plain dump of dst');
# (\restrict lines carry a random key per dump.)
sub dump_text
{
	my $text = slurp_file(shift);
	$text =~ s/^\\(un)?restrict .*$//mg;
	return $text;
}
is(dump_text("$tmp/dst.sql"), dump_text("$tmp/src.sql"),
	'the restored database dumps exactly like the source');

# --------------------------------------------------- the API on restored data
is( sql('dst', q{SELECT string_agg(id || ' ' || attempt, ',') FROM pgq_consume('jobs', 10)}),
	join(',', map { "$_ 1" } @ready),
	'consume returns the three ready messages, oldest first, attempt 1; '
	  . 'nothing scheduled, retry-waiting, in flight or finished');
is(sql('dst', qq{SELECT pgq_ack('jobs', '$ready[0]', 1)}), 't', 'ack');
is(sql('dst', qq{SELECT pgq_nack('jobs', '$ready[1]', 'failed', attempt => 1)}),
	't', 'nack');
is( sql('dst',
		qq{SELECT processed_at IS NULL, locked_until >= started_at + interval '5 s', error_detail
		   FROM jobs WHERE id = '$ready[1]'}),
	't|t|failed',
	'the nack uses the restored retry_delay (waits before its retry)');
is(sql('dst', qq{SELECT pgq_discard('jobs', '$ready[2]', 'nope', 1)}), 't', 'discard');
is(sql('dst', qq{SELECT pgq_ack('jobs', '$done')}), 'f',
	'a message done before the dump stays done');
is(sql('dst', qq{SELECT pgq_ack('jobs', '$in_flight', 2)}), 'f',
	'the in-flight lease is fenced: a wrong attempt cannot ack');
is(sql('dst', qq{SELECT pgq_requeue('jobs', ARRAY['$discarded'::uuid])}), '1',
	'requeue of a message dead before the dump');
is(sql('dst', q{SELECT id || ' ' || attempt FROM pgq_consume('jobs')}),
	"$discarded 1", 'the requeued message is consumed with attempt 1');
is(sql('dst', qq{SELECT pgq_ack('jobs', '$discarded', 1)}), 't', 'and acked');

# Another schema: dead after max_attempts comes back, max_attempts still 2.
is(sql('dst', q{SELECT pgq_requeue('app.emails')}), '1', 'app.emails: requeue the dead');
is( sql('dst', q{SELECT string_agg(id || ' ' || attempt, ',') FROM pgq_consume('app.emails', 10)}),
	"$emails_dead 1,$emails_ready 1",
	'app.emails: both consumable');
sql('dst', qq{SELECT pgq_nack('app.emails', '$emails_dead', retry_after => '0')});
is(sql('dst', q{SELECT attempt FROM pgq_consume('app.emails')}), '2',
	'app.emails: attempt 2');
is( sql('dst',
		qq{SELECT pgq_nack('app.emails', '$emails_dead', 'again', attempt => 2);
		   SELECT processed_at IS NOT NULL, error_detail FROM app.emails
		   WHERE id = '$emails_dead'}),
	"t\nt|again",
	'app.emails: dead again after its two attempts (max_attempts restored)');

# Mixed-case name.
sub publish
{
	my ($db, $queue, $payload) = @_;
	return sql($db, qq{SELECT pgq_publish('$queue', '$payload')});
}
is( sql('dst', q{SELECT string_agg(id::text, ',') FROM pgq_consume('"MixedCase"', 10)}),
	$mc_ready, '"MixedCase": the ready message, not the leased one');
my $mc_new = publish('dst', '"MixedCase"', '{"mc": 4}');
is(sql('dst', q{SELECT id FROM pgq_consume('"MixedCase"')}), $mc_new,
	'"MixedCase": publish and consume');
is( sql('dst',
		qq{SELECT pgq_ack_batch('"MixedCase"', ARRAY['$mc_ready', '$mc_new', '$mc_leased']::uuid[])}),
	'3', '"MixedCase": ack_batch');

# Unlogged queue with retention 0: the ack deletes.
is(sql('dst', q{SELECT id || ' ' || attempt FROM pgq_consume('scratch')}),
	"$scratch_ready 1", 'scratch: consume');
is(sql('dst', qq{SELECT pgq_ack('scratch', '$scratch_ready', 1)}), 't', 'scratch: ack');
is(sql('dst', q{SELECT count(*) FROM scratch}), '0',
	'scratch: retention 0 restored, the ack deleted the row');

# The in-flight lease taken in src expires in dst and is delivered again.
# Polled: a consume before the lease ended would print "... false".
ok( defined wait_until(
		$node, 'dst',
		qq{SELECT id || ' ' || attempt || ' ' || (clock_timestamp() >= '$lease_end')
		   FROM pgq_consume('jobs', metadata_filter => '{"kind": "lease"}')},
		"$in_flight 2 true", 60),
	'once its lease ends it is delivered again, attempt 2');
is(sql('dst', qq{SELECT pgq_ack('jobs', '$in_flight', 1)}), 'f',
	'the lease taken before the dump can no longer ack');
is(sql('dst', qq{SELECT pgq_ack('jobs', '$in_flight', 2)}), 't',
	'the new attempt acks');

is(sql('dst', q{SELECT pgq_reclaim() >= 0, pgq_purge('jobs', '1 day')}), 't|0',
	'reclaim and purge run on the restored queues');

# -------------------------------------------------------- schema-only dump
my $schema_dump = "$tmp/src_schema.dump";
$node->command_ok([ 'pg_dump', '-Fc', '--schema-only', '-f', $schema_dump, '-d', 'src' ],
	'pg_dump -Fc --schema-only');
$node->safe_psql('postgres', 'CREATE DATABASE empty');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'empty', $schema_dump ],
	'pg_restore of the schema-only dump');
# The settings are rows of pgq_queue_config, data that a schema-only dump
# leaves out; the tables come back with pgq's whole shape, and the first
# pgq call on each registers it again with the default settings.
is(sql('empty', q{SELECT count(*) FROM pgq_queues}), '0',
	'schema only: no settings before the queues are used');
is(sql('empty', $messages_query), '', 'schema only: no messages');

# Run SQL that may fail; returns its output, or the error.
sub try_sql
{
	my ($db, $query) = @_;
	my ($rc, $out, $err) = $node->psql($db, $query);
	return $rc == 0 ? $out : "ERROR: $err";
}
for my $queue ('jobs', '"MixedCase"', 'app.emails', 'scratch')
{
	is( try_sql('empty', qq{
SELECT pgq_publish('$queue', '{"fresh": true}') AS id \\gset
SELECT attempt FROM pgq_consume('$queue', 10) WHERE id = :'id';
SELECT pgq_ack('$queue', :'id', 1);}),
		"1\nt", "schema only: $queue: publish, consume and ack work");
}
is( sql('empty', q{
	SELECT string_agg(concat_ws(' ', queue, max_attempts, lock_duration, retry_delay,
							 coalesce(retention::text, 'keep')), ',' ORDER BY queue::text)
	FROM pgq_queues}),
	'"MixedCase" 3 01:00:00 00:00:00 keep,app.emails 3 01:00:00 00:00:00 keep,'
	  . 'jobs 3 01:00:00 00:00:00 keep,scratch 3 01:00:00 00:00:00 keep',
	'schema only: the queues were registered again with the default settings');
is( try_sql('empty',
		q{SELECT count(*) FILTER (WHERE processed_at IS NOT NULL) FROM jobs}),
	'1', 'schema only: jobs keeps its done row (default: no retention)');

close_session($_) for values %session;
$node->stop;
done_testing();
