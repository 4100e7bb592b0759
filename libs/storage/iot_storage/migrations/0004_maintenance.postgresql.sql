-- iot_maintain(): housekeeping for the PostgreSQL flavour, called by the runner after every
-- migration and periodically by a service (iot_app may execute it, nobody else).
--
-- For measurements and sensor_logs it drops the daily partitions entirely older than their
-- retention, deletes expired rows from the default partition, and creates the partitions from
-- yesterday to three days ahead; then it prunes the batch ledger. Returns a one-line summary.
--
-- SECURITY DEFINER: it runs as the schema owner, because creating and dropping partitions
-- needs ownership that iot_app must not have. Hence the fixed search_path, with pg_temp last so
-- a caller's temporary table cannot stand in for one of ours. TimeZone is UTC because
-- partitions are UTC days and their bounds are printed as text. lock_timeout: attaching and
-- dropping partitions lock the tables briefly; rather than queue every insert behind a long
-- transaction, give up and let the next call retry.
CREATE FUNCTION iot_maintain() RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET TimeZone = 'UTC'
SET lock_timeout = '5s'
AS $function$
DECLARE
    parent text;
    default_part text;
    part text;
    part_day date;
    cutoff timestamptz;
    n bigint;
    created integer := 0;
    moved bigint := 0;
    dropped integer := 0;
    expired bigint := 0;
    pruned bigint := 0;
BEGIN
    -- Concurrent calls would race to create the same partitions: the second one steps aside.
    -- 74656002 is this function's arbitrary key; the migration runner uses 74656001.
    IF NOT pg_try_advisory_xact_lock(74656002) THEN
        RETURN 'skipped: another iot_maintain() is running';
    END IF;

    FOREACH parent IN ARRAY ARRAY['measurements', 'sensor_logs'] LOOP
        default_part := parent || '_default';
        -- NULL (nothing expires) when the table has no retention row.
        cutoff := (SELECT now() - r.keep FROM retention_policies AS r WHERE r.table_name = parent);

        -- Drops come first: dropping a partition locks its parent exclusively, and taking that
        -- lock while already holding the default partition's (below) could deadlock with an
        -- insert that holds the parent and waits for the default partition.
        FOR part, part_day IN
            SELECT c.relname, to_date(right(c.relname, 8), 'YYYYMMDD')
            FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
            WHERE i.inhparent = ('public.' || quote_ident(parent))::regclass
              AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
        LOOP
            CONTINUE WHEN cutoff IS NULL OR (part_day + 1)::timestamptz > cutoff;
            EXECUTE format('DROP TABLE public.%I', part);
            dropped := dropped + 1;
        END LOOP;

        IF cutoff IS NOT NULL THEN
            EXECUTE format('DELETE FROM public.%I WHERE time < $1', default_part) USING cutoff;
            GET DIAGNOSTICS n = ROW_COUNT;
            expired := expired + n;
        END IF;

        FOR i IN -1..3 LOOP
            part_day := current_date + i;
            part := parent || '_p' || to_char(part_day, 'YYYYMMDD');
            -- Skip existing partitions, and days that would expire straight away.
            CONTINUE WHEN to_regclass('public.' || quote_ident(part)) IS NOT NULL
                OR (cutoff IS NOT NULL AND (part_day + 1)::timestamptz <= cutoff);

            -- PostgreSQL refuses CREATE TABLE ... PARTITION OF while the default partition holds
            -- rows of the new range. So the partition is built standalone, those rows move into
            -- it, and then it is attached. The default partition stays locked meanwhile so no
            -- new row for this day can land there before the attach checks it.
            EXECUTE format('LOCK TABLE public.%I IN ACCESS EXCLUSIVE MODE', default_part);
            EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING ALL)', part, parent);
            EXECUTE format(
                'WITH gone AS (DELETE FROM public.%I WHERE time >= $1 AND time < $2 RETURNING *) '
                || 'INSERT INTO public.%I SELECT * FROM gone',
                default_part, part
            ) USING part_day::timestamptz, (part_day + 1)::timestamptz;
            GET DIAGNOSTICS n = ROW_COUNT;
            moved := moved + n;
            EXECUTE format(
                'ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                parent, part, part_day::timestamptz, (part_day + 1)::timestamptz
            );
            -- Rows are written and read through the parent, whose privileges are checked;
            -- dashboards may still query a partition directly.
            EXECUTE format('GRANT SELECT ON public.%I TO iot_readonly', part);
            created := created + 1;
        END LOOP;
    END LOOP;

    DELETE FROM measurement_batches AS b
    USING retention_policies AS r
    WHERE r.table_name = 'measurement_batches' AND b.received_at < now() - r.keep;
    GET DIAGNOSTICS pruned = ROW_COUNT;

    RETURN format(
        'partitions: %s created (%s rows moved from default), %s dropped; '
        || '%s expired rows deleted from default; %s batches pruned',
        created, moved, dropped, expired, pruned
    );
END
$function$;

REVOKE EXECUTE ON FUNCTION iot_maintain() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iot_maintain() TO iot_app;
