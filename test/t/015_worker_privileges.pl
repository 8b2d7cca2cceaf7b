# 015_worker_privileges.pl — the background worker never runs user code as
# superuser.
#
# A non-superuser role owns a queue table and has armed it: a row trigger
# and an index expression both try `ALTER ROLE <owner> SUPERUSER` and write
# down who they ran as.  The worker, which connects as the bootstrap
# superuser, reclaims an expired lease in that table; it must do the table
# work as the table's owner, so the escalation fails, the role is still not
# a superuser, and the trap wrote down the owner, not a superuser.  As a
# control, the same trap does escalate when a superuser updates the table.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgqTap;

my $node = pgq_node('privileges', "pgq.reclaim_interval = '200ms'");
$node->safe_psql('postgres', q{
	CREATE EXTENSION pgq;
	CREATE ROLE mallory LOGIN;
	CREATE SCHEMA mallory AUTHORIZATION mallory;
	-- creating queues is not for everyone: an administrator lets mallory
	GRANT EXECUTE ON FUNCTION pgq_create_queue TO mallory;
});
# The first pass of the worker finds pgq at once after a restart.
$node->restart;

# as_mallory(SQL): run SQL as mallory, die on error.
sub as_mallory
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql,
		extra_params => [ '-U', 'mallory' ]);
}

as_mallory(q{
	SELECT pgq_create_queue('mallory.jobs', lock_duration => '1 hour');

	-- who ran the trap: written to a table mallory owns
	CREATE TABLE mallory.trap_log (
		via text,               -- trigger or index
		who name,               -- current_user
		who_is_super bool,      -- is current_user a superuser
		app text,               -- application_name: 'pgq worker' for the worker
		escalation text);       -- what ALTER ROLE ... SUPERUSER did

	CREATE FUNCTION mallory.escalate(via text) RETURNS void
	LANGUAGE plpgsql VOLATILE AS $$
	DECLARE
		outcome text;
	BEGIN
		BEGIN
			EXECUTE 'ALTER ROLE mallory SUPERUSER';
			outcome := 'escalated';
		EXCEPTION WHEN OTHERS THEN
			outcome := SQLSTATE || ' ' || SQLERRM;
		END;
		INSERT INTO mallory.trap_log
		SELECT via, current_user, r.rolsuper,
			pg_catalog.current_setting('application_name'), outcome
		FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
	END
	$$;

	-- a row trigger on the queue table
	CREATE FUNCTION mallory.trap_trigger() RETURNS trigger
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM mallory.escalate('trigger');
		RETURN NEW;
	END
	$$;
	CREATE TRIGGER trap BEFORE UPDATE ON mallory.jobs
		FOR EACH ROW EXECUTE FUNCTION mallory.trap_trigger();

	-- an index expression, evaluated for every new row version
	CREATE FUNCTION mallory.trap_index(locked_until timestamptz) RETURNS int
	LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
		PERFORM mallory.escalate('index');
		RETURN 1;
	END
	$$;
	CREATE INDEX jobs_trap_idx ON mallory.jobs (mallory.trap_index(locked_until));
});
is( $node->safe_psql('postgres', q{
	SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'mallory.jobs'::regclass}),
	'mallory', 'the queue table is owned by mallory');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is not a superuser');

# ---- mallory leases a message and lets the lease expire
my $id = as_mallory(q{SELECT pgq_publish('mallory.jobs', '{}')});
is( as_mallory(
		q{SELECT id || ' ' || attempt FROM pgq_consume('mallory.jobs', lock_duration => '500 ms')}),
	"$id 1",
	'mallory leases a message for half a second');
ok( defined wait_until($node, 'postgres',
		"SELECT lease_holder IS NULL AND locked_until IS NULL FROM mallory.jobs WHERE id = '$id'",
		't', 30),
	'the worker reclaimed the expired lease');
ok( defined wait_until($node, 'postgres', q{
	SELECT total_reclaimed, last_error IS NULL FROM pgq_workers
	WHERE database = current_database()},
		'1|t', 10),
	'pgq_workers counts the reclaim, no error');

# ---- the trap ran in the worker, as mallory, and could not escalate
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is still not a superuser');
is( $node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT via, ',' ORDER BY via) FROM mallory.trap_log
	WHERE app = 'pgq worker'}),
	'index,trigger',
	'the worker ran the trigger and the index expression');
is( $node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT who || ' ' || who_is_super, ',') FROM mallory.trap_log
	WHERE app = 'pgq worker'}),
	'mallory false',
	'in the worker they ran as mallory, the owner, not as a superuser');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM mallory.trap_log
	WHERE app = 'pgq worker' AND escalation NOT LIKE '42501 %'}),
	'0',
	'ALTER ROLE ... SUPERUSER failed with 42501 (insufficient privilege) each time');

# ---- control: a superuser updating the table does spring the trap
$node->safe_psql('postgres', q{UPDATE mallory.jobs SET metadata = '{}'});
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	't', 'control: the same trap escalates when a superuser runs it');
$node->safe_psql('postgres', 'ALTER ROLE mallory NOSUPERUSER');

$node->stop;
done_testing();
