# pgq without shared_preload_libraries: no worker and no shared memory, but
# the whole SQL API works (DESIGN.md, "Target").  Loading the library in a
# running server must not touch settings that only the postmaster may set.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nlc_messages = 'C'\n");
$node->start;

is($node->safe_psql('postgres', "LOAD 'pgq'; SELECT 1"), '1',
	'the library loads into a running server');
$node->safe_psql('postgres', 'CREATE EXTENSION pgq');
$node->safe_psql('postgres', "SELECT pgq_create_queue('q', lock_duration => '1 hour')");
$node->safe_psql('postgres', "SELECT pgq_publish('q', '{\"n\": 1}')");

is( $node->safe_psql(
		'postgres', "SELECT payload::text || ' ' || attempt FROM pgq_consume('q')"),
	'{"n": 1} 1',
	'consume works');

# waiting polls without shared memory, and still returns when the wait ends
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pgq_consume('q', wait => '300 ms')"),
	'0', 'a wait on an empty queue returns empty');

like($node->safe_psql('postgres', 'SELECT status FROM pgq_workers'),
	qr/^not running: add pgq to shared_preload_libraries/,
	'pgq_workers says the worker is not running and how to enable it');

# counts are taken live; counters since start need shared memory
is( $node->safe_psql(
		'postgres',
		"SELECT ready || ' ' || in_flight || ' ' || done || ' ' || (published IS NULL)
		   FROM pgq_queue_stats"),
	'0 1 0 true',
	'pgq_queue_stats counts live without shared memory');

is($node->safe_psql('postgres',
		"SELECT pgq_ack('q', id) FROM q"), 't', 'ack works');
is($node->safe_psql('postgres', 'SELECT pgq_reclaim()'), '0',
	'pgq_reclaim() can be run by hand');

$node->stop;
done_testing();
