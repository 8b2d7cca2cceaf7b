# pgq: PGXS build, tests and demo.
#
#   make            build pgq.so
#   make install    install into the PostgreSQL found by $(PG_CONFIG)
#   make test       build, install and run every suite (see test/run)
#   make demo       build, install and run the demo (see test/demo)
#   make bench      run the benchmark (see test/bench/run)

EXTENSION = pgq
MODULE_big = pgq
OBJS = \
	src/pgq.o \
	src/names.o \
	src/queue.o \
	src/catalog.o \
	src/plans.o \
	src/publish.o \
	src/consume.o \
	src/finish.o \
	src/reclaim.o \
	src/shmem.o \
	src/worker.o \
	src/status.o \
	src/grant.o \
	src/stats.o \
	src/shape.o

DATA = $(wildcard sql/pgq--*.sql)

# pg_regress tests: every sql/*.sql that is not an extension script
REGRESS = $(sort $(patsubst sql/%.sql,%,$(filter-out sql/pgq--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pgq

PG_CONFIG ?= pg_config

PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# A fresh machine: no server headers yet.  `make test` and `make demo`
# install them (test/deps) before they build; a plain build explains.
all install installcheck:
	@echo "pgq: PGXS not found ($(PG_CONFIG) --pgxs); install postgresql-server-dev-15," >&2
	@echo "     or run 'make test' / 'make demo' as root, which install it through apt" >&2
	@exit 1
endif

# every object depends on the shared header
$(OBJS): src/pgq.h

# Debian's postgresql-NN-pgq3 (Skytools PgQ) installs an extension with the
# same name.  Never overwrite its control file.
PGQ_FOREIGN_CONTROL = $(DESTDIR)$(datadir)/extension/pgq.control
install: check-foreign-pgq
.PHONY: check-foreign-pgq test demo bench
check-foreign-pgq:
	@if [ -f '$(PGQ_FOREIGN_CONTROL)' ] && ! grep -q 'pgq-jobqueue' '$(PGQ_FOREIGN_CONTROL)'; then \
		echo "ERROR: $(PGQ_FOREIGN_CONTROL) belongs to another extension named pgq" >&2; \
		echo "       (probably Skytools PgQ, Debian package postgresql-$(MAJORVERSION)-pgq3)." >&2; \
		echo "       Both cannot be installed into one PostgreSQL; remove that package first." >&2; \
		exit 1; \
	fi

test:
	test/run

demo:
	test/demo

bench:
	test/bench/run
