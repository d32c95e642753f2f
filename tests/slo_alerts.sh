#!/usr/bin/env bash
# FR-10 / AC-010: idgraph.slo_alert_rules writes a valid Prometheus rule file (promtool
# check rules), and on synthetic series (promtool test rules) its fast-burn alert fires
# under an error burst and stays silent under the budget. Usage: tests/slo_alerts.sh DB
. "$(dirname "$0")/../scripts/env.sh"
DB=${1:-$IDGRAPH_TEST_DB}
command -v promtool >/dev/null \
  || { echo "slo_alerts: promtool missing (Debian package prometheus, installed by scripts/setup.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# In a transaction that is rolled back: the test database keeps nothing.
psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" >"$tmp/rules.yml" <<'SQL'
SET client_min_messages = warning;
BEGIN;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "alerts-checkout", "team": "payments"}]}') \g /dev/null
SELECT idgraph.set_slo('alerts-checkout', 0.999) \g /dev/null
SELECT idgraph.slo_alert_rules('alerts-checkout');
ROLLBACK;
SQL
promtool check rules "$tmp/rules.yml"
# Two hours of 1,000 good requests a minute. burst: 100 errors a minute in the last 20
# minutes (5m ratio 9%, 1h ratio 3.2%: over 14.4 x 0.1%). quiet: 0.5 errors a minute
# (0.05%: half the budget).
cat >"$tmp/test.yml" <<'YAML'
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - name: fast burn fires under a burst
    interval: 1m
    input_series:
      - series: 'http_requests_total{service="alerts-checkout",status="200"}'
        values: '0+1000x120'
      - series: 'http_requests_total{service="alerts-checkout",status="500"}'
        values: '0x100 100+100x19'
    alert_rule_test:
      - eval_time: 90m
        alertname: ErrorBudgetBurn1h5m
        exp_alerts: []
      - eval_time: 120m
        alertname: ErrorBudgetBurn1h5m
        exp_alerts:
          - exp_labels:
              severity: page
              service: alerts-checkout
              team: payments
              slo: availability
              burn_rate: "14.4"
              long_window: 1h
              short_window: 5m
            exp_annotations:
              summary: "alerts-checkout is burning its error budget at 14.4x over 1h and 5m (SLO 99.9%)"
  - name: silent under the budget
    interval: 1m
    input_series:
      - series: 'http_requests_total{service="alerts-checkout",status="200"}'
        values: '0+1000x120'
      - series: 'http_requests_total{service="alerts-checkout",status="500"}'
        values: '0+0.5x120'
    alert_rule_test:
      - eval_time: 120m
        alertname: ErrorBudgetBurn1h5m
        exp_alerts: []
      - eval_time: 120m
        alertname: ErrorBudgetBurn6h30m
        exp_alerts: []
      - eval_time: 120m
        alertname: ErrorBudgetBurn3d6h
        exp_alerts: []
YAML
promtool test rules "$tmp/test.yml"
