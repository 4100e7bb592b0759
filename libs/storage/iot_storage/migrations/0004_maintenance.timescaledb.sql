-- iot_maintain(): housekeeping for the TimescaleDB flavour, called by the runner after every
-- migration and periodically by a service (iot_app may execute it, nobody else).
--
-- TimescaleDB's own policies create, compress and drop chunks, so all that is left is pruning
-- the batch ledger by its retention. Returns a one-line summary.
--
-- SECURITY DEFINER: iot_app may not DELETE from the ledger itself. Hence the fixed search_path,
-- with pg_temp last so a caller's temporary table cannot stand in for one of ours.
CREATE FUNCTION iot_maintain() RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $function$
DECLARE
    pruned bigint;
BEGIN
    -- The same key as the PostgreSQL flavour: concurrent calls do the work once.
    IF NOT pg_try_advisory_xact_lock(74656002) THEN
        RETURN 'skipped: another iot_maintain() is running';
    END IF;

    DELETE FROM measurement_batches AS b
    USING retention_policies AS r
    WHERE r.table_name = 'measurement_batches' AND b.received_at < now() - r.keep;
    GET DIAGNOSTICS pruned = ROW_COUNT;

    RETURN format('%s batches pruned (TimescaleDB policies manage the chunks)', pruned);
END
$function$;

REVOKE EXECUTE ON FUNCTION iot_maintain() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iot_maintain() TO iot_app;
