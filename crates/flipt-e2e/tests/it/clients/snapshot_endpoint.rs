//! The snapshot endpoint as Flipt's client-side SDKs use it: an ETag on
//! every answer and a 304 with no body when `If-None-Match` carries it (the
//! SDKs poll with it), and `X-Flipt-Accept-Server-Version` gating: default
//! variants only for clients from 1.47.0 (the SDKs send 1.47.0), entity-id
//! constraints only from 1.38.0 (older clients see them as UNKNOWN), a
//! client sending no version treated as 1.37.1.

use anyhow::Result;
use flipt_testkit::WAIT;
use serde_json::Value;

/// Counts over a served snapshot: flags with a default variant, entity-id
/// and unknown-type constraints.
fn snapshot_counts(snapshot: &Value) -> (usize, usize, usize) {
    let flags = snapshot["flags"].as_array().cloned().unwrap_or_default();
    let defaults = flags
        .iter()
        .filter(|f| f["defaultVariant"].is_object())
        .count();
    let mut types = Vec::new();
    for flag in &flags {
        let rule_segments = flag["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| &r["segments"]);
        let rollout_segments = flag["rollouts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| &r["segment"]["segments"]);
        for segments in rule_segments.chain(rollout_segments) {
            for segment in segments.as_array().into_iter().flatten() {
                for c in segment["constraints"].as_array().into_iter().flatten() {
                    types.push(c["type"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    let count = |name: &str| types.iter().filter(|t| *t == name).count();
    (
        defaults,
        count("ENTITY_ID_CONSTRAINT_COMPARISON_TYPE"),
        count("UNKNOWN_CONSTRAINT_COMPARISON_TYPE"),
    )
}

/// What [`check_snapshot_endpoint`] found.
pub struct EndpointCheck {
    /// Everything that was not as the SDKs need it.
    pub problems: Vec<String>,
    /// One line of figures for the test output.
    pub summary: String,
}

/// Checks every namespace of `namespaces`; `defaults_in_data` is how many
/// served flags have a default variant.
pub async fn check_snapshot_endpoint(
    http_url: &str,
    namespaces: &[String],
    defaults_in_data: usize,
) -> Result<EndpointCheck> {
    let http = reqwest::Client::builder().timeout(WAIT).build()?;
    let get = |ns: &str, version: Option<&str>, etag: Option<&str>| {
        let mut request = http
            .get(format!(
                "{http_url}/internal/v1/evaluation/snapshot/namespace/{ns}"
            ))
            .header("accept", "application/json")
            .header("x-flipt-environment", "default");
        if let Some(version) = version {
            request = request.header("x-flipt-accept-server-version", version);
        }
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let mut problems = Vec::new();
    let (mut not_modified, mut defaults, mut entity_ids) = (0, 0, 0);
    for ns in namespaces {
        let first = get(ns, Some("1.47.0"), None).await?;
        let etag = first
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(etag) = etag.filter(|_| first.status() == 200) else {
            problems.push(format!(
                "{ns}: first fetch gave {} without an ETag",
                first.status()
            ));
            continue;
        };
        let (d47, e47, u47) = snapshot_counts(&first.json().await?);
        let again = get(ns, Some("1.47.0"), Some(&etag)).await?;
        let again_etag = again
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = again.bytes().await?;
        if again_etag.as_deref() == Some(etag.as_str()) && body.is_empty() {
            not_modified += 1;
        }
        let (d38, e38, u38) = snapshot_counts(&get(ns, Some("1.38.0"), None).await?.json().await?);
        let (d_old, e_old, u_old) = snapshot_counts(&get(ns, None, None).await?.json().await?);
        if (d38, e38, u38) != (0, e47, u47) || (d_old, e_old, u_old) != (0, 0, u47 + e47) {
            problems.push(format!(
                "{ns}: gating (defaults, entity-id, unknown): 1.47.0 {:?}, 1.38.0 {:?}, none {:?}",
                (d47, e47, u47),
                (d38, e38, u38),
                (d_old, e_old, u_old)
            ));
        }
        defaults += d47;
        entity_ids += e47;
    }
    if not_modified != namespaces.len() {
        problems.push(format!(
            "304 with the ETag for {not_modified} of {} namespaces",
            namespaces.len()
        ));
    }
    if defaults != defaults_in_data || defaults == 0 || entity_ids == 0 {
        problems.push(format!(
            "served to 1.47.0 clients: {defaults} default variants (data: {defaults_in_data}), {entity_ids} entity-id constraints"
        ));
    }
    let summary = format!(
        "snapshot endpoint: {not_modified} × 304 on If-None-Match; 1.47.0 clients got \
         {defaults} default variants and {entity_ids} entity-id constraints, older clients none"
    );
    Ok(EndpointCheck { problems, summary })
}
