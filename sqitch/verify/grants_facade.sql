-- Verify idgraph:grants_facade: the facade role exists, cannot log in, is a writer but
-- no admin and no superuser, may look keys up but not create, list or revoke them;
-- admins manage keys; nobody reads the hash table directly.
DO $$
DECLARE
  r pg_roles;
BEGIN
  SELECT * INTO r FROM pg_roles WHERE rolname = 'idgraph_facade';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role idgraph_facade is missing';
  END IF;
  IF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolbypassrls THEN
    RAISE EXCEPTION 'idgraph_facade must be an unprivileged NOLOGIN role';
  END IF;
  IF NOT pg_has_role('idgraph_facade', 'idgraph_writer', 'MEMBER')
     OR pg_has_role('idgraph_facade', 'idgraph_admin', 'MEMBER') THEN
    RAISE EXCEPTION 'idgraph_facade must be a member of idgraph_writer and not of idgraph_admin';
  END IF;
  IF NOT has_function_privilege('idgraph_facade', 'idgraph.api_key_lookup(text)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_facade', 'idgraph.allocate(uuid,text,text,text,text,text)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_facade', 'idgraph.refresh_centrality(text,integer)', 'EXECUTE')
     OR has_function_privilege('idgraph_facade', 'idgraph.api_key_create(text,text,text,text[],text,timestamptz)', 'EXECUTE')
     OR has_function_privilege('idgraph_facade', 'idgraph.api_key_revoke(text)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.api_key_lookup(text)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.api_key_create(text,text,text,text[],text,timestamptz)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.api_keys_list()', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.services_page(text,integer)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.service(text)', 'EXECUTE')
     OR has_table_privilege('idgraph_facade', 'idgraph.api_keys', 'SELECT')
     OR has_table_privilege('idgraph_admin', 'idgraph.api_keys', 'SELECT') THEN
    RAISE EXCEPTION 'facade grants are wrong';
  END IF;
END
$$;
