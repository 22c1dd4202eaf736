-- The planner's estimate of how many tenants have a status ('' for all), for list totals
-- past the exact-count cap. It asks EXPLAIN, so it is as good as the table's statistics
-- and costs a plan, not a scan: counting 100,000 rows per page request costs milliseconds.
-- It runs inside the list statement, so a page costs one round trip. VOLATILE because
-- PostgreSQL allows EXPLAIN only there; it reads nothing but the plan.
CREATE FUNCTION tenant_count_estimate(p_status text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    plan json;
BEGIN
    IF p_status = '' THEN
        EXECUTE 'EXPLAIN (FORMAT JSON) SELECT 1 FROM public.tenants' INTO plan;
    ELSE
        EXECUTE 'EXPLAIN (FORMAT JSON) SELECT 1 FROM public.tenants WHERE status = $1' INTO plan USING p_status;
    END IF;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END
$$;

---- create above / drop below ----

DROP FUNCTION tenant_count_estimate(text);
