// idgraph's dependency explorer. Calls the facade's JSON API with the person's API key or
// JWT and draws a service's dependency subgraph with cytoscape.
//
// The credential: read from the form, kept in this closure's memory only, sent in a
// header (X-API-Key for idgraph keys, Authorization: Bearer for a JWT) to this origin
// only, with `credentials: 'omit'` (no cookies, there are none) and no referrer. It is
// never put in a URL, a cookie, localStorage or sessionStorage: a reload or closing the
// tab forgets it, and no other page or later visitor of this browser profile can read it
// back. The page's CSP allows scripts from this origin only (no inline script, no eval),
// which is what keeps other code from reading this memory.
'use strict';
(() => {
  const MAX_SERVICES = 5000; // the search covers the first 5 pages of /api/v1/services
  const PAGE = 1000;
  const MAX_NODES = 300; // edges among the nodes in view: one depth-1 query per node
  const PARALLEL = 6;

  let credential = null;
  let services = []; // [{service_id, availability, kind, published_sla, ...}]
  let byId = new Map();
  let cy = null;
  let current = null;
  let renderSeq = 0;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, String(v));
      else e[k] = v;
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const pct = (f, digits = 3) => (f === null || f === undefined ? '—' : (f * 100).toFixed(digits) + '%');

  function availClass(a) {
    if (a === null || a === undefined) return 'avail-unknown';
    if (a >= 0.999) return 'avail-good';
    if (a >= 0.99) return 'avail-warn';
    return 'avail-bad';
  }

  function authHeaders() {
    if (!credential) return {};
    return credential.startsWith('idg_live_')
      ? { 'X-API-Key': credential }
      : { Authorization: 'Bearer ' + credential };
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path) {
    const res = await fetch(path, {
      headers: { ...authHeaders(), Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
    if (!res.ok) {
      let detail = res.statusText;
      try {
        const p = await res.json();
        detail = p.detail || p.title || detail;
      } catch (_) { /* not a problem document */ }
      throw new ApiError(res.status, `${res.status}: ${detail}`);
    }
    return res.json();
  }

  const enc = encodeURIComponent;

  async function pool(items, n, fn) {
    const out = new Array(items.length);
    let next = 0;
    const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    });
    await Promise.all(workers);
    return out;
  }

  // --- credential -----------------------------------------------------------------------

  function setStatus(id, text, isError) {
    const s = $(id);
    s.textContent = text;
    s.classList.toggle('error', !!isError);
  }

  async function connect(ev) {
    ev.preventDefault();
    const input = $('credential');
    const value = input.value.trim();
    input.value = '';
    if (!value) return;
    credential = value;
    setStatus('auth-status', 'connecting…');
    try {
      await loadServices();
    } catch (e) {
      credential = null;
      setStatus('auth-status', e.status === 401 || e.status === 403
        ? `not accepted (${e.message}); the explorer needs graph:read`
        : `cannot list services: ${e.message}`, true);
      return;
    }
    setStatus('auth-status', 'connected (the credential is kept in this tab\'s memory only)');
    $('auth-forget').hidden = false;
    $('app').hidden = false;
    $('service-search').focus();
    showMatches();
    fromLink();
  }

  // A view can be linked: #service=…&direction=…&depth=… (never a credential; whoever
  // opens the link connects with their own).
  function fromLink() {
    const h = new URLSearchParams(location.hash.slice(1));
    const dir = h.get('direction');
    const depth = h.get('depth');
    if (dir && [...$('direction').options].some((o) => o.value === dir)) $('direction').value = dir;
    if (depth && [...$('depth').options].some((o) => o.value === depth)) $('depth').value = depth;
    const svc = h.get('service');
    if (svc && byId.has(svc)) pick(svc);
  }

  function toLink() {
    const h = new URLSearchParams({ service: current, direction: $('direction').value, depth: $('depth').value });
    history.replaceState(null, '', '#' + h.toString());
  }

  function forget() {
    credential = null;
    services = [];
    byId = new Map();
    if (cy) { cy.destroy(); cy = null; }
    $('app').hidden = true;
    $('auth-forget').hidden = true;
    setStatus('auth-status', 'forgotten');
  }

  async function loadServices() {
    const all = [];
    let cursor = null;
    do {
      const q = `/api/v1/services?limit=${PAGE}` + (cursor ? `&cursor=${enc(cursor)}` : '');
      const page = await api(q);
      all.push(...page.services);
      cursor = page.next_cursor;
    } while (cursor && all.length < MAX_SERVICES);
    services = all;
    byId = new Map(all.map((s) => [s.service_id, s]));
    $('service-count').textContent = cursor
      ? `searching the first ${all.length} services`
      : `${all.length} services`;
  }

  // --- search as you type ---------------------------------------------------------------

  function showMatches() {
    const q = $('service-search').value.trim().toLowerCase();
    const hits = services
      .filter((s) => s.service_id.toLowerCase().includes(q))
      .sort((a, b) => {
        const pa = a.service_id.toLowerCase().startsWith(q) ? 0 : 1;
        const pb = b.service_id.toLowerCase().startsWith(q) ? 0 : 1;
        return pa - pb || a.service_id.localeCompare(b.service_id);
      })
      .slice(0, 50);
    const ul = $('service-matches');
    ul.replaceChildren(...hits.map((s) => el('li', { role: 'option' },
      el('button', {
        type: 'button',
        class: s.service_id === current ? 'selected' : '',
        'data-service': s.service_id,
        title: s.kind === 'external' ? 'external service' : '',
      }, s.kind === 'external' ? '◆ ' : '', s.service_id))));
  }

  function pick(serviceId) {
    current = serviceId;
    $('service-search').value = serviceId;
    showMatches();
    render().catch((e) => setStatus('graph-status', e.message, true));
  }

  // --- the subgraph ---------------------------------------------------------------------

  async function optional(path) {
    try {
      return await api(path);
    } catch (e) {
      if (e.status === 404 || e.status === 403 || e.status === 405) return null;
      throw e;
    }
  }

  async function render() {
    const seq = ++renderSeq;
    const id = current;
    toLink();
    const direction = $('direction').value;
    const depth = Number($('depth').value);
    $('graph').dataset.ready = 'false';
    setStatus('graph-status', 'loading…');
    $('graph-title').textContent = `${id} — ${direction}, depth ${depth}`;

    const [deps, composite, cycles, slo, recs] = await Promise.all([
      api(`/api/v1/services/${enc(id)}/dependencies?direction=${direction}&max_depth=${depth}`),
      // The page draws every redundancy group, cycle, external and exclusion: the full answer.
      api(`/api/v1/services/${enc(id)}/availability?detail=full`),
      api('/api/v1/cycles'),
      optional(`/api/v1/services/${enc(id)}/slos`),
      // Optional (the SLO engine's route): whatever it answers besides 200, the box stays hidden.
      api(`/api/v1/services/${enc(id)}/slo-recommendations`).catch(() => null),
    ]);
    const depthOf = new Map([[id, 0]]);
    for (const d of deps.dependencies) depthOf.set(d.service_id, d.depth);
    let nodeIds = [...depthOf.keys()];
    const truncatedView = nodeIds.length > MAX_NODES;
    if (truncatedView) nodeIds = nodeIds.slice(0, MAX_NODES);
    const inView = new Set(nodeIds);

    // Every edge among the nodes in view (the traversal gives only the edge that first
    // reached each service): each node's direct downstream dependencies.
    const direct = await pool(nodeIds, PARALLEL, (n) =>
      api(`/api/v1/services/${enc(n)}/dependencies?direction=downstream&max_depth=1`));
    if (seq !== renderSeq) return; // a newer choice is being drawn
    const edges = [];
    direct.forEach((r, i) => {
      for (const d of r.dependencies) {
        if (inView.has(d.service_id)) {
          edges.push({ source: nodeIds[i], target: d.service_id, mode: d.communication_mode, crit: d.criticality });
        }
      }
    });

    // Cycles: members of a strongly connected component; its edges inside the view.
    const cycleOf = new Map();
    cycles.cycles.forEach((c, i) => c.members.forEach((m) => cycleOf.set(m, i)));
    const groupMembers = new Map();
    for (const g of composite.redundancy_groups || []) {
      for (const m of g.members) groupMembers.set(`${g.parent}->${m}`, g.group);
    }
    const bottleneck = composite.bottleneck || null;

    const nodes = nodeIds.map((n) => {
      const s = byId.get(n) || {};
      const classes = [availClass(s.availability)];
      if (n === id) classes.push('root');
      if (s.kind === 'external') classes.push('external');
      if (cycleOf.has(n)) classes.push('in-cycle');
      if (n === bottleneck) classes.push('bottleneck');
      const shown = s.availability ?? null;
      return {
        group: 'nodes',
        data: { id: n, label: `${n}\n${shown === null ? (s.published_sla ? 'SLA ' + pct(s.published_sla, 2) : 'no data') : pct(shown, 2)}` },
        classes: classes.join(' '),
      };
    });
    const redundantNodes = new Set();
    const edgeEls = edges.map((e, i) => {
      const classes = [];
      if (e.mode === 'async') classes.push('async');
      else classes.push(e.crit); // hard | soft | degraded
      const ci = cycleOf.get(e.source);
      if (ci !== undefined && cycleOf.get(e.target) === ci) classes.push('cycle-edge');
      const group = groupMembers.get(`${e.source}->${e.target}`);
      if (group) { classes.push('redundant'); redundantNodes.add(e.target); }
      return {
        group: 'edges',
        data: { id: `e${i}`, source: e.source, target: e.target, label: group ? `group ${group}` : '' },
        classes: classes.join(' '),
      };
    });
    for (const n of nodes) if (redundantNodes.has(n.data.id)) n.classes += ' redundant';

    draw(id, nodes, edgeEls);
    const g = $('graph');
    g.dataset.nodeCount = String(nodes.length);
    g.dataset.edgeCount = String(edgeEls.length);
    g.dataset.ready = 'true';
    setStatus('graph-status', `${nodes.length} services, ${edgeEls.length} dependencies` +
      (truncatedView ? ` (view limited to ${MAX_NODES} services)` : '') +
      (deps.dependencies.length === 0 ? ' — no dependencies in this direction' : ''));

    nodeList(nodeIds, depthOf, cycleOf, bottleneck, redundantNodes);
    showComposite(composite);
    showSlo(slo, composite);
    showRecommendations(recs);
  }

  const STYLE = [
    { selector: 'node', style: {
      label: 'data(label)', 'text-wrap': 'wrap', 'text-valign': 'bottom', 'text-margin-y': 4,
      'font-size': 11, color: '#1d2733', width: 30, height: 30,
      'border-width': 1, 'border-color': '#55606d', 'text-background-color': '#ffffff',
      'text-background-opacity': 0.8, 'text-background-padding': 1 } },
    { selector: 'node.avail-good', style: { 'background-color': '#2e9d57' } },
    { selector: 'node.avail-warn', style: { 'background-color': '#e6a700' } },
    { selector: 'node.avail-bad', style: { 'background-color': '#d93025' } },
    { selector: 'node.avail-unknown', style: { 'background-color': '#a9b3be' } },
    { selector: 'node.external', style: { shape: 'diamond', width: 36, height: 36 } },
    { selector: 'node.root', style: { width: 42, height: 42, 'font-weight': 'bold', 'font-size': 13 } },
    { selector: 'node.redundant', style: { 'border-width': 5, 'border-style': 'double', 'border-color': '#1565c0' } },
    { selector: 'node.in-cycle', style: { 'border-width': 4, 'border-color': '#d93025', 'border-style': 'solid' } },
    { selector: 'node.bottleneck', style: {
      'border-width': 6, 'border-color': '#7b1fa2', 'border-style': 'solid',
      'underlay-color': '#7b1fa2', 'underlay-opacity': 0.25, 'underlay-padding': 8, 'underlay-shape': 'ellipse' } },
    { selector: 'edge', style: {
      width: 2, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'arrow-scale': 1,
      'line-color': '#44505e', 'target-arrow-color': '#44505e',
      label: 'data(label)', 'font-size': 9, color: '#1565c0', 'text-rotation': 'autorotate' } },
    { selector: 'edge.hard', style: { width: 3 } },
    { selector: 'edge.soft', style: { 'line-style': 'dashed', 'line-color': '#7d8896', 'target-arrow-color': '#7d8896' } },
    { selector: 'edge.degraded', style: { 'line-style': 'dashed', 'line-dash-pattern': [8, 3, 2, 3], 'line-color': '#7d8896', 'target-arrow-color': '#7d8896' } },
    { selector: 'edge.async', style: { 'line-style': 'dotted', 'line-color': '#7d8896', 'target-arrow-color': '#7d8896', 'target-arrow-shape': 'vee' } },
    { selector: 'edge.redundant', style: { 'line-color': '#1565c0', 'target-arrow-color': '#1565c0' } },
    { selector: 'edge.cycle-edge', style: { 'line-color': '#d93025', 'target-arrow-color': '#d93025', width: 4 } },
  ];

  function draw(root, nodes, edges) {
    if (cy) cy.destroy();
    cy = window.cytoscape({
      container: $('graph'),
      elements: [...nodes, ...edges],
      style: STYLE,
      layout: { name: 'breadthfirst', directed: false, roots: [root], spacingFactor: 1.05, padding: 24, animate: false },
      wheelSensitivity: 0.3,
      minZoom: 0.2,
      maxZoom: 3,
    });
    cy.on('tap', 'node', (ev) => {
      const n = ev.target.id();
      if (n !== current) pick(n);
    });
  }

  // --- side panels ----------------------------------------------------------------------

  function nodeList(ids, depthOf, cycleOf, bottleneck, redundant) {
    const rows = ids.map((n) => {
      const s = byId.get(n) || {};
      const notes = [];
      if (s.kind === 'external') notes.push('external');
      if (cycleOf.has(n)) notes.push('cycle');
      if (n === bottleneck) notes.push('bottleneck');
      if (redundant.has(n)) notes.push('redundant');
      if (s.discovered) notes.push('placeholder');
      const cls = [cycleOf.has(n) ? 'in-cycle' : '', n === bottleneck ? 'bottleneck' : ''].join(' ').trim();
      return el('tr', { class: cls, 'data-service': n },
        el('td', {}, n), el('td', {}, pct(s.availability, 3)), el('td', {}, depthOf.get(n)),
        el('td', {}, notes.join(', ')));
    });
    $('node-list').tBodies[0].replaceChildren(...rows);
  }

  function kv(pairs) {
    return el('dl', {}, pairs.filter(Boolean).map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  function showComposite(c) {
    const box = $('composite');
    box.hidden = false;
    const parts = [
      el('h2', {}, 'Composite availability (downstream bound)'),
      el('div', { class: 'big', id: 'composite-value' }, pct(c.composite_availability, 3)),
      kv([
        ['own', pct(c.self_availability, 3)],
        ['bottleneck', c.bottleneck ? `${c.bottleneck} (${pct(c.bottleneck_availability, 3)})` : '—'],
        ['confidence', pct(c.confidence, 0)],
        c.truncated ? ['truncated', `at depth ${c.max_depth}`] : null,
        c.missing_data && c.missing_data.length ? ['no data', c.missing_data.join(', ')] : null,
      ]),
    ];
    if (c.redundancy_groups && c.redundancy_groups.length) {
      parts.push(el('p', {}, 'Redundancy groups:'), el('ul', {}, c.redundancy_groups.map((g) =>
        el('li', {}, `${g.group}: ${g.members.join(' ∥ ')} → ${pct(g.availability, 4)}`))));
    }
    if (c.supernodes && c.supernodes.length) {
      parts.push(el('p', {}, 'Cycles (counted at their weakest member):'), el('ul', {}, c.supernodes.map((s) =>
        el('li', {}, `${s.members.join(' ⇄ ')} → ${s.weakest} ${pct(s.availability, 3)}`))));
    }
    if (c.external && c.external.length) {
      parts.push(el('p', {}, 'External:'), el('ul', {}, c.external.map((x) =>
        el('li', { class: x.high_risk ? 'bad' : '' }, `${x.service_id}: ${pct(x.availability_used, 3)} (${x.source})` +
          (x.error_budget_share !== null && x.error_budget_share !== undefined
            ? `, ${(x.error_budget_share * 100).toFixed(0)}% of the error budget${x.high_risk ? ' — high risk' : ''}` : '')))));
    }
    if (c.excluded && c.excluded.length) {
      parts.push(el('p', {}, 'Not counted (risks):'), el('ul', {}, c.excluded.map((x) =>
        el('li', {}, `${x.from} → ${x.service_id}: ${x.reason}`))));
    }
    box.replaceChildren(...parts);
  }

  function showSlo(slo, c) {
    const box = $('slo');
    const active = slo && slo.active;
    if (!active) {
      box.hidden = false;
      box.replaceChildren(el('h2', {}, 'SLO'), el('p', { class: 'hint' }, 'No active SLO for this service.'));
      return;
    }
    const t = active.availability_target;
    const budget = 1 - t;
    const minutes = budget * 30 * 24 * 60;
    const bound = c.composite_availability;
    const used = (1 - bound) / budget;
    box.hidden = false;
    box.replaceChildren(
      el('h2', {}, 'SLO'),
      kv([
        ['target', pct(t, 3)],
        ['error budget', `${pct(budget, 3)} ≈ ${minutes.toFixed(1)} min / 30 days`],
        ['dependencies use', el('span', { class: used > 1 ? 'bad' : 'ok', id: 'slo-budget-used' },
          `${(used * 100).toFixed(0)}% of it at the composite bound`)],
        ['achievable', el('span', { class: bound >= t ? 'ok' : 'bad' },
          bound >= t ? 'yes, the bound is above the target' : 'no: the dependency chain caps it below the target')],
        active.latency_p99_ms ? ['latency p99', `${active.latency_p99_ms} ms`] : null,
        ['set by', `${active.set_by || '—'}${active.rationale ? ' — ' + active.rationale : ''}`],
      ]));
  }

  // Shown whenever GET …/slo-recommendations answers 200 (hidden on 404 and the like):
  // the TRD's shape, `recommendations[].tiers.{conservative,balanced,aggressive}`, or a
  // single `tiers` object. Availability targets are percent over HTTP.
  function showRecommendations(r) {
    const box = $('recommendations');
    if (!r) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const recs = Array.isArray(r.recommendations) ? r.recommendations : r.tiers ? [r] : [];
    const parts = [el('h2', {}, 'Recommended SLO tiers')];
    if (!recs.length) parts.push(el('p', { class: 'hint' }, r.detail || r.status || 'No recommendation yet.'));
    for (const rec of recs) {
      const tiers = rec.tiers || {};
      parts.push(el('table', { class: 'tiers' },
        el('caption', {}, `${rec.sli_type || ''} ${rec.metric ? '(' + rec.metric + ')' : ''}`),
        el('tbody', {}, ['conservative', 'balanced', 'aggressive'].filter((k) => tiers[k]).map((k) => {
          const x = tiers[k];
          const asPct = (t) => (t <= 1 ? +(t * 100).toFixed(4) : t);
          const target = typeof x.target === 'number' ? `${asPct(x.target)}%` : x.target_ms !== undefined ? `${x.target_ms} ms` : '—';
          const p = x.estimated_breach_probability;
          return el('tr', { 'data-tier': k }, el('th', {}, k), el('td', {}, target),
            el('td', {}, p !== undefined ? `breach p ${(p * 100).toFixed(0)}%` : ''));
        }))));
      if (rec.explanation && rec.explanation.summary) parts.push(el('p', { class: 'hint' }, rec.explanation.summary));
    }
    box.hidden = false;
    box.replaceChildren(...parts);
  }

  // --- wiring ---------------------------------------------------------------------------

  window.addEventListener('DOMContentLoaded', () => {
    $('auth-form').addEventListener('submit', connect);
    $('auth-forget').addEventListener('click', forget);
    $('service-search').addEventListener('input', showMatches);
    $('service-search').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        const first = $('service-matches').querySelector('button');
        if (first) pick(first.dataset.service);
      }
    });
    $('service-matches').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-service]');
      if (b) pick(b.dataset.service);
    });
    for (const id of ['direction', 'depth']) {
      $(id).addEventListener('change', () => {
        if (current) render().catch((e) => setStatus('graph-status', e.message, true));
      });
    }
  });

  // For tests and the console: read-only access to the drawn graph.
  window.idgraphExplorer = Object.freeze({ graph: () => cy });
})();
