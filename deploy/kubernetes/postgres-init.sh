# Sourced once by the postgres image's entrypoint (/docker-entrypoint-initdb.d) on an empty data
# directory: an example table and the least-privileged role walhook needs. kustomization.yaml makes a
# ConfigMap of it, and deploy/compose.yaml mounts this same file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set walhook_password="$WALHOOK_DB_PASSWORD" <<'SQL'
-- The application's tables belong to its own role, as its migrations would create them.
CREATE ROLE app NOLOGIN;
CREATE TABLE public.orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer text NOT NULL,
  amount numeric(12, 2) NOT NULL,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.orders OWNER TO app;
-- The orders_paid trigger filters on status: a full old row makes its columns filter exact.
ALTER TABLE public.orders REPLICA IDENTITY FULL;

-- REPLICATION to stream; membership in the owner role because only a table's owner may add it to
-- the publication; CREATE on the database for the publication and the walhook.dead_letters schema.
CREATE ROLE walhook LOGIN REPLICATION PASSWORD :'walhook_password';
GRANT app TO walhook;
SELECT format('GRANT CREATE ON DATABASE %I TO walhook', current_database()) \gexec
SQL
