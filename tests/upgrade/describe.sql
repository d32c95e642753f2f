-- A canonical description of everything idgraph puts into a database: one line per fact,
-- sorted, so that two databases can be compared with diff. pg_dump -s cannot do this job:
-- it prints an extension's members as the single line CREATE EXTENSION. Covers the
-- extension's members and every object in its schemas (idgraph, sead_utility,
-- idgraph_alloc): function definitions, owners, privileges (exploded and sorted, since
-- grant order differs between an upgrade and a fresh install), comments, columns in
-- order (dropped ones skipped), defaults, constraints, indexes, triggers, policies,
-- views, sequences' parameters (not their positions), types, storage options (less the
-- per-column pg_attver stamp some builds keep in attoptions), and which
-- tables pg_dump treats as configuration. The sequences register_target makes in
-- idgraph_alloc are data, not schema: tests/upgrade.sh compares their positions.
\pset format unaligned
\pset tuples_only on
\pset pager off
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'idgraph'),
ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname IN ('idgraph', 'sead_utility', 'idgraph_alloc')),
acl(kind, obj, acl) AS (
  SELECT 'rel', c.oid::regclass::text, c.relacl FROM pg_class c JOIN ns ON ns.oid = c.relnamespace AND ns.nspname <> 'idgraph_alloc'
  UNION ALL SELECT 'fn', p.oid::regprocedure::text, p.proacl FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL SELECT 'schema', n.nspname::text, n.nspacl FROM pg_namespace n JOIN ns ON ns.oid = n.oid
  UNION ALL SELECT 'type', t.oid::regtype::text, t.typacl FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
),
facts(line) AS (
  SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0)
    FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
  UNION ALL
  SELECT 'extension version ' || extversion || ' relocatable ' || extrelocatable || ' schema ' || extnamespace::regnamespace
    FROM pg_extension WHERE extname = 'idgraph'
  UNION ALL
  SELECT 'config ' || cfg::regclass || ' where ' || coalesce(cond, '')
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(cfg, cond) WHERE e.extname = 'idgraph'
  UNION ALL
  SELECT 'schema ' || n.nspname || ' owner ' || pg_get_userbyid(n.nspowner) || ' comment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
    FROM pg_namespace n JOIN ns ON ns.oid = n.oid
  UNION ALL
  SELECT 'acl ' || a.kind || ' ' || a.obj || ' ' || coalesce(pg_get_userbyid(x.grantee), 'PUBLIC')
         || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' grantable' ELSE '' END
    FROM acl a, aclexplode(a.acl) x
  UNION ALL
  SELECT 'acl ' || a.kind || ' ' || a.obj || ' default' FROM acl a WHERE a.acl IS NULL
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure || ' owner ' || pg_get_userbyid(p.proowner)
         || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '') || E'\n'
         || CASE WHEN p.prokind IN ('a', 'w') THEN p.prokind::text ELSE pg_get_functiondef(p.oid) END
    FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL
  SELECT 'relation ' || c.oid::regclass || ' kind ' || c.relkind::text || ' owner ' || pg_get_userbyid(c.relowner)
         || ' persistence ' || c.relpersistence::text || ' options ' || coalesce(array_to_string(c.reloptions, ','), '')
         || ' replident ' || c.relreplident::text || ' rls ' || c.relrowsecurity
         || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '')
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace AND ns.nspname <> 'idgraph_alloc'
  UNION ALL
  SELECT 'column ' || c.oid::regclass || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
         || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
         || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
         || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
         || coalesce(' collate ' || NULLIF(a.attcollation, 0)::regcollation::text, '')
         || ' storage ' || a.attstorage::text || coalesce(' options ' || NULLIF(array_to_string(ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_attver=%' ORDER BY o), ','), ''), '')
         || ' comment ' || coalesce(col_description(c.oid, a.attnum), '')
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace AND ns.nspname <> 'idgraph_alloc'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
  UNION ALL
  SELECT 'constraint ' || co.conrelid::regclass || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
         || ' deferrable ' || co.condeferrable || ' comment ' || coalesce(obj_description(co.oid, 'pg_constraint'), '')
    FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
         || ' comment ' || coalesce(obj_description(t.oid, 'pg_trigger'), '')
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'policy ' || pol.polrelid::regclass || ' ' || pol.polname || ' ' || pol.polcmd::text || ' ' || pol.polpermissive
         || ' roles ' || array_to_string(ARRAY(SELECT CASE r WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END FROM unnest(pol.polroles) r ORDER BY 1), ',')
         || ' using ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' check ' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')
    FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT 'view ' || c.oid::regclass || E'\n' || pg_get_viewdef(c.oid)
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace AND ns.nspname <> 'idgraph_alloc' WHERE c.relkind::text IN ('v', 'm')
  UNION ALL
  SELECT 'rule ' || r.rulename || ' ' || pg_get_ruledef(r.oid)
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN ns ON ns.oid = c.relnamespace WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL) || ' start ' || s.seqstart
         || ' inc ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
         || coalesce(' owned by ' || (SELECT d.refobjid::regclass || '.' || a.attname FROM pg_depend d
              JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.deptype IN ('a', 'i') LIMIT 1), '')
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns ON ns.oid = c.relnamespace
    WHERE ns.nspname <> 'idgraph_alloc'
  UNION ALL
  SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text || ' owner ' || pg_get_userbyid(t.typowner)
         || coalesce(' enum ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
         || CASE WHEN t.typtype = 'd' THEN ' base ' || format_type(t.typbasetype, t.typtypmod) || ' not null ' || t.typnotnull
              || ' checks ' || coalesce((SELECT string_agg(pg_get_constraintdef(co.oid), ' ; ' ORDER BY co.conname) FROM pg_constraint co WHERE co.contypid = t.oid), '') ELSE '' END
         || ' comment ' || coalesce(obj_description(t.oid, 'pg_type'), '')
    FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd', 'r', 'm', 'b') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  UNION ALL
  SELECT 'cast ' || format_type(ca.castsource, NULL) || ' -> ' || format_type(ca.casttarget, NULL) || ' ' || ca.castcontext::text
    FROM pg_cast ca JOIN pg_depend d ON d.classid = 'pg_cast'::regclass AND d.objid = ca.oid AND d.deptype = 'e', ext WHERE d.refobjid = ext.oid
  UNION ALL
  SELECT 'operator ' || o.oid::regoperator FROM pg_operator o JOIN ns ON ns.oid = o.oprnamespace
)
SELECT line FROM facts ORDER BY line;
