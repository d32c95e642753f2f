-- Which release of idgraph this database runs, and how it got there: a fresh install
-- writes one row, each upgrade script another. Operators read it; the sqitch change
-- extension_idgraph_0_2_0 reads it to tell an upgraded database (whose revert must
-- refuse: there is no downgrade) from one installed at 0.2.0 (nothing to revert).
-- Not registered with pg_extension_config_dump: a restored database is a fresh install.
CREATE TABLE idgraph.releases (
    version       text NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    upgraded_from text,
    PRIMARY KEY (version, installed_at)
);
COMMENT ON TABLE idgraph.releases IS
  'Releases of idgraph this database has run: one row per install (upgraded_from NULL) or upgrade.';
INSERT INTO idgraph.releases (version) VALUES ('0.2.0');
