# test/PgqTap.pm — helpers shared by pgq's TAP tests (test/t/*.pl).
#
# test/run puts test/ on prove's @INC ("-I test"), so a test says
# `use PgqTap;`.  Everything here is a thin layer over
# PostgreSQL::Test::Cluster:
#
#   pgq_node(NAME, CONF_LINE...)      a started node that preloads pgq, with
#                                     the suites' settings ($PGQ_TEST_CONF)
#   pgq_conf(CONF_LINE...)            the same settings as one string, for
#                                     init_from_backup nodes
#   wait_until(NODE, DB, SQL, WANT, [SECONDS])
#                                     run SQL every 50 ms until it prints
#                                     WANT; returns the seconds it took, or
#                                     undef (with a diag) after SECONDS
#   crash_backend(NODE, PID)          SIGKILL a server process, then wait for
#                                     the crash restart to finish
#   wait_crash_restart(NODE, OFFSET)  wait for a crash restart logged after
#                                     log OFFSET to finish
#   hold_lease(NODE, DB, QUEUE, LEASE)
#                                     consume one message in a session of
#                                     its own; returns (session, pid, id,
#                                     attempt); the session stays open
#   close_session(SESSION)            end a BackgroundPsql session, whether
#                                     or not its psql is still alive
#   launcher_pid(NODE)                pid of the "pgq launcher", or ''
package PgqTap;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(pgq_node pgq_conf wait_until crash_backend wait_crash_restart
  hold_lease close_session launcher_pid);

# The lines every pgq node gets: the suites' file, then ours.
sub pgq_conf
{
	my @extra = @_;
	my $conf = '';
	if (defined $ENV{PGQ_TEST_CONF} && -r $ENV{PGQ_TEST_CONF})
	{
		$conf .= slurp_file($ENV{PGQ_TEST_CONF}) . "\n";
	}
	else
	{
		$conf .= "shared_preload_libraries = 'pgq'\nfsync = off\n"
		  . "lc_messages = 'C'\n";
	}
	$conf .= "$_\n" for @extra;
	return $conf;
}

sub pgq_node
{
	my ($name, @extra) = @_;
	my %init = ();
	if (@extra && ref $extra[0] eq 'HASH')
	{
		%init = %{ shift @extra };
	}
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', pgq_conf(@extra));
	$node->start;
	return $node;
}

sub wait_until
{
	my ($node, $db, $sql, $want, $seconds) = @_;
	$seconds = 30 unless defined $seconds;
	my $start = time;
	my ($out, $err) = ('', '');
	while (1)
	{
		$node->psql($db, $sql, stdout => \$out, stderr => \$err);
		return time - $start if $out eq $want && $err eq '';
		last if time - $start > $seconds;
		usleep(50_000);
	}
	diag "wait_until gave up after ${seconds}s waiting for \"$want\" from:\n"
	  . "$sql\nlast output: \"$out\"\nlast stderr: \"$err\"";
	return undef;
}

sub crash_backend
{
	my ($node, $pid) = @_;
	my $offset = -s $node->logfile;
	kill 'KILL', $pid or die "could not kill process $pid: $!";
	wait_crash_restart($node, $offset);
	return;
}

sub wait_crash_restart
{
	my ($node, $offset) = @_;
	$node->wait_for_log(
		qr/all server processes terminated; reinitializing/, $offset);
	defined wait_until($node, 'postgres', 'SELECT 1', '1', 60)
	  or die "server did not come back after the crash";
	return;
}

sub hold_lease
{
	my ($node, $db, $queue, $lease) = @_;
	my $session = $node->background_psql($db);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	my $row = $session->query_safe(
		"SELECT id || ' ' || attempt FROM pgq_consume('$queue', 1, lock_duration => '$lease')"
	);
	my ($id, $attempt) = split / /, $row;
	return ($session, $pid, $id, $attempt);
}

sub close_session
{
	my ($session) = @_;
	my $run = $session->{run};
	# "\q" to a psql that is already gone would fail with a broken pipe
	eval {
		$run->pump_nb();
		$session->{stdin} .= "\\q\n" if $run->pumpable();
		$run->finish;
	};
	return;
}

sub launcher_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgq launcher'");
}

1;
