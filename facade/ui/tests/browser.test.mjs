// The explorer and the API docs in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core). Run by tests/browser.sh, which starts the facade over
// HTTPS on a database holding the demo graph and passes:
//   IDGRAPH_BROWSER_BASE   https://localhost:PORT
//   IDGRAPH_BROWSER_KEY    an API key with graph:read only
//   IDGRAPH_BROWSER_SPKI   base64 SHA-256 of the test certificate's public key (trusted
//                          for this run alone; no certificate check is switched off)
//   IDGRAPH_DEMO_GRAPH     the demo document the database was loaded from
//   IDGRAPH_ARTEFACTS      where screenshots go
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run tests/browser.sh)`);
  return v;
};
const BASE = env('IDGRAPH_BROWSER_BASE');
const KEY = env('IDGRAPH_BROWSER_KEY');
const SPKI = env('IDGRAPH_BROWSER_SPKI');
const ARTEFACTS = env('IDGRAPH_ARTEFACTS');
const demo = JSON.parse(readFileSync(env('IDGRAPH_DEMO_GRAPH'), 'utf8'));
const ROOT = 'checkout';
const DEPTH = 3;

// What the explorer must show, computed from the document itself: the downstream
// closure of ROOT within DEPTH hops, the members of the cart <-> pricing cycle.
function closure(doc, root, depth) {
  const out = new Map();
  for (const e of doc.edges) {
    if (!out.has(e.source)) out.set(e.source, []);
    out.get(e.source).push(e.target);
  }
  const seen = new Set([root]);
  let frontier = [root];
  for (let d = 0; d < depth; d++) {
    const next = [];
    for (const n of frontier) {
      for (const m of out.get(n) || []) {
        if (!seen.has(m)) { seen.add(m); next.push(m); }
      }
    }
    frontier = next;
  }
  return seen;
}
const expected = closure(demo, ROOT, DEPTH);
const external = demo.nodes.filter((n) => n.kind === 'external').map((n) => n.service_id);

let browser;
const problems = []; // CSP violations, page errors, requests leaving the origin

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run',
      `--ignore-certificate-errors-spki-list=${SPKI}`,
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1500, height: 950 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console on ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(BASE + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) {
      problems.push(`request outside the origin: ${u}`);
    }
    if (u.includes(KEY) || u.includes('idg_live_')) problems.push(`credential in a URL: ${u}`);
  });
  return { context, page };
}

test('the explorer refuses a wrong key and keeps the graph hidden', async () => {
  const { context, page } = await newPage();
  const res = await page.goto(`${BASE}/explorer`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
  await page.fill('#credential', 'idg_live_0000000000000000_' + '0'.repeat(64));
  await page.click('#auth-submit');
  await page.waitForFunction(() => document.getElementById('auth-status').classList.contains('error'));
  assert.match(await page.textContent('#auth-status'), /not accepted/);
  assert.equal(await page.isVisible('#app'), false);
  assert.equal(await page.inputValue('#credential'), '', 'the field is cleared');
  assert.ok(!page.url().includes('idg_live_'), page.url());
  await context.close();
});

test('the explorer draws the demo graph: closure, cycle, bottleneck, SLO', async () => {
  const { context, page } = await newPage();
  await page.goto(`${BASE}/explorer`);
  await page.fill('#credential', KEY);
  await page.click('#auth-submit');
  await page.waitForSelector('#app:not([hidden])');
  assert.equal(page.url(), `${BASE}/explorer`, 'no credential (nor anything) put in the URL');
  // Nothing persisted: no cookie, no web storage.
  const stored = await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]);
  assert.deepEqual(stored, ['', 0, 0]);

  // Search as you type: a prefix narrows the list; pick the service from it.
  await page.fill('#service-search', 'chec');
  await page.waitForSelector(`#service-matches button[data-service="${ROOT}"]`);
  const matches = await page.$$eval('#service-matches button', (bs) => bs.map((b) => b.dataset.service));
  assert.equal(matches[0], ROOT, `prefix match first: ${matches}`);
  assert.ok(!matches.includes('gateway'), `filtered: ${matches}`);
  await page.selectOption('#depth', String(DEPTH));
  await page.click(`#service-matches button[data-service="${ROOT}"]`);
  await page.waitForSelector('#graph[data-ready="true"]');

  const g = await page.evaluate(() => {
    const cy = window.idgraphExplorer.graph();
    const ids = (sel) => cy.$(sel).map((e) => e.id()).sort();
    return {
      nodes: ids('node'),
      cycle: ids('node.in-cycle'),
      bottleneck: ids('node.bottleneck'),
      external: ids('node.external'),
      redundant: ids('node.redundant'),
      cycleEdges: cy.$('edge.cycle-edge').map((e) => `${e.source().id()}->${e.target().id()}`).sort(),
      async: cy.$('edge.async').length,
      hard: cy.$('edge.hard').length,
      colours: cy.$('node').map((n) => n.classes().find((c) => c.startsWith('avail-'))),
    };
  });
  assert.deepEqual(g.nodes, [...expected].sort(), 'the nodes are the downstream closure');
  assert.equal(await page.getAttribute('#graph', 'data-node-count'), String(expected.size));
  assert.equal(await page.locator('#node-list tbody tr').count(), expected.size);
  assert.deepEqual(g.cycle, ['cart', 'pricing']);
  assert.deepEqual(g.cycleEdges, ['cart->pricing', 'pricing->cart']);
  assert.deepEqual(g.external, external.filter((x) => expected.has(x)).sort());
  assert.deepEqual(g.redundant, ['inventory-east', 'inventory-west']);
  assert.ok(g.async >= 2 && g.hard >= 10, JSON.stringify(g));
  assert.ok(g.colours.every(Boolean), 'every node coloured by availability');

  // The bottleneck marked is the one the API names (the external payment API here).
  const composite = await page.evaluate(async ([root, key]) => {
    const r = await fetch(`/api/v1/services/${root}/availability`, { headers: { 'X-API-Key': key } });
    return r.json();
  }, [ROOT, KEY]);
  assert.equal(composite.bottleneck, 'payment-provider');
  assert.deepEqual(g.bottleneck, [composite.bottleneck]);
  assert.equal(await page.getAttribute('#node-list tr.bottleneck', 'data-service'), composite.bottleneck);
  assert.equal(await page.textContent('#composite-value'),
    (composite.composite_availability * 100).toFixed(3) + '%');
  assert.match(await page.textContent('#slo'), /99\.900%/);
  assert.match(await page.textContent('#slo-budget-used'), /% of it at the composite bound/);
  // The recommendations box shows only when that route answers with tiers.
  const recs = await page.evaluate(async ([root, key]) =>
    (await fetch(`/api/v1/services/${root}/slo-recommendations`, { headers: { 'X-API-Key': key } })).status,
  [ROOT, KEY]);
  assert.equal(await page.isVisible('#recommendations'), recs === 200);

  mkdirSync(ARTEFACTS, { recursive: true });
  const shot = path.resolve(ARTEFACTS, 'explorer.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // Upstream of the external API: who is at risk when it fails.
  await page.selectOption('#direction', 'upstream');
  await page.waitForFunction(() => document.getElementById('graph-title').textContent.includes('upstream'));
  await page.waitForSelector('#graph[data-ready="true"]');
  await page.fill('#service-search', 'payment-p');
  await page.click('#service-matches button[data-service="payment-provider"]');
  await page.waitForFunction(() => document.getElementById('graph-title').textContent.startsWith('payment-provider'));
  await page.waitForSelector('#graph[data-ready="true"]');
  const up = await page.evaluate(() => window.idgraphExplorer.graph().$('node').map((n) => n.id()).sort());
  assert.ok(up.includes('payments') && up.includes('checkout'), up.join(','));
  // The view is in the fragment (a link to share), the credential is not.
  assert.equal(new URL(page.url()).hash, '#service=payment-provider&direction=upstream&depth=3');

  // Opening such a link in a fresh tab: connect, and the linked view is drawn.
  const other = await context.newPage();
  await other.goto(`${BASE}/explorer#service=cart&direction=downstream&depth=1`);
  await other.fill('#credential', KEY);
  await other.click('#auth-submit');
  await other.waitForFunction(() => document.getElementById('graph-title').textContent.startsWith('cart'));
  await other.waitForSelector('#graph[data-ready="true"]');
  const linked = await other.evaluate(() => window.idgraphExplorer.graph().$('node').map((n) => n.id()).sort());
  assert.deepEqual(linked, [...closure(demo, 'cart', 1)].sort());
  await context.close();
});

test('the explorer shows SLO recommendation tiers in the TRD shape', async () => {
  // The recommendations route is the SLO engine's; this pins how the explorer reads the
  // TRD's answer (percent over HTTP) whatever that route answers here today.
  const { context, page } = await newPage();
  await page.route('**/api/v1/services/checkout/slo-recommendations', (route) => route.fulfill({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({
      service_id: 'checkout',
      recommendations: [{
        sli_type: 'availability', metric: 'error_rate',
        tiers: {
          conservative: { target: 99.5, estimated_breach_probability: 0.02 },
          balanced: { target: 99.9, estimated_breach_probability: 0.08 },
          aggressive: { target: 99.95, estimated_breach_probability: 0.18 },
        },
        explanation: { summary: 'checkout achieved 99.92% over 30 days.' },
      }],
    }),
  }));
  await page.goto(`${BASE}/explorer`);
  await page.fill('#credential', KEY);
  await page.click('#auth-submit');
  await page.waitForSelector('#app:not([hidden])');
  await page.fill('#service-search', ROOT);
  await page.click(`#service-matches button[data-service="${ROOT}"]`);
  await page.waitForSelector('#graph[data-ready="true"]');
  assert.equal(await page.isVisible('#recommendations'), true);
  const rows = await page.$$eval('#recommendations tr[data-tier]', (trs) =>
    trs.map((t) => `${t.dataset.tier} ${t.children[1].textContent}`));
  assert.deepEqual(rows, ['conservative 99.5%', 'balanced 99.9%', 'aggressive 99.95%']);
  await context.close();
});

test('/docs renders every route of /openapi.json', async () => {
  const { context, page } = await newPage();
  const res = await page.goto(`${BASE}/docs`);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['x-frame-options'], 'DENY');
  const doc = await page.evaluate(async () => (await fetch('/openapi.json')).json());
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item)) {
      if (['get', 'put', 'post', 'delete', 'patch'].includes(m)) ops.push([m, p]);
    }
  }
  assert.ok(ops.length >= 30, `${ops.length} operations`);
  await page.waitForSelector('.opblock-summary-path');
  const rendered = await page.$$eval('.opblock', (els) => els.map((e) => {
    const m = [...e.classList].find((c) => c.startsWith('opblock-') && c !== 'opblock-summary');
    const p = e.querySelector('.opblock-summary-path');
    return `${(m || '').replace('opblock-', '')} ${p ? p.getAttribute('data-path') : ''}`;
  }));
  const missing = ops.map(([m, p]) => `${m} ${p}`).filter((k) => !rendered.includes(k));
  assert.deepEqual(missing, [], `rendered: ${rendered.length}`);
  mkdirSync(ARTEFACTS, { recursive: true });
  const shot = path.resolve(ARTEFACTS, 'docs.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
  await context.close();
});

test('no CSP violation, page error, foreign request or credential in a URL', () => {
  assert.deepEqual(problems, []);
});
