#!/usr/bin/env bash
# Start Debian's PostgreSQL (the newest installed version's "main" cluster, on 127.0.0.1:5432)
# and make the role and database the tests use: qa/qa, qa_test. Safe to run again.
set -euo pipefail
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_lsclusters -h | grep -q "^$version main " || pg_createcluster "$version" main
pg_lsclusters -h | grep -q "^$version main .* online" || pg_ctlcluster "$version" main start
as_postgres() { su postgres -c "$1"; }
as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'qa'\"" | grep -q 1 ||
  as_postgres "psql -qc \"CREATE ROLE qa LOGIN PASSWORD 'qa'\""
as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'qa_test'\"" | grep -q 1 ||
  as_postgres "createdb -O qa qa_test"
echo "PostgreSQL $version: postgresql+psycopg://qa:qa@127.0.0.1:5432/qa_test"
