import SegmentDomain

extension Migration {
    /// A job's visible change (state, attempt, progress, result, errors, a
    /// cancellation request) sends `NOTIFY segmentd_job_updates, '<tenant> <job id>'`
    /// from the transaction that makes it, so it is delivered exactly when that
    /// commits: waiters wake on it instead of polling. A trigger, so no path that
    /// changes a job can forget to; a lease renewal alone sends nothing.
    static let jobUpdateNotifications = Migration(
        version: 12, name: "job_update_notifications",
        sql: #"""
            CREATE FUNCTION job_update_notify() RETURNS trigger
                LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
            BEGIN
                PERFORM pg_notify('segmentd_job_updates', NEW.tenant_id || ' ' || NEW.job_id);
                RETURN NULL;
            END
            $fn$;
            REVOKE ALL ON FUNCTION job_update_notify() FROM PUBLIC;
            CREATE TRIGGER jobs_update_notify AFTER UPDATE ON jobs FOR EACH ROW
                WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.attempt IS DISTINCT FROM NEW.attempt
                      OR OLD.progress IS DISTINCT FROM NEW.progress OR OLD.result IS DISTINCT FROM NEW.result
                      OR OLD.errors IS DISTINCT FROM NEW.errors OR OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested)
                EXECUTE FUNCTION job_update_notify();
            """#)
}
