-- Storage figures for the Database dashboard, PostgreSQL flavour: sizes of the tables (a
-- partitioned table as the sum of its partitions) and one row per daily partition. The
-- TimescaleDB flavour defines the same functions (same names, same result columns) over its
-- hypertables and chunks, so the dashboard's queries run unchanged on either. Nothing is
-- compressed here: the compression columns are false and NULL.
--
-- SECURITY DEFINER like the TimescaleDB flavour, which needs it, so the read-only role's
-- privileges are the same on both (EXECUTE on these two, nothing more). Hence the fixed
-- search_path, with pg_temp last so a caller's temporary objects cannot stand in for ours.
-- TimeZone is UTC because partition bounds are parsed back from their printed form.

-- One row per table of the public schema. kind: 'partitioned' or 'table'; parts: partitions.
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
    WITH sized AS (
        -- A partitioned table stores nothing itself: it is its partitions, one level deep.
        SELECT coalesce(p.relname, t.relname)::text AS table_name,
               p.oid IS NOT NULL AS partition,
               pg_relation_size(t.oid) AS table_bytes,
               pg_indexes_size(t.oid) AS index_bytes,
               coalesce(pg_total_relation_size(nullif(t.reltoastrelid, 0)), 0) AS toast_bytes,
               pg_total_relation_size(t.oid) AS total_bytes
        FROM pg_class AS t
        LEFT JOIN pg_inherits AS i ON i.inhrelid = t.oid
        LEFT JOIN pg_class AS p ON p.oid = i.inhparent AND p.relkind = 'p'
        WHERE t.relnamespace = 'public'::regnamespace AND t.relkind = 'r'
    )
    SELECT table_name,
           CASE WHEN bool_or(partition) THEN 'partitioned' ELSE 'table' END,
           count(*) FILTER (WHERE partition),
           sum(table_bytes)::bigint, sum(index_bytes)::bigint, sum(toast_bytes)::bigint,
           sum(total_bytes)::bigint
    FROM sized
    GROUP BY table_name
$function$;

-- One row per partition of the public partitioned tables. The default partition has no range
-- (NULL bounds).
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
SET TimeZone = 'UTC'
AS $function$
    SELECT p.relname::text, c.relname::text,
           bounds[1]::timestamptz, bounds[2]::timestamptz,
           pg_total_relation_size(c.oid), false, NULL::bigint, NULL::bigint
    FROM pg_class AS p
    JOIN pg_inherits AS i ON i.inhparent = p.oid
    JOIN pg_class AS c ON c.oid = i.inhrelid
    -- "FOR VALUES FROM ('2024-05-01 00:00:00+00') TO ('2024-05-02 00:00:00+00')", or DEFAULT.
    LEFT JOIN LATERAL regexp_match(
        pg_get_expr(c.relpartbound, c.oid), $$FROM \('([^']*)'\) TO \('([^']*)'\)$$
    ) AS bounds ON true
    WHERE p.relnamespace = 'public'::regnamespace AND p.relkind = 'p'
$function$;

REVOKE EXECUTE ON FUNCTION dashboard_table_sizes(), dashboard_chunks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dashboard_table_sizes(), dashboard_chunks() TO iot_readonly;
