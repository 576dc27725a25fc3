//! Result schema v1: the only serialisable types in accelbench, and the contract between the
//! native runner, the page, the server and anyone reading our JSON.
//!
//! Wire format: one [`Record`] per (kernel, parameters, dtype, backend), as JSON; streams are JSON
//! Lines. Within v1 only additive changes are allowed (new optional fields); readers must reject
//! an unknown `schema_version`. Times are nanoseconds as f64; throughput is derived, never
//! measured separately.
//!
//! `record` is the result record, `page` the page bridge's protocol, `api` the HTTP API's
//! bodies, `suite` the suite file, `autotune` the variant choices; this module reads records produced elsewhere.

mod api;
mod autotune;
mod model;
mod page;
mod record;
mod suite;

pub use api::*;
pub use autotune::*;
pub use model::*;
pub use page::*;
pub use record::*;
pub use suite::*;

pub const SCHEMA_VERSION: u32 = 1;

/// Errors reading records produced elsewhere.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// `field` is the path inside the record serde stopped at (`timing.summary.median_ns`),
    /// empty when the record as a whole is wrong.
    #[error("{at}: not a schema v1 record: {}{source}", if field.is_empty() { String::new() } else { format!("`{field}`: ") })]
    Json { at: String, field: String, source: serde_json::Error },
    #[error("{at}: schema_version {found} is not supported (this build reads {SCHEMA_VERSION})")]
    Version { at: String, found: u32 },
    /// A flattened field (`status`, `reason`), where serde cannot say which field it was.
    #[error("{at}: not a schema v1 record: `{field}` is {found}; {expected}")]
    Field { at: String, field: &'static str, found: String, expected: &'static str },
    #[error("{at}: `{field}` is {value}, which no measurement can be")]
    BadNumber { at: String, field: &'static str, value: f64 },
}

impl SchemaError {
    /// `status` and its `reason` are flattened into the record, where serde loses the path;
    /// checked here first so their errors name them too.
    fn check_status(v: &serde_json::Value, at: &str) -> Result<(), SchemaError> {
        const STATUSES: [&str; 4] = ["measured", "skipped", "mismatch", "failed"];
        let field = |field, found: &serde_json::Value, expected| SchemaError::Field {
            at: at.to_owned(),
            field,
            found: found.to_string(),
            expected,
        };
        match v.get("status") {
            Some(s) if !s.as_str().is_some_and(|s| STATUSES.contains(&s)) => {
                Err(field("status", s, "one of \"measured\", \"skipped\", \"mismatch\", \"failed\""))
            }
            Some(s) if s != "measured" => match v.get("reason") {
                Some(r) if !r.is_string() => Err(field("reason", r, "a string saying why")),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn json(at: &str, e: serde_path_to_error::Error<serde_json::Error>) -> SchemaError {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        SchemaError::Json { at: at.to_owned(), field, source: e.into_inner() }
    }
}

impl Record {
    /// Rejects what no honest measurement produces: NaN, infinite or negative times.
    /// `at` says where the record came from in errors ("line 3", "records[2]").
    pub fn validate(&self, at: &str) -> Result<(), SchemaError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(SchemaError::Version { at: at.to_owned(), found: self.schema_version });
        }
        if let Some(t) = &self.timing {
            let s = &t.summary;
            for (field, v) in [("timing.summary.median_ns", s.median_ns), ("timing.summary.mean_ns", s.mean_ns)]
                .into_iter()
                .chain(t.samples_ns.iter().map(|&v| ("timing.samples_ns", v)))
            {
                if !v.is_finite() || v < 0.0 {
                    return Err(SchemaError::BadNumber { at: at.to_owned(), field, value: v });
                }
            }
        }
        Ok(())
    }
}

/// Parses JSON Lines of records, validating each; blank lines are ignored.
pub fn parse_jsonl(text: &str) -> Result<Vec<Record>, SchemaError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        let v = serde_json::from_str(l).map_err(|source| SchemaError::Json {
            at: at.clone(),
            field: String::new(),
            source,
        })?;
        let r = record_at(v, at)?;
        out.push(r);
    }
    Ok(out)
}

/// Parses one record given as a JSON value (e.g. an element of an uploaded run), checking the
/// version first and then the numbers; `index` names it in errors.
pub fn record_from_value(v: serde_json::Value, index: usize) -> Result<Record, SchemaError> {
    record_at(v, format!("records[{index}]"))
}

/// One record from its JSON: the version first (so a v2 record says so instead of failing on a
/// missing field), then the fields, naming the one that is wrong, then the numbers.
fn record_at(v: serde_json::Value, at: String) -> Result<Record, SchemaError> {
    if let Some(found) = v.get("schema_version").and_then(serde_json::Value::as_u64)
        && found != u64::from(SCHEMA_VERSION)
    {
        return Err(SchemaError::Version { at, found: found as u32 });
    }
    SchemaError::check_status(&v, &at)?;
    let r: Record = serde_path_to_error::deserialize(v).map_err(|e| SchemaError::json(&at, e))?;
    r.validate(&at)?;
    Ok(r)
}
