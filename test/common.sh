# shellcheck shell=bash disable=SC2034
# test/common.sh — shared by test/run, test/demo and the benchmark (source it).
#
#   pg_env_init            find PostgreSQL: PG_CONFIG, PG_BINDIR, PGXS_DIR,
#                          PG_REGRESS, PG_ISOLATION_REGRESS
#   pg_clear_env           forget libpq settings (PGHOST, PGPORT, ...) of the
#                          caller, so nothing can reach a server we did not start
#   as_pg CMD...           run CMD as the `postgres` OS user when we are root
#                          (initdb refuses root), else as ourselves
#   server_start DIR [CONF_LINE...]
#                          initdb DIR/data and start it on a private Unix
#                          socket DIR/sock (no TCP), preloading pgq; exports
#                          PGHOST, PGPORT, PGUSER for psql & co.
#   server_stop DIR        stop that server (safe to call twice)
#
# Meant to be sourced by bash scripts running with `set -euo pipefail`.

# The PostgreSQL major version pgq is built and tested against.  An explicit
# PG_CONFIG in the environment wins (e.g. to try another version).
PG_MAJOR=${PG_MAJOR:-15}
if [[ -z ${PG_CONFIG:-} ]]; then
	if [[ -x /usr/lib/postgresql/$PG_MAJOR/bin/pg_config ]]; then
		PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
export PG_CONFIG

# The OS user servers run as when we are root.
PG_OS_USER=${PG_OS_USER:-postgres}

pg_env_init() {
	# pg_config comes with the client package; test/deps installs it.
	if ! command -v "$PG_CONFIG" >/dev/null 2>&1; then
		# The default path above was not there when this file was sourced
		# (fresh machine, test/deps just installed it): look again.
		if [[ -x /usr/lib/postgresql/$PG_MAJOR/bin/pg_config ]]; then
			PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
			export PG_CONFIG
		else
			echo "pg_config not found (PG_CONFIG=$PG_CONFIG); run test/deps" >&2
			return 1
		fi
	fi
	PG_BINDIR=$("$PG_CONFIG" --bindir)
	local pgxs_mk
	pgxs_mk=$("$PG_CONFIG" --pgxs) # .../lib/pgxs/src/makefiles/pgxs.mk
	PGXS_DIR=$(cd "$(dirname "$pgxs_mk")/../.." && pwd)
	PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
	PG_ISOLATION_REGRESS=$PGXS_DIR/src/test/isolation/pg_isolation_regress
}

pg_clear_env() {
	unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE \
		PGSERVICE PGSERVICEFILE PGOPTIONS PGDATA PGAPPNAME PGSSLMODE \
		PGREQUIRESSL PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS PGCLIENTENCODING \
		PGTZ PGDATESTYLE PGSYSCONFDIR PGLOCALEDIR \
		PG_REGRESS_SOCK_DIR PG_TEST_EXTRA PG_TEST_NOCLEAN TEMP_CONFIG
}

as_pg() {
	if ((EUID == 0)); then
		runuser -u "$PG_OS_USER" -- "$@"
	else
		"$@"
	fi
}

# free_port START: print the first port from START on that nothing on this
# machine listens to over TCP.  (Our servers listen on a private Unix socket
# only, so a clash would be harmless; this just keeps logs unambiguous.)
free_port() {
	local port=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
	echo "$port"
}

server_start() {
	local dir=$1
	shift
	local port
	port=$(free_port "${PGQ_PORT:-54329}")
	mkdir -p "$dir/sock"
	if ((EUID == 0)); then chown -R "$PG_OS_USER:" "$dir"; fi
	# (cd: the postgres user may not be able to enter the caller's directory)
	(cd "$dir" && as_pg "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres \
		--no-locale -E UTF8 --no-sync >"$dir/initdb.log" 2>&1) || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	{
		echo "# added by test/common.sh server_start"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir/sock'"
		echo "port = $port"
		echo "shared_preload_libraries = 'pgq'"
		echo "fsync = off"
		echo "lc_messages = 'C'"
		local line
		for line in "$@"; do echo "$line"; done
	} >>"$dir/data/postgresql.conf"
	(cd "$dir" && as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null) || {
		echo "server did not start; its log:" >&2
		tail -n 40 "$dir/server.log" >&2 || true
		return 1
	}
	export PGHOST=$dir/sock PGPORT=$port PGUSER=postgres
}

server_stop() {
	local dir=$1
	[[ -f $dir/data/postmaster.pid ]] || return 0
	(
		cd "$dir" || exit 0
		as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1
	) || true
}
