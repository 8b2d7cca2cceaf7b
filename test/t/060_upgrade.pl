# 060_upgrade.pl — ALTER EXTENSION pgq UPDATE from 1.0 (ACCEPTANCE 8, issue
# "Any language, any deployment" item 6).
#
# Database "upgraded" installs pgq 1.0, the first released SQL, and uses it
# through the current library with 1.0's signatures: queues with non-default
# settings, a schema-qualified, a mixed-case and an unlogged one; messages
# ready, scheduled, in flight (a lease held by a session that stays
# connected), waiting for a retry, dead (discarded, nacked out), requeued,
# done, reclaimed after an expired lease.  As a queue made by the released
# 1.0 library would, two queues lack the index 1.1 adds (<t>_failed_idx).
#
# After ALTER EXTENSION pgq UPDATE:
#   - every row of every queue and of the queue catalog is unchanged, the
#     lease is still held and its holder acks it with its attempt;
#   - 1.1 works on the old queues: pgq_queue_stats (exact counts),
#     pgq_in_flight, pgq_failures, history samples, NOTIFY on publish;
#   - the schema equals a fresh install of 1.1 in database "fresh" with
#     the same queues: pg_dump --schema-only, psql's \dx+ pgq, and the
#     definition of every object the extension owns (functions, views,
#     tables, indexes, event trigger, privileges, comments, config tables).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PgqTap;

my $node = pgq_node('upgrade', "pgq.reclaim_interval = '100ms'",
	"pgq.history_interval = '1s'");

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
sql('upgraded', q{CREATE EXTENSION pgq VERSION '1.0'});
# the launcher rechecks a database without pgq only every ten seconds; a
# restart makes its first pass find the extension at once
$node->restart;

is(sql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'pgq'}),
	'1.0', 'pgq 1.0 is installed');
is(sql('upgraded', q{SELECT count(*) FROM pg_class WHERE relname IN ('pgq_queue_stats', 'pgq_history')}),
	'0', '1.0 has no monitoring views');

# The queues, the same in both databases.
my $queues = q{
	CREATE SCHEMA app;
	SELECT pgq_create_queue('jobs', max_attempts => 2, lock_duration => '10 min',
							retry_delay => '1 min', retention => '7 days');
	SELECT pgq_create_queue('app.emails', max_attempts => 0);
	SELECT pgq_create_queue('"MixedCase"', lock_duration => '30 s');
	SELECT pgq_create_queue('scratch', unlogged => true, retention => '0');
	-- pgq_alter_queue, by name and by position (1.0: seven arguments)
	SELECT pgq_alter_queue('"MixedCase"', max_attempts => 5);
	SELECT pgq_alter_queue('app.emails', NULL, '2 hours', NULL, NULL, NULL, false);
};
sql('upgraded', $queues);
# as the released 1.0 library made them: no failure index
sql('upgraded', q{DROP INDEX jobs_failed_idx, app.emails_failed_idx});

# ------------------------------------------------- 1.0 SQL, current library
# publish(KEY, [EXTRA]): a message of jobs tagged {"k": KEY}; returns its id
sub publish
{
	my ($key, $extra) = @_;
	$extra = defined $extra ? ", $extra" : '';
	return sql('upgraded',
		qq{SELECT pgq_publish('jobs', '{"k": "$key"}', '{"k": "$key"}'$extra)});
}

# consume(KEY, [EXTRA]): consume that message; returns its attempt
sub consume
{
	my ($key, $extra) = @_;
	$extra = defined $extra ? ", $extra" : '';
	return sql('upgraded',
		qq{SELECT attempt FROM pgq_consume('jobs', metadata_filter => '{"k": "$key"}'$extra)});
}

my %id = map { $_ => publish($_) }
  qw(done retry discarded nacked requeued batch expired ready leased);
$id{scheduled} = publish('scheduled', q{scheduled_for => now() + interval '1 day'});

is(consume('done'), '1', '1.0: consume');
is(sql('upgraded', qq{SELECT pgq_ack('jobs', '$id{done}', 1)}), 't', '1.0: ack');
consume('retry');
is( sql('upgraded',
		qq{SELECT pgq_nack('jobs', '$id{retry}', 'transient', retry_after => '1 hour', attempt => 1)}),
	't', '1.0: nack with a retry delay');
consume('discarded');
is(sql('upgraded', qq{SELECT pgq_discard('jobs', '$id{discarded}', 'bad', 1)}),
	't', '1.0: discard');
consume('nacked');
sql('upgraded', qq{SELECT pgq_nack('jobs', '$id{nacked}', retry_after => '0')});
is(consume('nacked'), '2', '1.0: a nacked message comes back, attempt 2');
is(sql('upgraded', qq{SELECT pgq_nack('jobs', '$id{nacked}', attempt => 2)}),
	't', '1.0: nacked out of attempts');
consume('requeued');
sql('upgraded', qq{SELECT pgq_discard('jobs', '$id{requeued}', 'poison')});
is(sql('upgraded', qq{SELECT pgq_requeue('jobs', ARRAY['$id{requeued}']::uuid[])}),
	'1', '1.0: requeue');
is(sql('upgraded', qq{SELECT pgq_ack_batch('jobs', ARRAY['$id{batch}']::uuid[])}),
	'1', '1.0: ack_batch');
is(consume('expired', q{lock_duration => '1 s'}), '1', '1.0: a lease of one second');
ok( defined wait_until($node, 'upgraded',
		qq{SELECT lease_holder IS NULL AND locked_until IS NULL FROM jobs WHERE id = '$id{expired}'},
		't', 30),
	'1.0: the worker reclaims it');
is(sql('upgraded', q{SELECT pgq_reclaim('jobs')}), '0', '1.0: pgq_reclaim');
is(sql('upgraded', q{SELECT pgq_purge('jobs', '1 day')}), '0', '1.0: purge');

# the lease that must survive, held by a session that stays connected
my $holder = $node->background_psql('upgraded');
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');
is( $holder->query_safe(
		q{SELECT id || ' ' || attempt FROM pgq_consume('jobs', lock_duration => '1 hour', metadata_filter => '{"k": "leased"}')}
	),
	"$id{leased} 1",
	'1.0: a session leases a message');
is( $holder->query_safe(
		qq{SELECT pgq_extend('jobs', '$id{leased}', '2 hours', 1) > now() + interval '1 hour'}),
	't', '1.0: and extends the lease');

# the other queues
sql('upgraded', q{
	SELECT count(*) FROM pgq_publish_batch('app.emails', ARRAY['{"to": "a"}', '{"to": "b"}', '{"to": "c"}']::jsonb[]);
	SELECT count(*) FROM pgq_consume('app.emails');
	SELECT pgq_ack('"MixedCase"', pgq_publish('"MixedCase"', '{"x": 1}'));
	SELECT pgq_publish('scratch', '{"s": 1}');
	SELECT pgq_ack('scratch', id) FROM pgq_consume('scratch');
	SELECT pgq_publish('scratch', '{"s": 2}');
});
ok( defined wait_until($node, 'upgraded',
		q{SELECT count(*) FROM pgq_workers WHERE database = 'upgraded' AND passes > 0 AND last_error IS NULL},
		'1', 30),
	'1.0: the worker passes over the database without error');

# ------------------------------------------------------------- snapshot
my $rows = q{
	SELECT 'jobs', md5(string_agg(t::text, E'\n' ORDER BY t.id)), count(*) FROM jobs t
	UNION ALL SELECT 'app.emails', md5(string_agg(t::text, E'\n' ORDER BY t.id)), count(*) FROM app.emails t
	UNION ALL SELECT 'MixedCase', md5(string_agg(t::text, E'\n' ORDER BY t.id)), count(*) FROM "MixedCase" t
	UNION ALL SELECT 'scratch', md5(string_agg(t::text, E'\n' ORDER BY t.id)), count(*) FROM scratch t
	UNION ALL SELECT 'config', md5(string_agg(concat_ws(',', c.queue, c.max_attempts, c.lock_duration,
							c.retry_delay, c.retention, c.created_at), E'\n' ORDER BY c.queue::text)), count(*)
			  FROM pgq_queue_config c};
my $before = sql('upgraded', $rows);
my $lease_before = sql('upgraded',
	qq{SELECT locked_until || ' ' || lease_holder || ' ' || consumed_count FROM jobs WHERE id = '$id{leased}'});
like($lease_before, qr/\[$holder_pid\] 1$/, 'the lease names its holder');

# ------------------------------------------------------------- update
sql('upgraded', 'ALTER EXTENSION pgq UPDATE');
is(sql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'pgq'}),
	'1.1', 'ALTER EXTENSION pgq UPDATE: 1.1');

is(sql('upgraded', $rows), $before, 'every message and queue setting is unchanged');
is( sql('upgraded',
		qq{SELECT locked_until || ' ' || lease_holder || ' ' || consumed_count FROM jobs WHERE id = '$id{leased}'}),
	$lease_before,
	'the lease is unchanged');
is( sql('upgraded',
		q{SELECT count(*) FROM pgq_consume('jobs', 10, metadata_filter => '{"k": "leased"}')}),
	'0', 'no other consumer can take the leased message');
is( sql('upgraded', q{
	SELECT string_agg(c.relname, ',' ORDER BY c.relname COLLATE "C") FROM pg_class c
	WHERE c.relname LIKE '%\_failed\_idx'}),
	'MixedCase_failed_idx,emails_failed_idx,jobs_failed_idx,scratch_failed_idx',
	'the update added the failure index where it was missing');

# 1.1 on the old queues
is( sql('upgraded', q{
	SELECT concat_ws('|', ready, scheduled, in_flight, expired_leases, dead, done)
	FROM pgq_queue_stats WHERE queue = 'jobs'::regclass}),
	'3|1|2|0|2|2',
	'pgq_queue_stats: 3 ready, 1 scheduled, 2 in flight (lease, retry), 2 dead, 2 done');
is( sql('upgraded', q{
	SELECT string_agg(queue || ' ' || attempt || ' ' || (lease_holder IS NOT NULL), ',' ORDER BY queue::text)
	FROM pgq_in_flight}),
	'app.emails 1 true,jobs 1 true',
	'pgq_in_flight shows both leases');
is( sql('upgraded', q{
	SELECT string_agg(state || ' ' || error_detail, ',' ORDER BY error_detail)
	FROM pgq_failures WHERE queue = 'jobs'::regclass}),
	'dead bad,dead nacked after 2 attempts,retrying transient',
	'pgq_failures shows the failures made under 1.0');
ok( defined wait_until($node, 'upgraded',
		q{SELECT count(DISTINCT queue) FROM pgq_queue_history}, '4', 30),
	'the worker samples every queue into pgq_history');

# the holder acks its lease with its attempt, from the session of 1.0 days
is($holder->query_safe(qq{SELECT pgq_ack('jobs', '$id{leased}', 1)}),
	't', 'the lease holder acks with its attempt after the update');
is($holder->query_safe(qq{SELECT pgq_ack('jobs', '$id{leased}', 1)}),
	'f', 'once');

# NOTIFY on publish (1.1), seen by a listener, sent by the old session
sql('upgraded', q{SELECT pgq_alter_queue('jobs', notify => true)});
is(sql('upgraded', q{SELECT notify FROM pgq_queues WHERE queue = 'jobs'::regclass}),
	't', 'pgq_alter_queue(notify => true)');
my $listener = $node->background_psql('upgraded');
$listener->query_safe('LISTEN pgq_jobs');
$holder->query_safe(q{SELECT pgq_publish('jobs', '{"k": "notified"}')});
my $heard = '';
for (1 .. 100)
{
	$heard .= $listener->query('SELECT 1');
	last if $heard =~ /notification "pgq_jobs"/;
	usleep(50_000);
}
like($heard, qr/Asynchronous notification "pgq_jobs" received from server process with PID $holder_pid/,
	'a publish from the old session notifies pgq_jobs');
close_session($listener);
close_session($holder);

# the rest of the 1.0 API on the updated extension
is( sql('upgraded', q{
	SELECT pgq_ack('jobs', id, attempt) FROM pgq_consume('jobs', metadata_filter => '{"k": "ready"}')}),
	't', 'consume and ack after the update');
is( sql('upgraded', q{SELECT pgq_alter_queue('jobs', NULL, NULL, NULL, NULL, NULL, false)}),
	'', 'pgq_alter_queue with 1.0 positional arguments');

# ------------------------------------------------------------- fresh 1.1
sql('fresh', 'CREATE EXTENSION pgq');
is(sql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'pgq'}),
	'1.1', 'a fresh install is 1.1');
sql('fresh', $queues);
sql('fresh', q{SELECT pgq_alter_queue('jobs', notify => true)});

# ---- pg_dump --schema-only
my $tmp = PostgreSQL::Test::Utils::tempdir;
sub schema_dump
{
	my ($db) = @_;
	my $file = "$tmp/$db.sql";
	$node->command_ok([ 'pg_dump', '--schema-only', '-d', $node->connstr($db), '-f', $file ],
		"pg_dump --schema-only $db");
	my $dump = slurp_file($file);
	# pg_dump's random \restrict key differs each run
	$dump =~ s/^\\(un)?restrict .*$//mg;
	return $dump;
}
my $dump_upgraded = schema_dump('upgraded');
my $dump_fresh = schema_dump('fresh');
like($dump_fresh, qr/CREATE EXTENSION IF NOT EXISTS pgq /, 'the dump creates the extension');
like($dump_fresh, qr/CREATE UNLOGGED TABLE public\.scratch/, 'and holds the queue tables');
is($dump_upgraded, $dump_fresh, 'pg_dump --schema-only: upgraded = fresh install');

# ---- \dx+ pgq
is(sql('upgraded', '\dx+ pgq'), sql('fresh', '\dx+ pgq'),
	'\dx+ pgq: the same objects');

# ---- the definition of every object the extension owns
my $members = q{
WITH m AS (
	SELECT d.classid, d.objid
	FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'pgq' AND d.deptype = 'e'
)
SELECT string_agg(def, E'\n----\n' ORDER BY def) FROM (
	SELECT pg_describe_object(m.classid, m.objid, 0) || E'\n'
		   || CASE m.classid
			  WHEN 'pg_proc'::regclass THEN
				  pg_get_functiondef(m.objid) || E'\nacl ' || coalesce((SELECT proacl::text FROM pg_proc WHERE oid = m.objid), '-')
				  || E'\nowner ' || (SELECT proowner::regrole::text FROM pg_proc WHERE oid = m.objid)
			  WHEN 'pg_class'::regclass THEN (
				  SELECT concat_ws(E'\n', 'kind ' || c.relkind::text, 'persistence ' || c.relpersistence::text,
					   'acl ' || coalesce(c.relacl::text, '-'), 'owner ' || c.relowner::regrole::text,
					   'options ' || coalesce(c.reloptions::text, '-'),
					   CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
					   (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
										  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
										  || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
										  || coalesce(' acl ' || a.attacl::text, ''),
										  E'\n' ORDER BY a.attnum)
						FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
						WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
					   (SELECT string_agg(pg_get_indexdef(i.indexrelid), E'\n' ORDER BY 1)
						FROM pg_index i WHERE i.indrelid = c.oid),
					   (SELECT string_agg(co.conname || ' ' || pg_get_constraintdef(co.oid), E'\n' ORDER BY co.conname)
						FROM pg_constraint co WHERE co.conrelid = c.oid),
					   (SELECT string_agg(tg.tgname || ' ' || pg_get_triggerdef(tg.oid), E'\n' ORDER BY tg.tgname)
						FROM pg_trigger tg WHERE tg.tgrelid = c.oid))
				  FROM pg_class c WHERE c.oid = m.objid)
			  WHEN 'pg_event_trigger'::regclass THEN (
				  SELECT concat_ws(' ', evtevent, evtfoid::regprocedure, evtenabled, evttags::text, evtowner::regrole)
				  FROM pg_event_trigger WHERE oid = m.objid)
			  ELSE '' END
		   || E'\ncomment ' || coalesce(obj_description(m.objid, (SELECT relname FROM pg_class WHERE oid = m.classid)), '-')
		   AS def
	FROM m
	UNION ALL
	SELECT concat_ws(E'\n', 'extension', extnamespace::regnamespace, extrelocatable,
					 extconfig::regclass[]::text, extcondition::text, extowner::regrole,
					 obj_description(oid, 'pg_extension'))
	FROM pg_extension WHERE extname = 'pgq'
) s};
my $members_fresh = sql('fresh', $members);
like($members_fresh, qr/function pgq_report\(regclass,interval\)/,
	'the member listing covers the 1.1 functions');
like($members_fresh, qr/view pgq_queue_stats/, 'and views');
like($members_fresh, qr/table pgq_history/, 'and tables');
like($members_fresh, qr/event trigger pgq_forget_dropped_queues/, 'and the event trigger');
my $members_upgraded = sql('upgraded', $members);
is($members_upgraded, $members_fresh,
	'every extension object is defined as in a fresh install');
if ($members_upgraded ne $members_fresh)
{
	my @u = split /\n----\n/, $members_upgraded;
	my @f = split /\n----\n/, $members_fresh;
	my %f = map { $_ => 1 } @f;
	my %u = map { $_ => 1 } @u;
	diag "only after the update:\n$_" for grep { !$f{$_} } @u;
	diag "only in a fresh install:\n$_" for grep { !$u{$_} } @f;
}

# ---- the queue settings
my $settings = q{SELECT string_agg(concat_ws(' ', queue, queue_schema, queue_name, max_attempts,
	lock_duration, retry_delay, retention, unlogged, notify), E'\n' ORDER BY queue::text) FROM pgq_queues};
is(sql('upgraded', $settings), sql('fresh', $settings),
	'pgq_queues: the same settings');

$node->stop;
done_testing();
