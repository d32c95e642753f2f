-- idgraph: privileges, applied last. Nothing in idgraph is usable by PUBLIC; the DBA's
-- sqitch change `grants_api` grants each function to the role that needs it
-- (idgraph_reader / idgraph_writer / idgraph_admin).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA idgraph FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA idgraph FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA idgraph FROM PUBLIC;
REVOKE ALL ON SCHEMA idgraph_alloc FROM PUBLIC;
-- Pure helpers that touch no data stay callable by everyone.
GRANT EXECUTE ON FUNCTION idgraph.normalize_external_id(text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION idgraph.normalize_external_ids(text[], text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION idgraph.guess_external_id_type(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION idgraph.external_id_key(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION idgraph.external_id_keys(text[]) TO PUBLIC;
