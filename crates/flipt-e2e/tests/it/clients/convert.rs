//! Turns the conformance data's namespace snapshots (Flipt snapshot JSON, as
//! served to client-side SDKs) into declarative flag files the stack can load.
//!
//! Each snapshot becomes one JSON document of its namespace (format version
//! 1.4), selected by a `.flipt.yml` index. Segments, which the snapshot
//! repeats inside every rule and rollout, become namespace-level segments;
//! variants are gathered from the distributions and the default variant.
//!
//! Some flag states of the data set cannot be written as valid flag files:
//! the data deliberately holds keys outside Flipt's key pattern, operators
//! not allowed for a type, unknown comparison types, rules without segments,
//! scalar attachments and so on, which only a client-side engine fed a raw
//! snapshot ever sees. Which flags those are is decided by the loader itself:
//! every flag is written alone (with its segments) into a scratch directory
//! and loaded with `flipt_store::load_dir`; a flag whose file is rejected is
//! excluded, with the loader's first complaint as the reason.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use super::conformance::NamespaceData;

/// Index written at the root of every generated flag directory.
const INDEX: &str = "version: \"1.0\"\ninclude:\n  - \"**/*.features.json\"\n";

/// What was written.
#[derive(Debug, Default)]
pub struct Converted {
    /// Flags served, per namespace.
    pub included: BTreeMap<String, BTreeSet<String>>,
    /// Flags left out, with why.
    pub excluded: Vec<Excluded>,
}

/// A flag the flag-file format cannot express.
#[derive(Debug)]
pub struct Excluded {
    /// Its namespace.
    pub namespace: String,
    /// Its key.
    pub flag: String,
    /// The loader's (or the converter's) reason.
    pub reason: String,
}

/// Writes one flag file per namespace of `data` into `dir` and checks that
/// the directory loads.
pub fn write_flag_dir(data: &[NamespaceData], dir: &Path) -> Result<Converted> {
    let scratch = tempfile::tempdir()?;
    std::fs::write(scratch.path().join(".flipt.yml"), INDEX)?;
    std::fs::write(dir.join(".flipt.yml"), INDEX)?;
    let mut converted = Converted::default();
    for ns in data {
        let flags = ns.snapshot["flags"]
            .as_array()
            .with_context(|| format!("{}: snapshot has no flags list", ns.namespace))?;
        let mut segments: BTreeMap<String, Value> = BTreeMap::new();
        let mut kept_flags = Vec::new();
        let mut included = BTreeSet::new();
        for flag in flags {
            let key = flag["key"].as_str().unwrap_or_default().to_owned();
            let outcome = flag_decl(flag, &segments).and_then(|(decl, own_segments)| {
                let doc = document(
                    &ns.namespace,
                    own_segments.values().cloned(),
                    [decl.clone()],
                );
                check_loads(scratch.path(), &doc).map(|()| (decl, own_segments))
            });
            match outcome {
                Ok((decl, own_segments)) => {
                    segments.extend(own_segments);
                    kept_flags.push(decl);
                    included.insert(key);
                }
                Err(reason) => converted.excluded.push(Excluded {
                    namespace: ns.namespace.clone(),
                    flag: key,
                    reason,
                }),
            }
        }
        let doc = document(&ns.namespace, segments.into_values(), kept_flags);
        std::fs::write(
            dir.join(format!("{}.features.json", ns.namespace)),
            serde_json::to_vec_pretty(&doc)?,
        )?;
        converted.included.insert(ns.namespace.clone(), included);
    }
    if let Err(err) = flipt_store::load_dir(dir) {
        bail!("the flags that load one by one do not load together:\n{err}");
    }
    Ok(converted)
}

fn document(
    namespace: &str,
    segments: impl IntoIterator<Item = Value>,
    flags: impl IntoIterator<Item = Value>,
) -> Value {
    json!({
        "version": "1.4",
        "namespace": {"key": namespace},
        "segments": segments.into_iter().collect::<Vec<_>>(),
        "flags": flags.into_iter().collect::<Vec<_>>(),
    })
}

/// Loads `doc` alone; the error is the loader's first complaint.
fn check_loads(scratch: &Path, doc: &Value) -> Result<(), String> {
    let text = serde_json::to_vec(doc).map_err(|err| err.to_string())?;
    std::fs::write(scratch.join("check.features.json"), text).map_err(|err| err.to_string())?;
    match flipt_store::load_dir(scratch) {
        Ok(_) => Ok(()),
        Err(err) => Err(err
            .issues()
            .first()
            .map_or_else(|| err.to_string(), |issue| issue.message.clone())),
    }
}

/// A flag declaration plus the segments it uses, by key. Fails when the
/// snapshot holds something a flag file has no way to say.
fn flag_decl(
    flag: &Value,
    known_segments: &BTreeMap<String, Value>,
) -> Result<(Value, BTreeMap<String, Value>), String> {
    let mut segments = BTreeMap::new();
    let mut use_segments = |list: &Value| -> Result<Vec<Value>, String> {
        let mut keys = Vec::new();
        for segment in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let key = segment["key"].as_str().unwrap_or_default().to_owned();
            let decl = segment_decl(segment);
            // A flag file defines a segment once per namespace; the snapshot
            // could in principle give two rules different segments of one key.
            let earlier = known_segments.get(&key).or_else(|| segments.get(&key));
            if earlier.is_some_and(|earlier| *earlier != decl) {
                return Err(format!("segment {key:?} is defined differently elsewhere"));
            }
            segments.insert(key.clone(), decl);
            keys.push(Value::String(key));
        }
        Ok(keys)
    };

    let mut variants: Vec<(String, Value)> = Vec::new();
    let mut add_variant = |key: &str, attachment: &str| -> Result<(), String> {
        let attachment = match attachment {
            "" => Value::Null,
            // Text that is not JSON stays a string, which the loader rejects.
            text => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
        };
        match variants.iter().find(|(k, _)| k == key) {
            Some((_, seen)) if *seen != attachment => {
                Err(format!("variant {key:?} has two different attachments"))
            }
            Some(_) => Ok(()),
            None => {
                variants.push((key.to_owned(), attachment));
                Ok(())
            }
        }
    };

    let mut rules = Vec::new();
    for rule in flag["rules"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let keys = use_segments(&rule["segments"])?;
        let mut distributions = Vec::new();
        for d in rule["distributions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let variant = d["variantKey"].as_str().unwrap_or_default();
            add_variant(variant, d["variantAttachment"].as_str().unwrap_or_default())?;
            distributions
                .push(json!({"variant": variant, "rollout": number_or_zero(&d["rollout"])}));
        }
        rules.push(json!({
            "segment": {"keys": keys, "operator": operator(&rule["segmentOperator"])},
            "distributions": distributions,
        }));
    }

    let default_variant = flag.get("defaultVariant").filter(|v| v.is_object());
    if let Some(default) = default_variant {
        let key = default["key"].as_str().unwrap_or_default();
        add_variant(key, default["attachment"].as_str().unwrap_or_default())?;
    }

    let mut rollouts = Vec::new();
    for rollout in flag["rollouts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let Some(threshold) = rollout.get("threshold").filter(|t| t.is_object()) {
            rollouts.push(json!({"threshold": {
                "percentage": number_or_zero(&threshold["percentage"]),
                "value": threshold["value"].as_bool().unwrap_or(false),
            }}));
        } else if let Some(segment) = rollout.get("segment").filter(|s| s.is_object()) {
            let keys = use_segments(&segment["segments"])?;
            rollouts.push(json!({"segment": {
                "keys": keys,
                "operator": operator(&segment["segmentOperator"]),
                "value": segment["value"].as_bool().unwrap_or(false),
            }}));
        } else {
            return Err("rollout with neither threshold nor segment".to_owned());
        }
    }

    let default_key = default_variant.and_then(|d| d["key"].as_str());
    let variants: Vec<Value> = variants
        .into_iter()
        .map(|(key, attachment)| {
            let mut v = Map::new();
            v.insert("key".into(), Value::String(key.clone()));
            if !attachment.is_null() {
                v.insert("attachment".into(), attachment);
            }
            if default_key == Some(key.as_str()) {
                v.insert("default".into(), Value::Bool(true));
            }
            Value::Object(v)
        })
        .collect();

    let mut decl = Map::new();
    for field in ["key", "name", "type", "enabled"] {
        decl.insert(field.into(), flag[field].clone());
    }
    if let Some(description) = flag.get("description") {
        decl.insert("description".into(), description.clone());
    }
    for (field, list) in [
        ("variants", variants),
        ("rules", rules),
        ("rollouts", rollouts),
    ] {
        if !list.is_empty() {
            decl.insert(field.into(), Value::Array(list));
        }
    }
    Ok((Value::Object(decl), segments))
}

/// A namespace-level segment from a snapshot segment.
fn segment_decl(segment: &Value) -> Value {
    let match_type = match segment["matchType"].as_str() {
        Some("ANY_SEGMENT_MATCH_TYPE") => "ANY_MATCH_TYPE",
        _ => "ALL_MATCH_TYPE",
    };
    let constraints: Vec<Value> = segment["constraints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            // STRING_CONSTRAINT_COMPARISON_TYPE → STRING_COMPARISON_TYPE; an
            // unknown type keeps an unknown name, which the loader rejects.
            let kind = c["type"].as_str().unwrap_or_default();
            let kind = kind.replace("_CONSTRAINT_COMPARISON_TYPE", "_COMPARISON_TYPE");
            json!({
                "type": kind,
                "property": c["property"],
                "operator": c["operator"],
                "value": c["value"].as_str().unwrap_or_default(),
            })
        })
        .collect();
    json!({
        "key": segment["key"],
        "name": segment["key"],
        "match_type": match_type,
        "constraints": constraints,
    })
}

/// Segment operator of a rule or rollout ("OR" when the snapshot omits it).
fn operator(value: &Value) -> &str {
    match value.as_str() {
        Some("AND_SEGMENT_OPERATOR") => "AND_SEGMENT_OPERATOR",
        _ => "OR_SEGMENT_OPERATOR",
    }
}

/// A number field; protojson may leave out a zero.
fn number_or_zero(value: &Value) -> Value {
    if value.is_null() {
        json!(0)
    } else {
        value.clone()
    }
}

/// Excluded flags summarised by reason (location prefixes dropped, quoted
/// values elided), most frequent first, one example flag each.
pub fn reason_summary(excluded: &[Excluded]) -> String {
    let mut by_reason: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for e in excluded {
        let mut elided = String::new();
        for (i, part) in e.reason.split('"').enumerate() {
            elided.push_str(if i % 2 == 1 { "…" } else { part });
        }
        // `flag …: rule 1: constraint 2: operator … is not allowed …`
        let parts: Vec<&str> = elided.split(": ").collect();
        let first = parts.iter().position(|p| !is_location(p)).unwrap_or(0);
        let entry = by_reason
            .entry(parts[first..].join(": "))
            .or_insert_with(|| (0, format!("{}/{}", e.namespace, e.flag)));
        entry.0 += 1;
    }
    let mut lines: Vec<_> = by_reason.into_iter().collect();
    lines.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    lines
        .iter()
        .map(|(reason, (n, example))| format!("  {n:>4}  {reason} (e.g. {example})"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `flag …`, `rule 2`, `constraint 1`: where in a document, not what.
fn is_location(part: &str) -> bool {
    let mut words = part.split(' ');
    let (Some(kind), Some(which), None) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    let kinds = [
        "flag",
        "segment",
        "rule",
        "rollout",
        "constraint",
        "distribution",
        "variant",
    ];
    kinds.contains(&kind) && (which == "…" || which.bytes().all(|b| b.is_ascii_digit()))
}
