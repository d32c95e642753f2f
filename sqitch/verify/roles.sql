-- Verify idgraph:roles: the three roles exist, cannot log in, and nest reader < writer < admin.
DO $$
BEGIN
  IF (SELECT count(*) FROM pg_roles
       WHERE rolname IN ('idgraph_reader', 'idgraph_writer', 'idgraph_admin') AND NOT rolcanlogin AND NOT rolsuper) <> 3 THEN
    RAISE EXCEPTION 'idgraph roles missing, or able to log in';
  END IF;
  IF NOT pg_has_role('idgraph_admin', 'idgraph_reader', 'MEMBER') OR pg_has_role('idgraph_reader', 'idgraph_writer', 'MEMBER') THEN
    RAISE EXCEPTION 'idgraph role nesting is wrong';
  END IF;
END
$$;
