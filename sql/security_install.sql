--
-- security_install: who may install pgq, and where.
--
-- pgq is not a trusted extension: only a superuser creates it (42501
-- otherwise).  Its script refuses (42501) a schema that a role other than
-- a superuser owns or may create objects in -- such a role could plant
-- look-alikes of pgq's objects or of the built-ins they use
-- (CVE-2018-1058, CVE-2023-39417) -- and it creates every object without
-- OR REPLACE / IF NOT EXISTS, so nothing made first by someone else is
-- adopted.
--
-- The regression database has pgq in public already: this file drops it
-- first and installs it again at its end.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

DROP EXTENSION pgq;
CREATE ROLE regress_inst_user;
CREATE ROLE regress_inst_group;
GRANT regress_inst_group TO regress_inst_user;

-- a non-superuser may not create it, even as the database's owner
ALTER DATABASE :"DBNAME" OWNER TO regress_inst_user;
SET ROLE regress_inst_user;
CREATE EXTENSION pgq;
CREATE SCHEMA inst_mine;
CREATE EXTENSION pgq SCHEMA inst_mine;
RESET ROLE;

-- public belongs to pg_database_owner, here a non-superuser: refused
CREATE EXTENSION pgq;
CREATE EXTENSION pgq SCHEMA public;
-- so is a schema that a non-superuser owns
CREATE EXTENSION pgq SCHEMA inst_mine;
ALTER DATABASE :"DBNAME" OWNER TO CURRENT_USER;
SELECT pg_get_userbyid(datdba) = current_user AS owner_restored FROM pg_database WHERE datname = current_database();

-- a superuser's schema where others may create objects: refused
CREATE SCHEMA inst_open;
GRANT CREATE ON SCHEMA inst_open TO PUBLIC;
CREATE EXTENSION pgq SCHEMA inst_open;
REVOKE CREATE ON SCHEMA inst_open FROM PUBLIC;
GRANT CREATE ON SCHEMA inst_open TO regress_inst_user;
CREATE EXTENSION pgq SCHEMA inst_open;
REVOKE CREATE ON SCHEMA inst_open FROM regress_inst_user;
GRANT CREATE ON SCHEMA inst_open TO regress_inst_group;
CREATE EXTENSION pgq SCHEMA inst_open;
REVOKE CREATE ON SCHEMA inst_open FROM regress_inst_group;
-- the classic mistake: public writable by everyone
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE EXTENSION pgq;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- nothing was left behind by the refusals
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'pgq';
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname LIKE 'pgq\_%' ORDER BY 1, 2;
SELECT count(*) AS functions FROM pg_proc WHERE proname LIKE 'pgq\_%';

-- USAGE for others, or CREATE for pg_database_owner when the database's
-- owner is a superuser, is fine
GRANT USAGE ON SCHEMA inst_open TO PUBLIC;
GRANT CREATE ON SCHEMA inst_open TO pg_database_owner;
CREATE EXTENSION pgq SCHEMA inst_open;
SELECT e.extnamespace::regnamespace AS schema,
	   e.extversion = a.default_version AS default_version
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'pgq';
-- every object of the extension is in that schema
SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0) LIKE '%inst_open.%' AS in_schema, count(*) > 0 AS objects
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'pgq'
  AND d.classid IN ('pg_class'::regclass, 'pg_proc'::regclass)
GROUP BY 1;
SELECT inst_open.pgq_create_queue('public.inst_q');
SELECT inst_open.pgq_publish('public.inst_q', '{"n": 1}') IS NOT NULL AS published;
SELECT payload FROM inst_open.pgq_consume('public.inst_q');
SELECT inst_open.pgq_drop_queue('public.inst_q');

-- not relocatable; a non-superuser may not update, drop or change it
ALTER EXTENSION pgq SET SCHEMA public;
SET ROLE regress_inst_user;
ALTER EXTENSION pgq UPDATE;
DROP EXTENSION pgq;
ALTER EXTENSION pgq DROP FUNCTION inst_open.pgq_sparkline(float8[]);
RESET ROLE;
DROP EXTENSION pgq;

-- objects with pgq's names made first in a superuser's schema are never
-- adopted: the script fails instead
CREATE SCHEMA inst_pre;
CREATE TABLE inst_pre.pgq_queue_config (queue regclass);
CREATE EXTENSION pgq SCHEMA inst_pre;
DROP TABLE inst_pre.pgq_queue_config;
CREATE FUNCTION inst_pre.pgq_publish(queue regclass, payload jsonb, metadata jsonb, scheduled_for timestamptz)
RETURNS uuid LANGUAGE sql AS $$ SELECT NULL::uuid $$;
CREATE EXTENSION pgq SCHEMA inst_pre;
DROP FUNCTION inst_pre.pgq_publish(regclass, jsonb, jsonb, timestamptz);
CREATE VIEW inst_pre.pgq_queues AS SELECT 1 AS queue;
CREATE EXTENSION pgq SCHEMA inst_pre;
DROP VIEW inst_pre.pgq_queues;
CREATE EXTENSION pgq SCHEMA inst_pre VERSION '1.0';
ALTER EXTENSION pgq UPDATE;
SELECT e.extversion = a.default_version AS updated
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'pgq';
DROP EXTENSION pgq;

-- PostgreSQL itself refuses a schema name that could break out of the
-- script's quoting (CVE-2023-39417)
CREATE SCHEMA "inst'q";
CREATE EXTENSION pgq SCHEMA "inst'q";

-- clean up, and install pgq in public again for the other tests
DROP SCHEMA inst_mine, inst_open, inst_pre, "inst'q";
DROP ROLE regress_inst_user, regress_inst_group;
CREATE EXTENSION pgq;
SELECT e.extnamespace::regnamespace AS schema, e.extversion = a.default_version AS default_version
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'pgq';
