#!/bin/sh
# Run by the postgres image once, when it initialises an empty data volume (files in
# /docker-entrypoint-initdb.d are skipped on every later start). Password changes after that
# first start must be made with ALTER ROLE.
#
# Two least-privilege roles instead of the superuser: `oms` owns the read model; `temporal`
# owns the two databases Temporal's auto-setup fills with its schema. They are created here
# (and auto-setup runs with SKIP_DB_CREATE) so the temporal role needs no CREATEDB right.
#
# No `set -eu`: the entrypoint sources this file when it is not executable, and those options
# would leak into the entrypoint itself. psql's ON_ERROR_STOP plus the entrypoint's own `set -e`
# make any failure abort initialisation.

: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v app_password="$APP_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE oms LOGIN PASSWORD :'app_password';
CREATE DATABASE oms OWNER oms;

CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
