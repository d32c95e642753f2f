//! The OpenAPI 3 document, generated from the route and schema types (utoipa).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(title = "idgraph", description = "Identity allocation, dependency graph, centrality and the SLO engine over HTTPS. Errors are RFC 7807 problem documents.\n\n**Availability units.** The TRD's fields are in **percent** (99.9): SLO recommendations (tiers' `target`, `confidence_interval`, bounds), FR-5 decisions (`modifications.availability_target`, `targets.availability`), FR-4's `proposed_change` and the answer to it, `targets` of GET …/slos, and `metadata.published_sla` of ingested nodes. idgraph's own fields are **fractions** (0.999), as in SQL: `availability`, `published_sla`, the `target` query parameters, `proposed_availability`, a manual SLO's `availability_target` and the `active`/`history` rows of GET …/slos.\n\n**Roles (TRD FR-8).** viewer = graph:read; service_owner = graph:read + slo:write on a key or JWT whose `team` (or one of its JWT `groups`) is the service's team; sre_admin = graph:write + slo:write + identity:admin (or `slo:admin` in a JWT): decides on every service's SLO."),
    components(schemas(Problem, FieldError)),
    modifiers(&Security),
    tags(
        (name = "identity", description = "Stable integer ids for external ids (SEAD)"),
        (name = "graph", description = "Service dependency graph, availability, SLOs"),
        (name = "centrality", description = "Centrality of services"),
        (name = "slo", description = "SLO engine: recommendations, decisions, alert rules, dashboard"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The whole document: `ApiDoc` (info, components, security, tags) plus every path of
/// `routes::api()`, where each route is declared once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| crate::routes::api().1)
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "idg_live_<key id>_<secret>, created with `idgraph-facade keys create`",
            ))),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
