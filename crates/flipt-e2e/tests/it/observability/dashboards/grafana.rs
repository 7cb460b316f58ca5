//! Reading the provisioned Grafana dashboards (`grafana/dashboards/*.json`)
//! the way Grafana does: panels (rows included), their PromQL targets,
//! annotation queries, template variables, and variable substitution.

use std::path::PathBuf;

use flipt_testkit::repo_root;
use serde_json::Value;

/// One dashboard file.
pub struct Dashboard {
    /// File name, for messages.
    pub file: String,
    /// The parsed JSON.
    pub json: Value,
}

impl Dashboard {
    /// The dashboard title.
    pub fn title(&self) -> &str {
        self.json["title"].as_str().unwrap_or("?")
    }

    /// Every panel, rows and the panels of collapsed rows included.
    pub fn panels(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        for panel in self.json["panels"].as_array().into_iter().flatten() {
            out.push(panel);
            for nested in panel["panels"].as_array().into_iter().flatten() {
                out.push(nested);
            }
        }
        out
    }

    /// Every PromQL expression Grafana would run: panel targets and
    /// annotation queries.
    pub fn queries(&self) -> Vec<Query> {
        let mut out = Vec::new();
        for panel in self.panels() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = target["expr"].as_str() else {
                    continue;
                };
                out.push(Query {
                    place: format!(
                        "panel {} {:?} target {}",
                        panel["id"],
                        panel["title"].as_str().unwrap_or(""),
                        target["refId"].as_str().unwrap_or("?")
                    ),
                    expr: expr.to_owned(),
                    instant: target["instant"].as_bool() == Some(true)
                        && target["range"].as_bool() != Some(true),
                });
            }
        }
        for annotation in self.json["annotations"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(expr) = annotation["expr"].as_str() {
                out.push(Query {
                    place: format!("annotation {:?}", annotation["name"].as_str().unwrap_or("")),
                    expr: expr.to_owned(),
                    instant: false,
                });
            }
        }
        out
    }

    /// The template variables, in order (later ones may use earlier ones).
    pub fn variables(&self) -> Vec<Variable> {
        let mut out = Vec::new();
        for var in self.json["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let query = match &var["query"] {
                Value::String(text) => text.clone(),
                other => other["query"].as_str().unwrap_or("").to_owned(),
            };
            out.push(Variable {
                name: var["name"].as_str().unwrap_or("").to_owned(),
                kind: var["type"].as_str().unwrap_or("").to_owned(),
                query,
                all_value: (var["includeAll"].as_bool() == Some(true))
                    .then(|| var["allValue"].as_str().unwrap_or(".*").to_owned()),
            });
        }
        out
    }
}

/// One PromQL expression of a dashboard.
pub struct Query {
    /// Where it is, for messages ("panel 7 \"Errors\" target B").
    pub place: String,
    /// The expression with Grafana variables.
    pub expr: String,
    /// An instant query (stats and tables over `$__range`); else a range query.
    pub instant: bool,
}

/// One template variable.
pub struct Variable {
    /// `$name`.
    pub name: String,
    /// Grafana's variable type (`query`, ...).
    pub kind: String,
    /// For query variables, `label_values(...)`.
    pub query: String,
    /// The "All" value when the variable offers All.
    pub all_value: Option<String>,
}

impl Variable {
    /// `label_values(selector, label)` or `label_values(label)` split into
    /// (selector, label); `None` for any other query.
    pub fn label_values(&self) -> Option<(Option<String>, String)> {
        let inner = self
            .query
            .trim()
            .strip_prefix("label_values(")?
            .strip_suffix(')')?;
        match inner.rsplit_once(',') {
            Some((selector, label)) => {
                Some((Some(selector.trim().to_owned()), label.trim().to_owned()))
            }
            None => Some((None, inner.trim().to_owned())),
        }
    }
}

/// Every dashboard of `grafana/dashboards`, sorted by file name.
pub fn load_dashboards() -> Vec<Dashboard> {
    let dir = repo_root().join("grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read dashboard");
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            Dashboard {
                file: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                json,
            }
        })
        .collect()
}

/// Values for Grafana's built-in interval variables.
pub struct Builtins {
    /// `$__rate_interval`.
    pub rate_interval: String,
    /// `$__interval`.
    pub interval: String,
    /// `$__range`.
    pub range: String,
}

/// Replaces `$name` and `${name}` for each (name, value), then Grafana's
/// built-ins. Longer names first, so `$flag` never eats `$flags`.
pub fn substitute(expr: &str, values: &[(String, String)], builtins: &Builtins) -> String {
    let mut pairs: Vec<(String, String)> = values.to_vec();
    pairs.push(("__rate_interval".into(), builtins.rate_interval.clone()));
    pairs.push(("__interval".into(), builtins.interval.clone()));
    pairs.push(("__range".into(), builtins.range.clone()));
    pairs.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = expr.to_owned();
    for (name, value) in &pairs {
        out = out.replace(&format!("${{{name}}}"), value);
        out = out.replace(&format!("${name}"), value);
    }
    out
}

/// A label value as Grafana puts it into a regex matcher: escaped.
pub fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
            out.push('\\');
        }
        out.push(c);
    }
    out
}
