-- Revert idgraph:grants_api
BEGIN;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA idgraph FROM idgraph_reader, idgraph_writer, idgraph_admin;
REVOKE ALL ON ALL TABLES IN SCHEMA idgraph FROM idgraph_reader, idgraph_writer, idgraph_admin;
REVOKE ALL ON SCHEMA idgraph FROM idgraph_reader, idgraph_writer, idgraph_admin;
COMMIT;
