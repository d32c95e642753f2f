//! The graph's vocabularies and bounds are declared once, in idgraph-core; the installed
//! SQL side (CHECK constraints, `idgraph.discovery_priority`) must say the same, value for
//! value and in the same order. A value added on one side only fails here.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_core::depgraph::{Criticality, DiscoverySource, Kind, Mode, LIMITS};
use idgraph_itests::connect_admin;
use strum::VariantArray;

/// The text of the one CHECK constraint on `table.column` alone.
async fn check_of(c: &tokio_postgres::Client, table: &str, column: &str) -> String {
    let rows = c
        .query(
            "SELECT pg_get_constraintdef(k.oid)
               FROM pg_constraint k
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attname::text = $2
              WHERE k.conrelid = $1::text::regclass AND k.contype = 'c' AND k.conkey = ARRAY[a.attnum]",
            &[&table, &column],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one CHECK on {table}.{column}");
    rows[0].get(0)
}

/// The quoted literals of a constraint's text, in order.
fn literals(def: &str) -> Vec<String> {
    def.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_values_are_cores_vocabularies() {
    let c = connect_admin().await.unwrap();
    let cases: [(&str, &str, Vec<&str>); 4] = [
        ("idgraph.services", "kind", Kind::names().collect()),
        (
            "idgraph.edges",
            "communication_mode",
            Mode::names().collect(),
        ),
        (
            "idgraph.edges",
            "criticality",
            Criticality::names().collect(),
        ),
        (
            "idgraph.edges",
            "discovery_source",
            DiscoverySource::names().collect(),
        ),
    ];
    for (table, column, core) in cases {
        let def = check_of(&c, table, column).await;
        assert_eq!(literals(&def), core, "{table}.{column}: {def}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_priority_is_cores_order() {
    let c = connect_admin().await.unwrap();
    for &source in DiscoverySource::VARIANTS {
        let p: Option<i32> = c
            .query_one("SELECT idgraph.discovery_priority($1)", &[&source.as_str()])
            .await
            .unwrap()
            .get(0);
        assert_eq!(p, Some(source.priority()), "{}", source.as_str());
    }
    let unknown: Option<i32> = c
        .query_one("SELECT idgraph.discovery_priority('carrier_pigeon')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unknown, None);
    // And core's order is the priority order the effective edge is chosen by.
    let mut sorted = DiscoverySource::VARIANTS.to_vec();
    sorted.sort();
    assert_eq!(sorted, DiscoverySource::VARIANTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn service_id_length_is_cores_bound() {
    let c = connect_admin().await.unwrap();
    let def = check_of(&c, "idgraph.services", "service_id").await;
    assert!(
        def.contains(&format!("<= {})", LIMITS.max_id_len)),
        "services.service_id: {def}"
    );
}
