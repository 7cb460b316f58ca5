//! Results of the `flipt-core` engine micro-benchmark
//! (`cargo bench -p flipt-core --bench engine`), read from criterion's
//! output directory so they appear in the same report.

use std::path::Path;

use serde::Serialize;

/// Benchmark ids of `crates/flipt-core/benches/engine.rs` and what they
/// measure.
pub const ENGINE_BENCHES: [(&str, &str); 3] = [
    ("variant/simple", "simple variant flag"),
    (
        "variant/5_rules_x_3_constraints",
        "variant flag, 5 rules x 3 constraints",
    ),
    ("boolean/threshold_then_segment", "boolean rollout"),
];

/// Id of the 5 × 3 benchmark, which has a goal.
pub const FIVE_BY_THREE: &str = "variant/5_rules_x_3_constraints";

/// One benchmark's mean time per evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Micro {
    /// Criterion benchmark id.
    pub id: String,
    /// What it evaluates.
    pub description: String,
    /// Mean nanoseconds per evaluation.
    pub mean_ns: f64,
}

/// The engine results found under `criterion_dir` (usually
/// `target/criterion`); benchmarks that have not run are left out.
pub fn read(criterion_dir: &Path) -> Vec<Micro> {
    let mut found = Vec::new();
    for (id, description) in ENGINE_BENCHES {
        // Criterion stores `group/name` as directory `group_name`.
        let path = criterion_dir
            .join(id.replace('/', "_"))
            .join("new")
            .join("estimates.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some(mean_ns) = mean_point_estimate(&text) {
            found.push(Micro {
                id: id.to_owned(),
                description: description.to_owned(),
                mean_ns,
            });
        }
    }
    found
}

fn mean_point_estimate(estimates_json: &str) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_str(estimates_json).ok()?;
    value.get("mean")?.get("point_estimate")?.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_estimates() {
        let dir = tempfile::tempdir().unwrap();
        let bench = dir.path().join("variant_5_rules_x_3_constraints/new");
        std::fs::create_dir_all(&bench).unwrap();
        std::fs::write(
            bench.join("estimates.json"),
            r#"{"mean":{"point_estimate":412.5,"standard_error":1.0},"median":{"point_estimate":400.0}}"#,
        )
        .unwrap();
        let found = read(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, FIVE_BY_THREE);
        assert_eq!(found[0].mean_ns, 412.5);
    }
}
