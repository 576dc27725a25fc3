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
    #[error("{at}: not a schema v1 record: {source}")]
    Json { at: String, source: serde_json::Error },
    #[error("{at}: schema_version {found} is not supported (this build reads {SCHEMA_VERSION})")]
    Version { at: String, found: u32 },
    #[error("{at}: `{field}` is {value}, which no measurement can be")]
    BadNumber { at: String, field: &'static str, value: f64 },
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
        // Read the version first, so a v2 file says so instead of failing on a missing field.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
            && let Some(found) = v.get("schema_version").and_then(serde_json::Value::as_u64)
            && found != u64::from(SCHEMA_VERSION)
        {
            return Err(SchemaError::Version { at, found: found as u32 });
        }
        let r: Record = serde_json::from_str(l).map_err(|source| SchemaError::Json { at: at.clone(), source })?;
        r.validate(&at)?;
        out.push(r);
    }
    Ok(out)
}

/// Parses one record given as a JSON value (e.g. an element of an uploaded run), checking the
/// version first and then the numbers; `index` names it in errors.
pub fn record_from_value(v: serde_json::Value, index: usize) -> Result<Record, SchemaError> {
    let at = format!("records[{index}]");
    if let Some(found) = v.get("schema_version").and_then(serde_json::Value::as_u64)
        && found != u64::from(SCHEMA_VERSION)
    {
        return Err(SchemaError::Version { at, found: found as u32 });
    }
    let r: Record = serde_json::from_value(v).map_err(|source| SchemaError::Json { at: at.clone(), source })?;
    r.validate(&at)?;
    Ok(r)
}
