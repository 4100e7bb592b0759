-- Storage figures for the Database dashboard, TimescaleDB flavour: sizes of the hypertables and
-- the continuous aggregate, and one row per chunk with its compression. The PostgreSQL flavour
-- defines the same functions (same names, same result columns) over its daily partitions, so
-- the dashboard's queries run unchanged on either.
--
-- SECURITY DEFINER: the size and compression functions of TimescaleDB read catalog tables and
-- chunks the read-only role has no privileges on; these run as the schema owner instead and
-- return nothing but names, time ranges and byte counts. Hence the fixed search_path, with
-- pg_temp last so a caller's temporary objects cannot stand in for ours. STABLE: they read only.

-- One row per table of the public schema. kind: 'hypertable', 'continuous aggregate' (its
-- materialised hypertable's figures, under the view's name) or 'table'; parts: its chunks.
CREATE FUNCTION dashboard_table_sizes()
RETURNS TABLE (
    table_name text,
    kind text,
    parts bigint,
    table_bytes bigint,
    index_bytes bigint,
    toast_bytes bigint,
    total_bytes bigint
)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $function$
    WITH chunked AS (
        SELECT h.hypertable_name::text AS table_name,
               'hypertable' AS kind,
               format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass AS relation
        FROM timescaledb_information.hypertables AS h
        WHERE h.hypertable_schema = 'public'
        UNION ALL
        SELECT a.view_name::text,
               'continuous aggregate',
               format('%I.%I', a.materialization_hypertable_schema,
                      a.materialization_hypertable_name)::regclass
        FROM timescaledb_information.continuous_aggregates AS a
        WHERE a.view_schema = 'public'
    )
    SELECT c.table_name, c.kind,
           (SELECT count(*) FROM show_chunks(c.relation)),
           s.table_bytes, s.index_bytes, s.toast_bytes, s.total_bytes
    FROM chunked AS c
    CROSS JOIN LATERAL hypertable_detailed_size(c.relation) AS s
    UNION ALL
    -- Plain tables; a hypertable's root table is in public too, but listed above.
    SELECT t.relname::text, 'table', 0::bigint,
           pg_relation_size(t.oid),
           pg_indexes_size(t.oid),
           coalesce(pg_total_relation_size(nullif(t.reltoastrelid, 0)), 0),
           pg_total_relation_size(t.oid)
    FROM pg_class AS t
    WHERE t.relnamespace = 'public'::regnamespace
      AND t.relkind = 'r'
      AND NOT EXISTS (
          SELECT 1 FROM timescaledb_information.hypertables AS h
          WHERE h.hypertable_schema = 'public' AND h.hypertable_name = t.relname
      )
$function$;

-- One row per chunk of the public hypertables and of the continuous aggregate's materialised
-- hypertable (listed under the view's name, as in dashboard_table_sizes). The compression
-- columns are NULL for a chunk never compressed; an insert into a compressed chunk does not
-- update them (TimescaleDB computes them when it compresses).
CREATE FUNCTION dashboard_chunks()
RETURNS TABLE (
    table_name text,
    chunk_name text,
    range_start timestamptz,
    range_end timestamptz,
    total_bytes bigint,
    compressed boolean,
    before_compression_bytes bigint,
    after_compression_bytes bigint
)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $function$
    WITH hypertables AS (
        SELECT h.hypertable_schema AS schema_name, h.hypertable_name AS name,
               h.hypertable_name::text AS shown_as,
               format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass AS relation
        FROM timescaledb_information.hypertables AS h
        WHERE h.hypertable_schema = 'public'
        UNION ALL
        SELECT a.materialization_hypertable_schema, a.materialization_hypertable_name,
               a.view_name::text,
               format('%I.%I', a.materialization_hypertable_schema,
                      a.materialization_hypertable_name)::regclass
        FROM timescaledb_information.continuous_aggregates AS a
        WHERE a.view_schema = 'public'
    ), sizes AS (
        SELECT s.chunk_schema, s.chunk_name, s.total_bytes
        FROM hypertables AS h CROSS JOIN LATERAL chunks_detailed_size(h.relation) AS s
    ), compression AS (
        SELECT s.chunk_schema, s.chunk_name,
               s.before_compression_total_bytes, s.after_compression_total_bytes
        FROM hypertables AS h CROSS JOIN LATERAL chunk_compression_stats(h.relation) AS s
    )
    SELECT h.shown_as, ch.chunk_name::text, ch.range_start, ch.range_end,
           coalesce(sz.total_bytes, 0), ch.is_compressed,
           cs.before_compression_total_bytes, cs.after_compression_total_bytes
    FROM timescaledb_information.chunks AS ch
    JOIN hypertables AS h
        ON h.schema_name = ch.hypertable_schema AND h.name = ch.hypertable_name
    LEFT JOIN sizes AS sz
        ON sz.chunk_schema = ch.chunk_schema AND sz.chunk_name = ch.chunk_name
    LEFT JOIN compression AS cs
        ON cs.chunk_schema = ch.chunk_schema AND cs.chunk_name = ch.chunk_name
$function$;

REVOKE EXECUTE ON FUNCTION dashboard_table_sizes(), dashboard_chunks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dashboard_table_sizes(), dashboard_chunks() TO iot_readonly;
