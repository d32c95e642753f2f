//! The OpenAPI 3 document, generated from the route and schema types (utoipa).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{FieldError, Problem};
use crate::routes::{audit, centrality, graph, health, identity};

#[derive(OpenApi)]
#[openapi(
    info(title = "idgraph", description = "Identity allocation, dependency graph and centrality over HTTPS. Errors are RFC 7807 problem documents."),
    paths(
        health::live, health::ready, health::metrics, health::openapi,
        identity::list_targets, identity::create_submission, identity::get_submission,
        identity::allocate, identity::allocate_batch, identity::resolve_in_submission,
        identity::commit, identity::rollback, identity::resolve, identity::resolve_batch,
        identity::reverse, identity::detect_change,
        graph::list_services, graph::get_service, graph::slo_history,
        graph::ingest, graph::dependencies, graph::composite_availability, graph::check_slo,
        graph::set_availability, graph::set_published_sla, graph::set_slo, graph::get_slo,
        graph::impact_analysis, graph::cycles, graph::acknowledge_alert, graph::mark_stale,
        centrality::centrality_of, centrality::top, centrality::refresh,
        audit::seals,
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Security),
    tags(
        (name = "identity", description = "Stable integer ids for external ids (SEAD)"),
        (name = "graph", description = "Service dependency graph, availability, SLOs"),
        (name = "centrality", description = "Centrality of services"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

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
