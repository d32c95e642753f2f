-- docker-compose: the facade's LOGIN role, an ordinary member of idgraph_facade (never a
-- superuser). psql -v pw=... -f facade-role.sql
SELECT 'CREATE ROLE idgraph_facade_login LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade_login') \gexec
ALTER ROLE idgraph_facade_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
GRANT idgraph_facade TO idgraph_facade_login;
