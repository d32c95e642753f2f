//! Composite availability (FR-3), achievability, and impact analysis (FR-4).
//!
//! The model, exactly:
//! - The closure of a service is what it reaches over *required* edges (sync + hard, not
//!   stale) within `max_depth` hops. Soft, degraded and async edges leaving the closure
//!   are not followed: they are listed under `excluded` with the reason.
//! - Strongly connected components of required edges are contracted: a supernode's
//!   availability is its weakest member's (FR-3 step 2).
//! - Each component in the closure counts once (a diamond's shared dependency is one
//!   factor, not two). The service's own component gives `self_availability`.
//! - Edges from one parent with the same `redundancy_group` (two or more of them) are
//!   parallel: the group contributes `1 − Π(1 − R_i)` over its members' components.
//!   A component reached only through such groups is not also a serial factor; the
//!   members' own dependencies are still serial factors of the closure (replicas
//!   usually share what is below them).
//! - composite = self × Π(serial components) × Π(groups).
//! - Availability used per service: observed when known. External services without
//!   observations use their published SLA minus `external_pessimism` (default 0.001,
//!   FR-3's "99.99% → 99.89%"). A service with neither uses `default_availability`
//!   (0.999) and is listed in `missing_data`.
//! - confidence = (1 − 0.5 · missing/closure) · (0.8 if truncated else 1), in [0, 1].

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::model::{Graph, GraphError, Kind};
use super::traverse::{traverse, Direction};
use crate::cancel::Cancel;

/// Tunables of the availability math.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvailabilityOptions {
    pub max_depth: u32,
    pub default_availability: f64,
    pub external_pessimism: f64,
    pub high_risk_share: f64,
}

impl Default for AvailabilityOptions {
    fn default() -> Self {
        Self {
            max_depth: 10,
            default_availability: 0.999,
            external_pessimism: 0.001,
            high_risk_share: 0.30,
        }
    }
}

/// Where an availability figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Observed,
    PublishedSlaAdjusted,
    Missing,
    Proposed,
}

/// A dependency left out of the composite, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    pub service_id: String,
    pub from: String,
    pub communication_mode: &'static str,
    pub criticality: &'static str,
    pub reason: String,
}

/// An external service in the closure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalUse {
    pub service_id: String,
    pub availability_used: f64,
    pub source: DataSource,
    pub error_budget_share: Option<f64>,
    pub high_risk: Option<bool>,
}

/// A contracted cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Supernode {
    pub members: Vec<String>,
    pub availability: f64,
    pub weakest: String,
}

/// A required dependency with the availability used for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HardDependency {
    pub service_id: String,
    pub depth: u32,
    pub availability: f64,
    pub source: DataSource,
    pub kind: &'static str,
}

/// A redundancy group and its parallel availability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedundancyGroup {
    pub parent: String,
    pub group: String,
    /// Sorted by service id.
    pub members: Vec<String>,
    pub availability: f64,
}

/// The composite availability of one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Composite {
    pub service_id: String,
    pub composite_availability: f64,
    pub self_availability: f64,
    pub bottleneck: Option<String>,
    pub bottleneck_availability: Option<f64>,
    pub hard_dependencies: Vec<HardDependency>,
    pub redundancy_groups: Vec<RedundancyGroup>,
    pub excluded: Vec<Excluded>,
    pub external: Vec<ExternalUse>,
    pub supernodes: Vec<Supernode>,
    pub truncated: bool,
    pub max_depth: u32,
    pub confidence: f64,
    pub missing_data: Vec<String>,
    pub target: Option<f64>,
}

/// How much an availability answer lists. SQL takes it as `p_detail text DEFAULT
/// 'summary'`, the facade as `?detail=`; both parse it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// The answer a caller needs: the numbers, the top [`TOP_RISKS`] risks and counts.
    Summary,
    /// Everything: every dependency, exclusion, external and cycle (the 0.1.0 shape).
    Full,
}

/// How many risks a summary lists (the top ones by contribution).
pub const TOP_RISKS: usize = 10;

impl Detail {
    pub const ALL: [Detail; 2] = [Detail::Summary, Detail::Full];

    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Summary => "summary",
            Detail::Full => "full",
        }
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Detail {
    type Err = GraphError;

    fn from_str(s: &str) -> Result<Self, GraphError> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let allowed: Vec<String> = Self::ALL
                    .iter()
                    .map(|d| format!("'{}'", d.as_str()))
                    .collect();
                GraphError::Invalid(format!(
                    "detail must be one of {}, got '{s}'",
                    allowed.join(", ")
                ))
            })
    }
}

/// What kind of factor of the composite a risk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// A dependency that is a serial factor of its own.
    Dependency,
    /// A cycle (supernode), named by its weakest member.
    Cycle,
    /// A redundancy group, in parallel.
    RedundancyGroup,
}

/// One of the top risks of a composite: a factor and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Risk {
    /// The service (a cycle: its weakest member), or "redundancy group 'g' of parent" —
    /// the names `bottleneck` uses.
    pub factor: String,
    pub kind: RiskKind,
    pub availability: f64,
    /// 1 − availability: the unavailability this factor alone brings. The top risks are
    /// the [`TOP_RISKS`] largest, ties by name.
    pub contribution: f64,
}

/// How many of each thing the full listing would have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompositeCounts {
    /// Services in the closure, the service itself included.
    pub closure: usize,
    pub hard_dependencies: usize,
    pub redundancy_groups: usize,
    pub supernodes: usize,
    pub external: usize,
    pub external_high_risk: usize,
    pub excluded: usize,
    pub missing_data: usize,
}

/// The default answer of a composite availability: the numbers of [`Composite`] with the
/// top risks and counts instead of the listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompositeSummary {
    pub service_id: String,
    pub composite_availability: f64,
    pub self_availability: f64,
    pub bottleneck: Option<String>,
    pub bottleneck_availability: Option<f64>,
    pub top_risks: Vec<Risk>,
    pub counts: CompositeCounts,
    pub truncated: bool,
    pub max_depth: u32,
    pub confidence: f64,
    pub target: Option<f64>,
    pub detail: Detail,
}

/// One service's availability as used by the math.
fn availability_of(
    g: &Graph,
    v: u32,
    opts: &AvailabilityOptions,
    proposed: Option<(u32, f64)>,
) -> (f64, DataSource) {
    if let Some((p, a)) = proposed {
        if p == v {
            return (a, DataSource::Proposed);
        }
    }
    let s = g.service(v);
    match (s.availability, s.kind, s.published_sla) {
        (Some(a), _, _) => (a, DataSource::Observed),
        (None, Kind::External, Some(sla)) => (
            (sla - opts.external_pessimism).max(0.0),
            DataSource::PublishedSlaAdjusted,
        ),
        _ => (opts.default_availability, DataSource::Missing),
    }
}

/// What the composite computation needs to know about a closure, kept for reuse by the
/// impact analysis.
struct Closure {
    depth: HashMap<u32, u32>,
    order: Vec<u32>,
    truncated: bool,
}

fn required_closure(g: &Graph, start: u32, max_depth: u32) -> Closure {
    let mut depth = HashMap::from([(start, 0u32)]);
    let mut order = vec![start];
    let mut frontier = vec![start];
    let mut truncated = false;
    let mut d = 0;
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for &u in &frontier {
            for &e in g.out_edges(u) {
                let edge = g.edge(e);
                if !edge.is_required() || edge.stale || depth.contains_key(&edge.to) {
                    continue;
                }
                if d == max_depth {
                    truncated = true;
                    continue;
                }
                depth.insert(edge.to, d + 1);
                order.push(edge.to);
                next.push(edge.to);
            }
        }
        frontier = next;
        d += 1;
    }
    Closure {
        depth,
        order,
        truncated,
    }
}

/// Composite availability of `service` (see the module docs for the model). `target`, when
/// given, is used for the external error-budget shares.
pub fn composite(
    g: &Graph,
    service: &str,
    target: Option<f64>,
    opts: &AvailabilityOptions,
) -> Result<Composite, GraphError> {
    let start = g.lookup(service)?;
    check_fraction(target)?;
    Ok(composite_at(g, start, target, opts, None))
}

/// [`composite`]'s numbers with the top [`TOP_RISKS`] risks and the counts instead of the
/// listings (cheaper: no per-dependency strings).
pub fn composite_summary(
    g: &Graph,
    service: &str,
    target: Option<f64>,
    opts: &AvailabilityOptions,
) -> Result<CompositeSummary, GraphError> {
    let start = g.lookup(service)?;
    check_fraction(target)?;
    let (c, tally) = composite_parts(g, start, target, opts, None, Detail::Summary);
    Ok(CompositeSummary {
        top_risks: top_risks(g, tally.factors),
        counts: tally.counts,
        service_id: c.service_id,
        composite_availability: c.composite_availability,
        self_availability: c.self_availability,
        bottleneck: c.bottleneck,
        bottleneck_availability: c.bottleneck_availability,
        truncated: c.truncated,
        max_depth: c.max_depth,
        confidence: c.confidence,
        target: c.target,
        detail: Detail::Summary,
    })
}

/// The [`TOP_RISKS`] weakest factors, weakest first, ties by name.
fn top_risks(g: &Graph, mut factors: Vec<Factor>) -> Vec<Risk> {
    let cmp = |x: &Factor, y: &Factor| {
        x.availability
            .total_cmp(&y.availability)
            .then_with(|| x.name(g).cmp(&y.name(g)))
    };
    if factors.len() > TOP_RISKS {
        factors.select_nth_unstable_by(TOP_RISKS - 1, cmp);
        factors.truncate(TOP_RISKS);
    }
    factors.sort_by(cmp);
    factors
        .into_iter()
        .map(|f| Risk {
            factor: f.name(g),
            kind: f.kind,
            availability: f.availability,
            contribution: 1.0 - f.availability,
        })
        .collect()
}

/// [`composite`] with one service's availability replaced by `what_if` (a what-if run,
/// e.g. a counterfactual with a dependency one nine better).
pub fn composite_what_if(
    g: &Graph,
    service: &str,
    target: Option<f64>,
    opts: &AvailabilityOptions,
    what_if: (&str, f64),
) -> Result<Composite, GraphError> {
    let start = g.lookup(service)?;
    let changed = g.lookup(what_if.0)?;
    check_fraction(target)?;
    if !(0.0..=1.0).contains(&what_if.1) {
        return Err(GraphError::Invalid(format!(
            "what-if availability must be a fraction between 0 and 1, got {}",
            what_if.1
        )));
    }
    Ok(composite_at(
        g,
        start,
        target,
        opts,
        Some((changed, what_if.1)),
    ))
}

/// The composite availability of `service`'s hard dependencies alone (composite ÷ the
/// service's own factor) with `dependency` at each of `values`: a what-if run for many
/// values at the cost of one traversal when the dependency is a serial factor of its own
/// (the composite scales with it, as in the impact analysis); otherwise recomputed.
pub fn dependency_bound_what_if(
    g: &Graph,
    service: &str,
    opts: &AvailabilityOptions,
    dependency: &str,
    values: &[f64],
) -> Result<Vec<f64>, GraphError> {
    let start = g.lookup(service)?;
    let x = g.lookup(dependency)?;
    if let Some(v) = values.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(GraphError::Invalid(format!(
            "what-if availability must be a fraction between 0 and 1, got {v}"
        )));
    }
    let ratio = |c: &Composite| {
        if c.self_availability > 0.0 {
            (c.composite_availability / c.self_availability).min(1.0)
        } else {
            c.composite_availability
        }
    };
    let mut scratch = Scratch::new(g, opts);
    let (current, role) = composite_value(g, start, opts, None, x, &mut scratch);
    let (current_x, _) = availability_of(g, x, opts, None);
    let own = {
        // The service's own factor: the weakest member of its component (what composite uses).
        let comps = g.required_components();
        let c = comps.of[start as usize];
        let cl = required_closure(g, start, opts.max_depth);
        cl.order
            .iter()
            .filter(|&&v| comps.of[v as usize] == c)
            .map(|&v| availability_of(g, v, opts, None).0)
            .fold(f64::INFINITY, f64::min)
    };
    values
        .iter()
        .map(|&v| {
            Ok(match role {
                Role::Absent if own > 0.0 => (current / own).min(1.0),
                Role::Serial if current_x > 0.0 && own > 0.0 => {
                    (current / current_x * v / own).min(1.0)
                }
                _ => ratio(&composite_at(g, start, None, opts, Some((x, v)))),
            })
        })
        .collect()
}

fn check_fraction(target: Option<f64>) -> Result<(), GraphError> {
    match target {
        Some(t) if !(t > 0.0 && t < 1.0) => Err(GraphError::Invalid(format!(
            "target must be a fraction strictly between 0 and 1 (e.g. 0.999), got {t}"
        ))),
        _ => Ok(()),
    }
}

fn composite_at(
    g: &Graph,
    start: u32,
    target: Option<f64>,
    opts: &AvailabilityOptions,
    proposed: Option<(u32, f64)>,
) -> Composite {
    composite_parts(g, start, target, opts, proposed, Detail::Full).0
}

/// A factor of the composite: one serial component (named by its weakest member) or one
/// redundancy group.
struct Factor {
    availability: f64,
    kind: RiskKind,
    /// The weakest member (a component) or the parent (a redundancy group).
    node: u32,
    /// The group's name (redundancy groups only).
    group: Option<String>,
}

impl Factor {
    /// The name the bottleneck and the top risks use.
    fn name(&self, g: &Graph) -> String {
        match &self.group {
            Some(grp) => format!("redundancy group '{grp}' of {}", g.id(self.node)),
            None => g.id(self.node).to_owned(),
        }
    }
}

/// What a summary needs besides the composite's numbers.
struct Tally {
    counts: CompositeCounts,
    factors: Vec<Factor>,
}

/// The composite of `start` (the model in the module docs). With [`Detail::Full`] the
/// per-dependency listings are filled in; with [`Detail::Summary`] they stay empty and only
/// counted, and the factors are returned for the top risks. The numbers are the same in
/// both (the same products in the same order).
fn composite_parts(
    g: &Graph,
    start: u32,
    target: Option<f64>,
    opts: &AvailabilityOptions,
    proposed: Option<(u32, f64)>,
    detail: Detail,
) -> (Composite, Tally) {
    let listing = detail == Detail::Full;
    let cl = required_closure(g, start, opts.max_depth);
    let comps = g.required_components();
    let in_closure = |v: u32| cl.depth.contains_key(&v);

    // Component availability: weakest member inside the closure.
    let mut comp_avail: HashMap<u32, (f64, u32)> = HashMap::new();
    let mut per_service: HashMap<u32, (f64, DataSource)> = HashMap::new();
    for &v in &cl.order {
        let (a, src) = availability_of(g, v, opts, proposed);
        per_service.insert(v, (a, src));
        let c = comps.of[v as usize];
        comp_avail
            .entry(c)
            .and_modify(|cur| {
                if a < cur.0 || (a == cur.0 && g.id(v) < g.id(cur.1)) {
                    *cur = (a, v);
                }
            })
            .or_insert((a, v));
    }
    let self_comp = comps.of[start as usize];

    // Redundancy groups: (parent, group) -> member components; and which components are
    // entered by at least one non-grouped required edge from another component.
    let mut groups: BTreeMap<(u32, String), Vec<u32>> = BTreeMap::new();
    let mut serial: HashSet<u32> = HashSet::new();
    let mut excluded: Vec<Excluded> = Vec::new();
    let mut excluded_count = 0usize;
    for &u in &cl.order {
        let mut by_group: HashMap<&str, Vec<u32>> = HashMap::new();
        for &e in g.out_edges(u) {
            let edge = g.edge(e);
            if edge.stale {
                continue;
            }
            if !edge.is_required() {
                excluded_count += 1;
                if !listing {
                    continue;
                }
                let reason = match (edge.mode.as_str(), edge.criticality.as_str()) {
                    ("async", _) => "async dependency: not in the request path",
                    (_, "soft") => "soft dependency: the caller works without it",
                    _ => "degraded dependency: the caller degrades but stays available",
                };
                excluded.push(Excluded {
                    service_id: g.id(edge.to).to_owned(),
                    from: g.id(u).to_owned(),
                    communication_mode: edge.mode.as_str(),
                    criticality: edge.criticality.as_str(),
                    reason: reason.to_owned(),
                });
                continue;
            }
            if !in_closure(edge.to) {
                continue; // beyond the depth limit
            }
            match &edge.redundancy_group {
                Some(grp) => by_group.entry(grp.as_str()).or_default().push(edge.to),
                None => {
                    let c = comps.of[edge.to as usize];
                    if c != comps.of[u as usize] {
                        serial.insert(c);
                    }
                }
            }
        }
        for (grp, members) in by_group {
            if members.len() >= 2 {
                let mut cs: Vec<u32> = members.iter().map(|&m| comps.of[m as usize]).collect();
                cs.sort_unstable();
                cs.dedup();
                groups.insert((u, grp.to_owned()), cs);
            } else {
                for m in members {
                    let c = comps.of[m as usize];
                    if c != comps.of[u as usize] {
                        serial.insert(c);
                    }
                }
            }
        }
    }
    serial.remove(&self_comp);

    let comp_a = |c: u32| {
        comp_avail
            .get(&c)
            .map(|x| x.0)
            .unwrap_or(opts.default_availability)
    };
    let self_availability = comp_a(self_comp);
    let mut composite = self_availability;
    let mut factors: Vec<Factor> = Vec::with_capacity(serial.len() + groups.len());
    let mut serial_sorted: Vec<u32> = serial.iter().copied().collect();
    serial_sorted.sort_unstable();
    for &c in &serial_sorted {
        let a = comp_a(c);
        composite *= a;
        if let Some(&(_, v)) = comp_avail.get(&c) {
            factors.push(Factor {
                availability: a,
                kind: if comps.cyclic[c as usize] {
                    RiskKind::Cycle
                } else {
                    RiskKind::Dependency
                },
                node: v,
                group: None,
            });
        }
    }
    let mut redundancy_groups = Vec::new();
    for ((parent, grp), cs) in &groups {
        let a = 1.0 - cs.iter().map(|&c| 1.0 - comp_a(c)).product::<f64>();
        composite *= a;
        factors.push(Factor {
            availability: a,
            kind: RiskKind::RedundancyGroup,
            node: *parent,
            group: Some(grp.clone()),
        });
        if listing {
            // By service id: an order of the answer's own, not of the component numbering.
            let mut members: Vec<String> = cs
                .iter()
                .filter_map(|c| comp_avail.get(c).map(|&(_, v)| g.id(v).to_owned()))
                .collect();
            members.sort_unstable();
            redundancy_groups.push(RedundancyGroup {
                parent: g.id(*parent).to_owned(),
                group: grp.clone(),
                members,
                availability: a,
            });
        }
    }
    // The bottleneck: the weakest factor, ties broken by name.
    let bottleneck = factors
        .iter()
        .map(|f| (f.availability, f))
        .min_by(|(a, x), (b, y)| a.total_cmp(b).then_with(|| x.name(g).cmp(&y.name(g))))
        .map(|(a, f)| (a, f.name(g)));

    let mut hard_dependencies = Vec::new();
    let mut external = Vec::new();
    let mut missing_data = Vec::new();
    let mut counts = CompositeCounts {
        closure: cl.order.len(),
        hard_dependencies: cl.order.len().saturating_sub(1),
        redundancy_groups: groups.len(),
        supernodes: 0,
        external: 0,
        external_high_risk: 0,
        excluded: excluded_count,
        missing_data: 0,
    };
    for &v in &cl.order {
        let (a, src) = per_service[&v];
        if src == DataSource::Missing {
            counts.missing_data += 1;
            if listing {
                missing_data.push(g.id(v).to_owned());
            }
        }
        if v == start {
            continue;
        }
        let kind = g.service(v).kind;
        if listing {
            hard_dependencies.push(HardDependency {
                service_id: g.id(v).to_owned(),
                depth: cl.depth[&v],
                availability: a,
                source: src,
                kind: if kind == Kind::External {
                    "external"
                } else {
                    "internal"
                },
            });
        }
        if kind == Kind::External {
            let share = target.map(|t| (1.0 - a) / (1.0 - t));
            let high_risk = share.map(|s| s > opts.high_risk_share);
            counts.external += 1;
            if high_risk == Some(true) {
                counts.external_high_risk += 1;
            }
            if listing {
                external.push(ExternalUse {
                    service_id: g.id(v).to_owned(),
                    availability_used: a,
                    source: src,
                    error_budget_share: share,
                    high_risk,
                });
            }
        }
    }
    let mut supernodes = Vec::new();
    let mut seen_comp = HashSet::new();
    for &v in &cl.order {
        let c = comps.of[v as usize];
        if comps.cyclic[c as usize] && seen_comp.insert(c) {
            counts.supernodes += 1;
            if !listing {
                continue;
            }
            let mut members: Vec<String> = comps.members[c as usize]
                .iter()
                .filter(|&&m| in_closure(m))
                .map(|&m| g.id(m).to_owned())
                .collect();
            members.sort();
            let (a, w) = comp_avail[&c];
            supernodes.push(Supernode {
                members,
                availability: a,
                weakest: g.id(w).to_owned(),
            });
        }
    }
    let missing_fraction = counts.missing_data as f64 / cl.order.len().max(1) as f64;
    let confidence =
        ((1.0 - 0.5 * missing_fraction) * if cl.truncated { 0.8 } else { 1.0 }).clamp(0.0, 1.0);
    excluded.sort_by(|a, b| (&a.from, &a.service_id).cmp(&(&b.from, &b.service_id)));
    let composite = Composite {
        service_id: g.id(start).to_owned(),
        composite_availability: composite,
        self_availability,
        bottleneck_availability: bottleneck.as_ref().map(|b| b.0),
        bottleneck: bottleneck.map(|b| b.1),
        hard_dependencies,
        redundancy_groups,
        excluded,
        external,
        supernodes,
        truncated: cl.truncated,
        max_depth: opts.max_depth,
        confidence,
        missing_data,
        target,
    };
    (composite, Tally { counts, factors })
}

/// Reusable buffers for [`composite_value`], so that an impact analysis over thousands of
/// upstream services allocates nothing per service; and what it reads of the graph in a
/// compact form: the required fresh edges only (CSR of targets, redundancy groups as
/// small integers in the order of their names) and every service's availability.
struct Scratch {
    req_offsets: Vec<u32>,
    req_to: Vec<u32>,
    /// The edge's redundancy group (`NO_GROUP` for none); ids sort as the names do.
    req_group: Vec<u32>,
    base: Vec<f64>,
    depth: Vec<u32>,
    touched: Vec<u32>,
    comp_gen: Vec<u32>,
    comp_min: Vec<f64>,
    serial_gen: Vec<u32>,
    group_member_gen: Vec<u32>,
    generation: u32,
    frontier: Vec<u32>,
    next: Vec<u32>,
    comps_seen: Vec<u32>,
    /// This service's grouped edges (group, target), and every group of the closure
    /// (a range of `group_members`) for after the walk.
    by_group: Vec<(u32, u32)>,
    group_members: Vec<u32>,
    group_ranges: Vec<(u32, u32)>,
}

const NO_GROUP: u32 = u32::MAX;

impl Scratch {
    fn new(g: &Graph, opts: &AvailabilityOptions) -> Self {
        let n = g.len();
        let mut names: Vec<&str> = (0..g.edge_count() as u32)
            .filter_map(|e| g.edge(e).redundancy_group.as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut req_offsets = Vec::with_capacity(n + 1);
        let mut req_to = Vec::new();
        let mut req_group = Vec::new();
        req_offsets.push(0);
        for u in 0..n as u32 {
            for &e in g.out_edges(u) {
                let edge = g.edge(e);
                if edge.is_required() && !edge.stale {
                    req_to.push(edge.to);
                    req_group.push(match edge.redundancy_group.as_deref() {
                        // Found: the names were collected from these very edges.
                        Some(grp) => names.binary_search(&grp).map_or(NO_GROUP, |i| i as u32),
                        None => NO_GROUP,
                    });
                }
            }
            req_offsets.push(req_to.len() as u32);
        }
        Self {
            req_offsets,
            req_to,
            req_group,
            base: (0..n as u32)
                .map(|v| availability_of(g, v, opts, None).0)
                .collect(),
            depth: vec![u32::MAX; n],
            touched: Vec::new(),
            comp_gen: vec![0; n],
            comp_min: vec![1.0; n],
            serial_gen: vec![0; n],
            group_member_gen: vec![0; n],
            generation: 0,
            frontier: Vec::new(),
            next: Vec::new(),
            comps_seen: Vec::new(),
            by_group: Vec::new(),
            group_members: Vec::new(),
            group_ranges: Vec::new(),
        }
    }

    fn required(&self, u: u32) -> std::ops::Range<usize> {
        self.req_offsets[u as usize] as usize..self.req_offsets[u as usize + 1] as usize
    }
}

/// How the watched (changed) service takes part in a closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Absent,
    /// A serial factor of its own: the composite scales with its availability.
    Serial,
    /// Inside a supernode or a redundancy group, or the service itself: recompute.
    Complex,
}

/// `u`'s required edges into the closure: the ungrouped ones (and groups of one) mark
/// their component serial at once; groups of two or more are kept for after the walk,
/// when every component's weakest member is known.
fn classify_edges(s: &mut Scratch, comps: &super::model::Components, u: u32, gen: u32) {
    let cu = comps.of[u as usize];
    s.by_group.clear();
    for i in s.required(u) {
        let to = s.req_to[i];
        if s.depth[to as usize] == u32::MAX {
            continue; // beyond the depth limit
        }
        match s.req_group[i] {
            NO_GROUP => {
                let c = comps.of[to as usize];
                if c != cu {
                    s.serial_gen[c as usize] = gen;
                }
            }
            grp => s.by_group.push((grp, to)),
        }
    }
    if s.by_group.is_empty() {
        return;
    }
    s.by_group.sort_unstable();
    let mut a = 0;
    while a < s.by_group.len() {
        let mut b = a;
        while b < s.by_group.len() && s.by_group[b].0 == s.by_group[a].0 {
            b += 1;
        }
        if b - a >= 2 {
            let from = s.group_members.len() as u32;
            for k in a..b {
                let m = s.by_group[k].1;
                s.group_members.push(comps.of[m as usize]);
            }
            s.group_ranges.push((from, s.group_members.len() as u32));
        } else {
            let c = comps.of[s.by_group[a].1 as usize];
            if c != cu {
                s.serial_gen[c as usize] = gen;
            }
        }
        a = b;
    }
}

/// The composite number alone (the model of [`composite`]), with buffers reused, and the
/// role `watch` plays in the closure. One walk over the required edges: a service's edges
/// are classified when it is expanded (their targets are then all in the closure); the
/// services at the depth limit, which are not expanded, after the walk.
fn composite_value(
    g: &Graph,
    start: u32,
    opts: &AvailabilityOptions,
    proposed: Option<(u32, f64)>,
    watch: u32,
    s: &mut Scratch,
) -> (f64, Role) {
    let comps = g.required_components();
    for &v in &s.touched {
        s.depth[v as usize] = u32::MAX;
    }
    s.touched.clear();
    s.generation = s.generation.wrapping_add(1);
    if s.generation == 0 {
        s.comp_gen.iter_mut().for_each(|x| *x = 0);
        s.serial_gen.iter_mut().for_each(|x| *x = 0);
        s.group_member_gen.iter_mut().for_each(|x| *x = 0);
        s.generation = 1;
    }
    let gen = s.generation;
    s.comps_seen.clear();
    s.group_members.clear();
    s.group_ranges.clear();
    let avail = |s: &Scratch, v: u32| match proposed {
        Some((p, a)) if p == v => a,
        _ => s.base[v as usize],
    };
    let visit = |s: &mut Scratch, v: u32, d: u32| {
        s.depth[v as usize] = d;
        s.touched.push(v);
        let a = avail(s, v);
        let c = comps.of[v as usize] as usize;
        if s.comp_gen[c] != gen {
            s.comp_gen[c] = gen;
            s.comp_min[c] = a;
            s.comps_seen.push(c as u32);
        } else if a < s.comp_min[c] {
            s.comp_min[c] = a;
        }
    };
    visit(s, start, 0);
    s.frontier.clear();
    s.frontier.push(start);
    let mut d = 0;
    while !s.frontier.is_empty() && d < opts.max_depth {
        s.next.clear();
        for i in 0..s.frontier.len() {
            let u = s.frontier[i];
            for k in s.required(u) {
                let to = s.req_to[k];
                if s.depth[to as usize] == u32::MAX {
                    visit(s, to, d + 1);
                    s.next.push(to);
                }
            }
            classify_edges(s, comps, u, gen);
        }
        std::mem::swap(&mut s.frontier, &mut s.next);
        d += 1;
    }
    // At the depth limit: not expanded, but their edges into the closure count.
    for i in 0..s.frontier.len() {
        let u = s.frontier[i];
        classify_edges(s, comps, u, gen);
    }
    let mut groups_product = 1.0;
    for gi in 0..s.group_ranges.len() {
        let (from, to) = s.group_ranges[gi];
        let cs = &mut s.group_members[from as usize..to as usize];
        cs.sort_unstable();
        let mut fail = 1.0;
        let mut prev = None;
        for &c in cs.iter() {
            if prev == Some(c) {
                continue;
            }
            prev = Some(c);
            fail *= 1.0 - s.comp_min[c as usize];
            s.group_member_gen[c as usize] = gen;
        }
        groups_product *= 1.0 - fail;
    }
    let self_comp = comps.of[start as usize];
    let mut value = s.comp_min[self_comp as usize];
    for &c in &s.comps_seen {
        if c != self_comp && s.serial_gen[c as usize] == gen {
            value *= s.comp_min[c as usize];
        }
    }
    value *= groups_product;
    let role = if s.depth[watch as usize] == u32::MAX {
        Role::Absent
    } else {
        let c = comps.of[watch as usize] as usize;
        if comps.cyclic[c] || s.group_member_gen[c] == gen || c == self_comp as usize {
            Role::Complex
        } else {
            Role::Serial
        }
    };
    (value, role)
}

/// What a critical dependency would need for the target to be reachable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeededDependency {
    pub service_id: String,
    pub current: f64,
    pub needed: f64,
}

/// Whether a target is achievable given the dependency chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSlo {
    pub service_id: String,
    pub target: f64,
    pub achievable: bool,
    pub bound: f64,
    pub message: String,
    /// The "extra nine" rule: each critical dependency needs `1 − (1 − target)/10`.
    pub dependency_target: f64,
    pub dependencies_below: Vec<NeededDependency>,
    pub composite: Composite,
}

fn pct(x: f64) -> String {
    let s = format!("{:.4}", x * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Checks a desired availability target against the composite bound (FR-3).
pub fn check_slo(
    g: &Graph,
    service: &str,
    target: f64,
    opts: &AvailabilityOptions,
) -> Result<CheckSlo, GraphError> {
    check_fraction(Some(target))?;
    let c = composite(g, service, Some(target), opts)?;
    let dependency_target = 1.0 - (1.0 - target) / 10.0;
    let dependencies_below: Vec<NeededDependency> = c
        .hard_dependencies
        .iter()
        .filter(|d| d.availability < dependency_target)
        .map(|d| NeededDependency {
            service_id: d.service_id.clone(),
            current: d.availability,
            needed: dependency_target,
        })
        .collect();
    let achievable = c.composite_availability >= target;
    let message = if achievable {
        format!(
            "The target of {} is achievable: the composite availability bound is {} given the current dependency chain.",
            pct(target),
            pct(c.composite_availability)
        )
    } else {
        format!(
            "The desired target of {} is unachievable. Composite availability bound is {} given current dependency chain. \
             To achieve {}, each critical dependency must be at least {} (the 10x rule).",
            pct(target),
            pct(c.composite_availability),
            pct(target),
            pct(dependency_target)
        )
    };
    Ok(CheckSlo {
        service_id: service.to_owned(),
        target,
        achievable,
        bound: c.composite_availability,
        message,
        dependency_target,
        dependencies_below,
        composite: c,
    })
}

/// One upstream service in an impact analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpactRow {
    pub service_id: String,
    pub relationship: &'static str,
    pub depth: u32,
    pub current_composite_availability: f64,
    pub projected_composite_availability: f64,
    pub delta: f64,
    pub current_slo_target: Option<f64>,
    pub slo_at_risk: Option<bool>,
    pub risk_detail: Option<String>,
    pub via_cycle: bool,
}

/// The result of an impact analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    pub service_id: String,
    pub current_availability: f64,
    pub proposed_availability: f64,
    pub impacted_services: Vec<ImpactRow>,
    pub total_impacted: usize,
    pub slos_at_risk: usize,
    pub recommendation: String,
}

/// The default answer of an impact analysis: the totals of [`Impact`] with its first
/// [`TOP_RISKS`] rows (the most negative deltas) instead of every row, and the first
/// [`TOP_RISKS`] rows whose SLO is at risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpactSummary {
    pub service_id: String,
    pub current_availability: f64,
    pub proposed_availability: f64,
    pub impacted_services: Vec<ImpactRow>,
    pub slos_at_risk_services: Vec<ImpactRow>,
    pub total_impacted: usize,
    pub slos_at_risk: usize,
    pub recommendation: String,
}

impl Impact {
    /// The summary of this analysis (see [`ImpactSummary`]).
    pub fn summary(self) -> ImpactSummary {
        let slos_at_risk_services: Vec<ImpactRow> = self
            .impacted_services
            .iter()
            .filter(|r| r.slo_at_risk == Some(true))
            .take(TOP_RISKS)
            .cloned()
            .collect();
        let mut impacted_services = self.impacted_services;
        impacted_services.truncate(TOP_RISKS);
        ImpactSummary {
            service_id: self.service_id,
            current_availability: self.current_availability,
            proposed_availability: self.proposed_availability,
            impacted_services,
            slos_at_risk_services,
            total_impacted: self.total_impacted,
            slos_at_risk: self.slos_at_risk,
            recommendation: self.recommendation,
        }
    }
}

/// What impact analyses of one graph reuse from one call to the next: the compact form of
/// the graph they walk, and every service's current composite once it has been computed
/// (it depends on the graph and the options only, not on the proposal). Bound to one
/// graph: its holder drops it whenever the graph changes (`pg_ext`'s cached snapshot
/// holds one per version). It resets itself when the options or the graph's size differ.
#[derive(Default)]
pub struct AvailabilityCache {
    scratch: Option<Scratch>,
    key: Option<(AvailabilityOptions, usize, usize)>,
    /// The current composite per node; NaN until computed.
    current: Vec<f64>,
}

impl AvailabilityCache {
    fn prepare(&mut self, g: &Graph, opts: &AvailabilityOptions) {
        let key = (*opts, g.len(), g.edge_count());
        if self.key != Some(key) || self.scratch.is_none() {
            self.scratch = Some(Scratch::new(g, opts));
            self.current = vec![f64::NAN; g.len()];
            self.key = Some(key);
        }
    }

    /// Services whose current composite is held.
    pub fn composites_held(&self) -> usize {
        self.current.iter().filter(|v| !v.is_nan()).count()
    }
}

/// Where `x` sits in each closure, when that is decidable without walking them: when `x`'s
/// component is acyclic and no redundancy group has a member in it, `x` is a serial
/// factor of exactly the closures within `max_depth` required hops of it (one reverse
/// walk from `x` finds them). `None` otherwise: each closure's walk decides.
fn serial_reach(g: &Graph, x: u32, opts: &AvailabilityOptions, s: &Scratch) -> Option<Vec<bool>> {
    let comps = g.required_components();
    let cx = comps.of[x as usize];
    if comps.cyclic[cx as usize] {
        return None;
    }
    let grouped = (0..s.req_to.len())
        .any(|i| s.req_group[i] != NO_GROUP && comps.of[s.req_to[i] as usize] == cx);
    if grouped {
        return None;
    }
    let mut reach = vec![false; g.len()];
    reach[x as usize] = true;
    let mut frontier = vec![x];
    let mut next = Vec::new();
    for _ in 0..opts.max_depth {
        if frontier.is_empty() {
            break;
        }
        next.clear();
        for &v in &frontier {
            for &e in g.in_edges(v) {
                let edge = g.edge(e);
                if edge.is_required() && !edge.stale && !reach[edge.from as usize] {
                    reach[edge.from as usize] = true;
                    next.push(edge.from);
                }
            }
        }
        std::mem::swap(&mut frontier, &mut next);
    }
    Some(reach)
}

/// Every upstream service of `service` (direct and transitive, over fresh edges), with
/// its composite availability now and with `proposed` as the service's availability;
/// sorted by delta, most negative first. `slo_targets` maps service ids to targets.
/// Costs up to upstream services × closure size: polls `cancel` after each service.
pub fn impact_analysis(
    g: &Graph,
    service: &str,
    proposed: f64,
    slo_targets: &HashMap<String, f64>,
    opts: &AvailabilityOptions,
    cancel: &mut Cancel,
) -> Result<Impact, GraphError> {
    impact_analysis_cached(
        g,
        service,
        proposed,
        slo_targets,
        opts,
        cancel,
        &mut AvailabilityCache::default(),
    )
}

/// [`impact_analysis`] reusing `cache` (see [`AvailabilityCache`]), which must belong to
/// `g`. The answer is the same; a current composite computed once is not computed again,
/// and where `x` is a plain serial factor (see `serial_reach`) its projection is the
/// current composite scaled, with no walk at all.
pub fn impact_analysis_cached(
    g: &Graph,
    service: &str,
    proposed: f64,
    slo_targets: &HashMap<String, f64>,
    opts: &AvailabilityOptions,
    cancel: &mut Cancel,
    cache: &mut AvailabilityCache,
) -> Result<Impact, GraphError> {
    let x = g.lookup(service)?;
    if !(0.0..=1.0).contains(&proposed) {
        return Err(GraphError::Invalid(format!(
            "proposed availability must be a fraction between 0 and 1, got {proposed}"
        )));
    }
    let (current_x, _) = availability_of(g, x, opts, None);
    let upstream = traverse(
        g,
        x,
        Direction::Upstream,
        super::traverse::MAX_DEPTH,
        false,
        true,
        cancel,
    )?;
    let comps = g.required_components();
    let mut rows = Vec::with_capacity(upstream.len());
    cache.prepare(g, opts);
    let AvailabilityCache {
        scratch: Some(scratch),
        current: memo,
        ..
    } = cache
    else {
        return Err(GraphError::Invalid(
            "internal error: the availability cache was not prepared".into(),
        ));
    };
    let reach = serial_reach(g, x, opts, scratch);
    for r in &upstream {
        let u = r.node as usize;
        let known = memo[u];
        let (current, role) = match &reach {
            Some(reach) if !known.is_nan() => {
                cancel.tick(1)?;
                let role = if !reach[u] {
                    Role::Absent
                } else if comps.of[u] == comps.of[x as usize] {
                    Role::Complex
                } else {
                    Role::Serial
                };
                (known, role)
            }
            _ => {
                let (value, role) = composite_value(g, r.node, opts, None, x, scratch);
                cancel.tick(1 + scratch.touched.len())?;
                memo[u] = value;
                (value, role)
            }
        };
        let projected = match role {
            Role::Absent => current,
            // x is one serial factor of its own: the composite scales with it.
            Role::Serial if current_x > 0.0 => current / current_x * proposed,
            _ => {
                let value = composite_value(g, r.node, opts, Some((x, proposed)), x, scratch).0;
                cancel.tick(1 + scratch.touched.len())?;
                value
            }
        };
        let target = slo_targets.get(g.id(r.node)).copied();
        let at_risk = target.map(|t| projected < t);
        let risk_detail = match (target, at_risk) {
            (Some(t), Some(true)) => Some(format!(
                "Composite drops below SLO target ({} > {})",
                pct(t),
                pct(projected)
            )),
            _ => None,
        };
        rows.push(ImpactRow {
            service_id: g.id(r.node).to_owned(),
            relationship: if r.depth == 1 {
                "upstream"
            } else {
                "upstream (transitive)"
            },
            depth: r.depth,
            current_composite_availability: current,
            projected_composite_availability: projected,
            delta: projected - current,
            current_slo_target: target,
            slo_at_risk: at_risk,
            risk_detail,
            via_cycle: comps.cyclic[comps.of[r.node as usize] as usize] || role == Role::Complex,
        });
    }
    rows.sort_by(|a, b| {
        a.delta
            .total_cmp(&b.delta)
            .then_with(|| a.service_id.cmp(&b.service_id))
    });
    let at_risk = rows.iter().filter(|r| r.slo_at_risk == Some(true)).count();
    let verb = if proposed < current_x {
        "Reducing"
    } else {
        "Changing"
    };
    let recommendation = format!(
        "{verb} {service} to {} puts {at_risk} upstream service{} at risk of SLO breach ({} upstream in total).",
        pct(proposed),
        if at_risk == 1 { "" } else { "s" },
        rows.len()
    );
    Ok(Impact {
        service_id: service.to_owned(),
        current_availability: current_x,
        proposed_availability: proposed,
        total_impacted: rows.len(),
        slos_at_risk: at_risk,
        impacted_services: rows,
        recommendation,
    })
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{obs, svc};
    use super::super::model::{Criticality, Graph, Kind, Mode, Service};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn impact_analysis_stops_when_the_check_says_so() {
        // 4,000 services depend on x, which depends on a chain of 9: tens of thousands of
        // units of work, so many checks.
        let mut services: Vec<Service> = vec![svc("x", Some(0.999))];
        let mut o = Vec::new();
        for i in 0..4000 {
            services.push(svc(&format!("u{i:04}"), Some(0.999)));
            o.push(obs(&format!("u{i:04}"), "x"));
        }
        let mut prev = "x".to_string();
        for i in 0..9 {
            let d = format!("d{i}");
            services.push(svc(&d, Some(0.999)));
            o.push(obs(&prev, &d));
            prev = d;
        }
        let g = Graph::build(services, &o);
        let full = impact_analysis(
            &g,
            "x",
            0.99,
            &HashMap::new(),
            &opts(),
            &mut Cancel::never(),
        )
        .unwrap();
        assert_eq!(full.total_impacted, 4000);
        let calls = std::cell::Cell::new(0u32);
        let mut check = || {
            calls.set(calls.get() + 1);
            if calls.get() >= 3 {
                Err(crate::cancel::Canceled)
            } else {
                Ok(())
            }
        };
        let r = impact_analysis(
            &g,
            "x",
            0.99,
            &HashMap::new(),
            &opts(),
            &mut Cancel::new(&mut check),
        );
        assert_eq!(r, Err(GraphError::Canceled(crate::cancel::Canceled)));
        assert_eq!(calls.get(), 3);
    }

    const EPS: f64 = 1e-12;
    fn opts() -> AvailabilityOptions {
        AvailabilityOptions::default()
    }

    #[test]
    fn serial_chain() {
        let g = Graph::build(
            vec![
                svc("a", Some(0.999)),
                svc("b", Some(0.99)),
                svc("c", Some(0.995)),
            ],
            &[obs("a", "b"), obs("b", "c")],
        );
        let c = composite(&g, "a", None, &opts()).unwrap();
        assert!((c.composite_availability - 0.999 * 0.99 * 0.995).abs() < EPS);
        assert_eq!(c.self_availability, 0.999);
        assert_eq!(c.bottleneck.as_deref(), Some("b"));
        assert_eq!(c.confidence, 1.0);
        assert!(!c.truncated);
    }

    #[test]
    fn diamond_counts_shared_dependency_once() {
        let g = Graph::build(
            vec![
                svc("a", Some(0.999)),
                svc("b", Some(0.998)),
                svc("c", Some(0.997)),
                svc("d", Some(0.99)),
            ],
            &[obs("a", "b"), obs("a", "c"), obs("b", "d"), obs("c", "d")],
        );
        let c = composite(&g, "a", None, &opts()).unwrap();
        assert!((c.composite_availability - 0.999 * 0.998 * 0.997 * 0.99).abs() < EPS);
    }

    #[test]
    fn redundancy_group_is_parallel() {
        let mut r1 = obs("a", "r1");
        r1.redundancy_group = Some("db".into());
        let mut r2 = obs("a", "r2");
        r2.redundancy_group = Some("db".into());
        let g = Graph::build(
            vec![
                svc("a", Some(0.999)),
                svc("r1", Some(0.99)),
                svc("r2", Some(0.98)),
            ],
            &[r1, r2],
        );
        let c = composite(&g, "a", None, &opts()).unwrap();
        let want = 0.999 * (1.0 - (1.0 - 0.99) * (1.0 - 0.98));
        assert!((c.composite_availability - want).abs() < EPS);
        assert_eq!(c.redundancy_groups.len(), 1);
    }

    #[test]
    fn soft_degraded_async_are_excluded_and_listed() {
        let mut soft = obs("a", "s");
        soft.criticality = Criticality::Soft;
        let mut deg = obs("a", "d");
        deg.criticality = Criticality::Degraded;
        let mut asy = obs("a", "q");
        asy.mode = Mode::Async;
        let g = Graph::build(
            vec![
                svc("a", Some(0.999)),
                svc("s", Some(0.5)),
                svc("d", Some(0.5)),
                svc("q", Some(0.5)),
                svc("h", Some(0.99)),
            ],
            &[soft, deg, asy, obs("a", "h")],
        );
        let c = composite(&g, "a", None, &opts()).unwrap();
        assert!((c.composite_availability - 0.999 * 0.99).abs() < EPS);
        let ex: Vec<(&str, &str)> = c
            .excluded
            .iter()
            .map(|e| (e.service_id.as_str(), e.criticality))
            .collect();
        assert_eq!(ex.len(), 3);
        assert!(c
            .excluded
            .iter()
            .any(|e| e.service_id == "q" && e.reason.starts_with("async")));
        assert!(c
            .excluded
            .iter()
            .any(|e| e.service_id == "s" && e.reason.starts_with("soft")));
        assert!(c
            .excluded
            .iter()
            .any(|e| e.service_id == "d" && e.reason.starts_with("degraded")));
    }

    #[test]
    fn three_cycle_contracts_to_weakest_member() {
        let g = Graph::build(
            vec![
                svc("a", Some(0.999)),
                svc("x", Some(0.995)),
                svc("y", Some(0.99)),
                svc("z", Some(0.998)),
            ],
            &[obs("a", "x"), obs("x", "y"), obs("y", "z"), obs("z", "x")],
        );
        let c = composite(&g, "a", None, &opts()).unwrap();
        assert!((c.composite_availability - 0.999 * 0.99).abs() < EPS);
        assert_eq!(c.supernodes.len(), 1);
        assert_eq!(c.supernodes[0].members, vec!["x", "y", "z"]);
        assert_eq!(c.supernodes[0].weakest, "y");
    }

    #[test]
    fn external_published_sla_is_adjusted_and_budget_share_flagged() {
        let ext = Service {
            id: "stripe".into(),
            kind: Kind::External,
            availability: None,
            published_sla: Some(0.9999),
        };
        let g = Graph::build(vec![svc("a", Some(1.0)), ext], &[obs("a", "stripe")]);
        let c = composite(&g, "a", Some(0.999), &opts()).unwrap();
        assert!((c.composite_availability - 0.9989).abs() < 1e-9);
        let e = &c.external[0];
        assert_eq!(e.source, DataSource::PublishedSlaAdjusted);
        assert!((e.availability_used - 0.9989).abs() < 1e-9);
        // (1 - 0.9989) / (1 - 0.999) = 1.1
        assert!((e.error_budget_share.unwrap() - 1.1).abs() < 1e-6);
        assert_eq!(e.high_risk, Some(true));
    }

    #[test]
    fn truncated_closure_lowers_confidence() {
        let services: Vec<Service> = (0..13)
            .map(|i| svc(&format!("s{i:02}"), Some(0.999)))
            .collect();
        let edges: Vec<_> = (0..12)
            .map(|i| obs(&format!("s{i:02}"), &format!("s{:02}", i + 1)))
            .collect();
        let g = Graph::build(services, &edges);
        let c = composite(&g, "s00", None, &opts()).unwrap();
        assert!(c.truncated);
        assert_eq!(c.hard_dependencies.len(), 10);
        assert!((c.composite_availability - 0.999f64.powi(11)).abs() < EPS);
        assert!((c.confidence - 0.8).abs() < EPS);
    }

    #[test]
    fn missing_data_is_listed_and_lowers_confidence() {
        let g = Graph::build(
            vec![svc("a", Some(0.999)), svc("b", None)],
            &[obs("a", "b")],
        );
        let c = composite(&g, "a", None, &opts()).unwrap();
        assert_eq!(c.missing_data, vec!["b"]);
        assert!((c.composite_availability - 0.999 * 0.999).abs() < EPS);
        assert!((c.confidence - 0.75).abs() < EPS);
    }

    #[test]
    fn check_slo_extra_nine() {
        let g = Graph::build(
            vec![svc("a", Some(0.9999)), svc("b", Some(0.997))],
            &[obs("a", "b")],
        );
        let r = check_slo(&g, "a", 0.9999, &opts()).unwrap();
        assert!(!r.achievable);
        assert!((r.dependency_target - 0.99999).abs() < 1e-12);
        assert_eq!(r.dependencies_below.len(), 1);
        assert!(r.message.contains("unachievable"), "{}", r.message);
        let ok = check_slo(&g, "a", 0.99, &opts()).unwrap();
        assert!(ok.achievable);
        assert!(check_slo(&g, "a", 1.5, &opts()).is_err());
    }

    #[test]
    fn impact_analysis_on_known_topology() {
        // gw -> checkout -> payment ; web -> checkout ; report -(soft)-> payment
        let mut soft = obs("report", "payment");
        soft.criticality = Criticality::Soft;
        let g = Graph::build(
            vec![
                svc("gw", Some(0.9999)),
                svc("web", Some(0.9999)),
                svc("checkout", Some(0.9995)),
                svc("payment", Some(0.999)),
                svc("report", Some(0.999)),
            ],
            &[
                obs("gw", "checkout"),
                obs("web", "checkout"),
                obs("checkout", "payment"),
                soft,
            ],
        );
        let slos = HashMap::from([("checkout".to_string(), 0.999), ("gw".to_string(), 0.99)]);
        let r =
            impact_analysis(&g, "payment", 0.995, &slos, &opts(), &mut Cancel::never()).unwrap();
        assert_eq!(r.total_impacted, 4);
        let row = |id: &str| {
            r.impacted_services
                .iter()
                .find(|x| x.service_id == id)
                .unwrap()
        };
        let co = row("checkout");
        assert!((co.current_composite_availability - 0.9995 * 0.999).abs() < EPS);
        assert!((co.projected_composite_availability - 0.9995 * 0.995).abs() < EPS);
        assert_eq!(co.slo_at_risk, Some(true));
        assert_eq!(co.relationship, "upstream");
        let gw = row("gw");
        assert!((gw.projected_composite_availability - 0.9999 * 0.9995 * 0.995).abs() < EPS);
        assert_eq!(gw.slo_at_risk, Some(false));
        assert_eq!(gw.relationship, "upstream (transitive)");
        assert_eq!(row("web").slo_at_risk, None);
        assert_eq!(row("report").delta, 0.0);
        // Sorted by delta, most negative first.
        assert!(r
            .impacted_services
            .windows(2)
            .all(|w| w[0].delta <= w[1].delta));
        assert_eq!(r.slos_at_risk, 1);
    }

    fn dag_strategy() -> impl Strategy<Value = (usize, Vec<(usize, usize)>, Vec<f64>)> {
        (2usize..12).prop_flat_map(|n| {
            (
                Just(n),
                proptest::collection::vec((0..n, 0..n), 0..30)
                    .prop_map(|es| es.into_iter().filter(|(a, b)| a < b).collect::<Vec<_>>()),
                proptest::collection::vec(0.9f64..1.0, n),
            )
        })
    }

    /// Services s00.. with `avail`, and the edges, every one whose `groups` entry is 1 in
    /// redundancy group "g".
    fn grouped_graph(n: usize, edges: &[(usize, usize)], avail: &[f64], groups: &[u8]) -> Graph {
        let services: Vec<Service> = (0..n)
            .map(|i| svc(&format!("s{i:02}"), Some(avail[i])))
            .collect();
        let o: Vec<_> = edges
            .iter()
            .enumerate()
            .map(|(k, &(a, b))| {
                let mut e = obs(&format!("s{a:02}"), &format!("s{b:02}"));
                if groups[k % groups.len()] == 1 {
                    e.redundancy_group = Some("g".into());
                }
                e
            })
            .collect();
        Graph::build(services, &o)
    }

    /// The fast composite (`composite_value`) equals the full report's from every start.
    fn fast_equals_full(g: &Graph, depth: u32) -> Result<(), TestCaseError> {
        let opts = AvailabilityOptions {
            max_depth: depth,
            ..AvailabilityOptions::default()
        };
        let mut s = Scratch::new(g, &opts);
        for start in 0..g.len() as u32 {
            let full = composite_at(g, start, None, &opts, None).composite_availability;
            let (fast, _) = composite_value(g, start, &opts, None, 0, &mut s);
            prop_assert!(
                (full - fast).abs() < 1e-12,
                "start {start}: {full} vs {fast}"
            );
        }
        Ok(())
    }

    /// `dependency_bound_what_if` equals a full what-if recompute of s00's composite.
    fn what_if_equals_full(
        g: &Graph,
        n: usize,
        x_seed: usize,
        p: f64,
    ) -> Result<(), TestCaseError> {
        let xid = format!("s{:02}", x_seed % n);
        let got = dependency_bound_what_if(g, "s00", &opts(), &xid, &[p]).unwrap()[0];
        let w = composite_what_if(g, "s00", None, &opts(), (&xid, p)).unwrap();
        let want = (w.composite_availability / w.self_availability).min(1.0);
        prop_assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        Ok(())
    }

    /// Any directed graph without self-loops: cycles of every length, several SCCs.
    fn cyclic_strategy() -> impl Strategy<Value = (usize, Vec<(usize, usize)>, Vec<f64>)> {
        (2usize..12).prop_flat_map(|n| {
            (
                Just(n),
                proptest::collection::vec((0..n, 0..n), 0..40)
                    .prop_map(|es| es.into_iter().filter(|(a, b)| a != b).collect::<Vec<_>>()),
                proptest::collection::vec(0.9f64..1.0, n),
            )
        })
    }

    #[test]
    fn detail_parses_the_allowed_values_only() {
        assert_eq!("summary".parse::<Detail>(), Ok(Detail::Summary));
        assert_eq!("full".parse::<Detail>(), Ok(Detail::Full));
        let err = "Full".parse::<Detail>().unwrap_err();
        assert_eq!(
            err,
            GraphError::Invalid("detail must be one of 'summary', 'full', got 'Full'".into())
        );
        for d in Detail::ALL {
            assert_eq!(d.as_str().parse::<Detail>(), Ok(d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }

    /// The summary's numbers are the full report's, bit for bit; its counts are the
    /// listings' lengths; its top risks the weakest factors, the bottleneck first.
    fn summary_equals_full(g: &Graph, target: Option<f64>) -> Result<(), TestCaseError> {
        for start in 0..g.len() as u32 {
            let id = g.id(start).to_owned();
            let full = composite(g, &id, target, &opts()).unwrap();
            let s = composite_summary(g, &id, target, &opts()).unwrap();
            prop_assert_eq!(
                s.composite_availability.to_bits(),
                full.composite_availability.to_bits()
            );
            prop_assert_eq!(
                s.self_availability.to_bits(),
                full.self_availability.to_bits()
            );
            prop_assert_eq!(&s.bottleneck, &full.bottleneck);
            prop_assert_eq!(s.bottleneck_availability, full.bottleneck_availability);
            prop_assert_eq!(
                (s.truncated, s.max_depth, s.confidence.to_bits(), s.target),
                (
                    full.truncated,
                    full.max_depth,
                    full.confidence.to_bits(),
                    full.target
                )
            );
            prop_assert_eq!(s.counts.hard_dependencies, full.hard_dependencies.len());
            prop_assert_eq!(s.counts.closure, full.hard_dependencies.len() + 1);
            prop_assert_eq!(s.counts.redundancy_groups, full.redundancy_groups.len());
            prop_assert_eq!(s.counts.supernodes, full.supernodes.len());
            prop_assert_eq!(s.counts.external, full.external.len());
            prop_assert_eq!(
                s.counts.external_high_risk,
                full.external
                    .iter()
                    .filter(|e| e.high_risk == Some(true))
                    .count()
            );
            prop_assert_eq!(s.counts.excluded, full.excluded.len());
            prop_assert_eq!(s.counts.missing_data, full.missing_data.len());
            prop_assert!(s.top_risks.len() <= TOP_RISKS);
            prop_assert_eq!(
                s.top_risks.first().map(|r| r.factor.clone()),
                full.bottleneck.clone()
            );
            prop_assert!(s
                .top_risks
                .windows(2)
                .all(|w| w[0].availability <= w[1].availability));
        }
        Ok(())
    }

    #[test]
    fn summary_keeps_the_ten_weakest_of_many() {
        let mut services = vec![svc("hub", Some(0.9999))];
        let mut o = Vec::new();
        for i in 0..25 {
            services.push(svc(&format!("d{i:02}"), Some(0.99 - f64::from(i) / 1000.0)));
            o.push(obs("hub", &format!("d{i:02}")));
        }
        let g = Graph::build(services, &o);
        let s = composite_summary(&g, "hub", None, &opts()).unwrap();
        let names: Vec<&str> = s.top_risks.iter().map(|r| r.factor.as_str()).collect();
        assert_eq!(
            names,
            ["d24", "d23", "d22", "d21", "d20", "d19", "d18", "d17", "d16", "d15"]
        );
        assert_eq!(s.counts.hard_dependencies, 25);
        assert!((s.top_risks[0].contribution - (1.0 - 0.966)).abs() < 1e-12);
        assert_eq!(s.top_risks[0].kind, RiskKind::Dependency);
        let full = composite(&g, "hub", None, &opts()).unwrap();
        assert_eq!(s.composite_availability, full.composite_availability);
    }

    #[test]
    fn impact_summary_is_the_first_rows_and_the_totals() {
        let mut services = vec![svc("x", Some(0.999))];
        let mut o = Vec::new();
        let mut slos = HashMap::new();
        for i in 0..15 {
            services.push(svc(&format!("u{i:02}"), Some(0.9999)));
            o.push(obs(&format!("u{i:02}"), "x"));
            if i % 2 == 0 {
                slos.insert(format!("u{i:02}"), 0.999);
            }
        }
        let g = Graph::build(services, &o);
        let full = impact_analysis(&g, "x", 0.99, &slos, &opts(), &mut Cancel::never()).unwrap();
        let s = full.clone().summary();
        assert_eq!(s.impacted_services[..], full.impacted_services[..TOP_RISKS]);
        assert_eq!((s.total_impacted, s.slos_at_risk), (15, 8));
        assert_eq!(s.slos_at_risk_services.len(), 8);
        assert!(s
            .slos_at_risk_services
            .iter()
            .all(|r| r.slo_at_risk == Some(true)));
        assert_eq!(s.recommendation, full.recommendation);
    }

    proptest! {
        #[test]
        fn series_dag_composite_is_product_over_closure((n, edges, avail) in dag_strategy()) {
            let services: Vec<Service> = (0..n).map(|i| svc(&format!("s{i:02}"), Some(avail[i]))).collect();
            let o: Vec<_> = edges.iter().map(|&(a, b)| obs(&format!("s{a:02}"), &format!("s{b:02}"))).collect();
            let g = Graph::build(services, &o);
            // Brute force: reachability by repeated relaxation (DAG, depth < 10 since n < 12... use closure without depth).
            let mut reach = vec![false; n];
            reach[0] = true;
            for _ in 0..n {
                for &(a, b) in &edges {
                    if reach[a] { reach[b] = true; }
                }
            }
            let want: f64 = (0..n).filter(|&i| reach[i]).map(|i| avail[i]).product();
            let c = composite(&g, "s00", None, &AvailabilityOptions { max_depth: 20, ..AvailabilityOptions::default() }).unwrap();
            prop_assert!((c.composite_availability - want).abs() < 1e-12);
        }

        #[test]
        fn fast_value_equals_full_report((n, edges, avail) in dag_strategy(), groups in proptest::collection::vec(0u8..3, 30), depth in 1u32..12) {
            fast_equals_full(&grouped_graph(n, &edges, &avail, &groups), depth)?;
        }

        /// The same on graphs with cycles (issue 10): the fast path and the full report
        /// agree wherever the walk meets a cycle, at every depth bound.
        #[test]
        fn fast_value_equals_full_report_on_cyclic_graphs((n, edges, avail) in cyclic_strategy(), groups in proptest::collection::vec(0u8..3, 40), depth in 1u32..12) {
            fast_equals_full(&grouped_graph(n, &edges, &avail, &groups), depth)?;
        }

        #[test]
        fn summary_equals_full_report_on_cyclic_graphs((n, edges, avail) in cyclic_strategy(),
                groups in proptest::collection::vec(0u8..3, 40)) {
            let g = grouped_graph(n, &edges, &avail, &groups);
            summary_equals_full(&g, None)?;
            summary_equals_full(&g, Some(0.999))?;
        }

        #[test]
        fn dependency_bound_what_if_equals_full_recompute((n, edges, avail) in dag_strategy(),
                groups in proptest::collection::vec(0u8..3, 30), x_seed in 0usize..100, p in 0.5f64..1.0) {
            what_if_equals_full(&grouped_graph(n, &edges, &avail, &groups), n, x_seed, p)?;
        }

        #[test]
        fn dependency_bound_what_if_equals_full_recompute_on_cyclic_graphs((n, edges, avail) in cyclic_strategy(),
                groups in proptest::collection::vec(0u8..3, 40), x_seed in 0usize..100, p in 0.5f64..1.0) {
            what_if_equals_full(&grouped_graph(n, &edges, &avail, &groups), n, x_seed, p)?;
        }

        /// A cache reused across analyses (other services first, then this one twice)
        /// gives the answer of a fresh analysis, on cyclic graphs with redundancy groups,
        /// at every depth bound.
        #[test]
        fn impact_with_a_reused_cache_equals_a_fresh_one((n, edges, avail) in cyclic_strategy(),
                groups in proptest::collection::vec(0u8..3, 40), x_seed in 0usize..100, p in 0.5f64..1.0,
                depth in 1u32..12) {
            let g = grouped_graph(n, &edges, &avail, &groups);
            let opts = AvailabilityOptions { max_depth: depth, ..AvailabilityOptions::default() };
            let mut slos = HashMap::new();
            for i in (0..n).step_by(2) {
                slos.insert(format!("s{i:02}"), 0.99);
            }
            let mut cache = AvailabilityCache::default();
            let xid = format!("s{:02}", x_seed % n);
            for other in [(x_seed + 1) % n, (x_seed + 5) % n] {
                impact_analysis_cached(&g, &format!("s{other:02}"), p, &slos, &opts, &mut Cancel::never(), &mut cache).unwrap();
            }
            let fresh = impact_analysis(&g, &xid, p, &slos, &opts, &mut Cancel::never()).unwrap();
            for _ in 0..2 {
                let cached = impact_analysis_cached(&g, &xid, p, &slos, &opts, &mut Cancel::never(), &mut cache).unwrap();
                prop_assert_eq!(&cached, &fresh);
            }
            prop_assert!(cache.composites_held() >= fresh.total_impacted);
        }

        #[test]
        fn impact_fast_path_equals_full_recompute((n, edges, avail) in dag_strategy(), x_seed in 0usize..100, p in 0.5f64..1.0) {
            let services: Vec<Service> = (0..n).map(|i| svc(&format!("s{i:02}"), Some(avail[i]))).collect();
            let o: Vec<_> = edges.iter().map(|&(a, b)| obs(&format!("s{a:02}"), &format!("s{b:02}"))).collect();
            let g = Graph::build(services, &o);
            let x = x_seed % n;
            let xid = format!("s{x:02}");
            let r = impact_analysis(&g, &xid, p, &HashMap::new(), &opts(), &mut Cancel::never()).unwrap();
            for row in &r.impacted_services {
                let up = g.lookup(&row.service_id).unwrap();
                let full = composite_at(&g, up, None, &opts(), Some((x as u32, p))).composite_availability;
                prop_assert!((row.projected_composite_availability - full).abs() < 1e-12);
            }
        }
    }
}
