//! The result store: runs and their schema v1 records in SQLite (WAL mode) or PostgreSQL,
//! chosen by the `--db` URL, behind a small interface of whole-run operations. Every write is
//! one transaction, so a run is stored whole or not at all, and a retried POST of the same run
//! id stores nothing twice.
//!
//! One set of queries serves both databases through sqlx's `Any` driver: placeholders are
//! numbered (`$1`, which SQLite reads as `?1`), and PostgreSQL's `runs` table has a `rowid`
//! column of its own so that "newest first, then insertion order" is the same SQL on both.
//! The schema is one set of migrations per database (`migrations/sqlite`, `migrations/postgres`)
//! with the same versions, kept in step by hand.

use harness::history::Stored;
use harness::schema::{Record, RunFilter, RunMeta, RunStatus, RunSummary, SeriesFilter};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor as _, Row as _};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("run {run} has status {status:?}, which this build does not know (a newer accelbench wrote it?)")]
    BadStatus { run: String, status: String },
}

impl StoreError {
    /// The database's disk is full: SQLite's SQLITE_FULL (13), PostgreSQL's `disk_full` (53100).
    pub fn is_disk_full(&self) -> bool {
        let sql = match self {
            StoreError::Sql(e) => e,
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => e,
            _ => return false,
        };
        match sql {
            sqlx::Error::Database(d) => d.code().is_some_and(|c| c == "13" || c == "53100"),
            _ => false,
        }
    }
}

fn status_of(row: &AnyRow) -> Result<RunStatus, StoreError> {
    let status: String = row.get("status");
    RunStatus::parse(&status).ok_or_else(|| StoreError::BadStatus { run: row.get("id"), status })
}

/// Which database a `--db` value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    /// `postgres://` / `postgresql://` URLs are PostgreSQL; `sqlite:` URLs and plain paths SQLite.
    pub fn of(url: &str) -> Kind {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") { Kind::Postgres } else { Kind::Sqlite }
    }
}

/// `url` as it may be printed: a PostgreSQL password replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens and migrates the database at `url`: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// (the database must exist), or `sqlite://PATH` or a plain path (created if needed).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let kind = Kind::of(url);
        let url = match kind {
            Kind::Postgres => url.to_owned(),
            // `mode=rwc` creates a missing file, as SqliteConnectOptions::create_if_missing does.
            Kind::Sqlite => {
                let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
                format!("sqlite://{path}?mode=rwc")
            }
        };
        let open_err = |source| StoreError::Open { url: redacted(&url), source };
        let pool = AnyPoolOptions::new()
            .max_connections(if kind == Kind::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if kind == Kind::Sqlite {
                        // Per connection: foreign keys (ON DELETE CASCADE) and waiting for a
                        // writer rather than failing; WAL persists in the file once set.
                        conn.execute(
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(open_err)?;
        match kind {
            Kind::Sqlite => SQLITE.run(&pool).await?,
            Kind::Postgres => POSTGRES.run(&pool).await?,
        }
        Ok(Store { pool })
    }

    /// Stores a run and its records in one transaction. Returns false (and stores nothing)
    /// when a run with this id already exists.
    pub async fn insert_run(
        &self,
        id: &str,
        source: &str,
        status: RunStatus,
        records: &[Record],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let created = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let commit = records.first().map(|r| r.provenance.commit.clone());
        let browser = records.iter().find_map(|r| r.provenance.browser.as_ref().map(|b| b.name.clone()));
        let inserted = sqlx::query(
            "INSERT INTO runs (id, created_at, source, status, commit_sha, browser) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&created)
        .bind(source)
        .bind(status.as_str())
        .bind(&commit)
        .bind(&browser)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (seq, r) in records.iter().enumerate() {
            insert_record(&mut tx, id, seq as i64, r).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Appends one record to an existing run (server-side native runs store as they measure).
    pub async fn append_record(&self, run_id: &str, seq: i64, r: &Record) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_record(&mut tx, run_id, seq, r).await?;
        sqlx::query("UPDATE runs SET commit_sha = COALESCE(commit_sha, $1) WHERE id = $2")
            .bind(&r.provenance.commit)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_status(&self, run_id: &str, status: RunStatus, message: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = $1, message = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(message)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.created_at, r.source, r.status, r.commit_sha, r.browser,
                    (SELECT COUNT(*) FROM records x WHERE x.run_id = r.id) AS n
             FROM runs r
             WHERE ($1 IS NULL OR EXISTS (SELECT 1 FROM records x WHERE x.run_id = r.id AND x.kernel = $1))
               AND ($2 IS NULL OR EXISTS (SELECT 1 FROM records x WHERE x.run_id = r.id AND x.backend = $2))
               AND ($3 IS NULL OR r.browser = $3)
               AND ($4 IS NULL OR r.commit_sha LIKE $4 || '%')
             ORDER BY r.created_at DESC, r.rowid DESC
             LIMIT $5",
        )
        .bind(&f.kernel)
        .bind(&f.backend)
        .bind(&f.browser)
        .bind(&f.commit)
        .bind(f.limit.unwrap_or(100).clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RunSummary {
                    id: r.get("id"),
                    created_at: r.get("created_at"),
                    source: r.get("source"),
                    status: status_of(r)?,
                    commit: r.get("commit_sha"),
                    browser: r.get("browser"),
                    records: r.get("n"),
                })
            })
            .collect()
    }

    /// The run's metadata and its records in stored order; None if there is no such run.
    pub async fn get_run(&self, id: &str) -> Result<Option<(RunMeta, Vec<Record>)>, StoreError> {
        let Some(run) =
            sqlx::query("SELECT id, created_at, source, status, message, commit_sha, browser FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query("SELECT json FROM records WHERE run_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let records =
            rows.iter().filter_map(|r| serde_json::from_str::<Record>(&r.get::<String, _>("json")).ok()).collect();
        let meta = RunMeta {
            id: run.get("id"),
            created_at: run.get("created_at"),
            source: run.get("source"),
            status: status_of(&run)?,
            message: run.get("message"),
            commit: run.get("commit_sha"),
            browser: run.get("browser"),
        };
        Ok(Some((meta, records)))
    }

    /// The measured records of the newest `limit` runs matching the filter's kernel, case and
    /// backend, oldest first: what [`harness::history::series`] makes series of (the machine
    /// and metric are applied there, from each record).
    pub async fn series_rows(&self, f: &SeriesFilter) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.created_at, x.json FROM records x JOIN runs r ON r.id = x.run_id
             WHERE ($1 IS NULL OR x.kernel = $1) AND ($2 IS NULL OR x.case_name = $2)
               AND ($3 IS NULL OR x.backend = $3) AND x.status = 'measured'
               AND r.id IN (SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT $4)
             ORDER BY r.created_at, r.rowid, x.seq",
        )
        .bind(&f.kernel)
        .bind(&f.case)
        .bind(&f.backend)
        .bind(f.limit.unwrap_or(200).clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(stored(&rows))
    }

    /// Records of any status (of `kernel`, or of every kernel) in the newest `limit` runs:
    /// what `recommend` reads to know the targets and why one did not measure something.
    pub async fn records_of(&self, kernel: Option<&str>, limit: i64) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.created_at, x.json FROM records x JOIN runs r ON r.id = x.run_id
             WHERE ($1 IS NULL OR x.kernel = $1)
               AND r.id IN (SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT $2)
             ORDER BY r.created_at, r.rowid, x.seq",
        )
        .bind(kernel)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(stored(&rows))
    }

    /// The newest stored run (other than `except`) with a measured record on one of `keys`'
    /// machines and measurements: the `--baseline latest` of a run.
    pub async fn latest_matching(&self, records: &[Record], except: &str) -> Result<Option<String>, StoreError> {
        let Some(first) = records.iter().find(|r| r.status == harness::schema::Status::Measured) else {
            return Ok(None);
        };
        let machine = harness::history::machine_fingerprint(first);
        let f = SeriesFilter {
            kernel: Some(first.kernel.clone()),
            case: Some(first.case.clone()),
            backend: Some(first.backend.clone()),
            limit: Some(1000),
            ..SeriesFilter::default()
        };
        let rows = self.series_rows(&f).await?;
        Ok(rows
            .iter()
            .rev()
            .find(|s| s.run_id != except && harness::history::machine_fingerprint(&s.record) == machine)
            .map(|s| s.run_id.clone()))
    }

    pub async fn count_records(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM records").fetch_one(&self.pool).await?.get("n"))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn insert_record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    seq: i64,
    r: &Record,
) -> Result<(), StoreError> {
    let adapter_id: Option<i64> = match &r.adapter {
        None => None,
        Some(a) => {
            sqlx::query(
                "INSERT INTO adapters (name, vendor, backend, driver, fallback) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name, vendor, backend, driver) DO NOTHING",
            )
            .bind(&a.name)
            .bind(&a.vendor)
            .bind(&a.backend)
            .bind(&a.driver)
            .bind(a.fallback)
            .execute(&mut **tx)
            .await?;
            Some(
                sqlx::query("SELECT id FROM adapters WHERE name = $1 AND vendor = $2 AND backend = $3 AND driver = $4")
                    .bind(&a.name)
                    .bind(&a.vendor)
                    .bind(&a.backend)
                    .bind(&a.driver)
                    .fetch_one(&mut **tx)
                    .await?
                    .get("id"),
            )
        }
    };
    let p = &r.provenance;
    let (browser, version) = p.browser.as_ref().map_or(("", ""), |b| (b.name.as_str(), b.version.as_str()));
    sqlx::query(
        "INSERT INTO environments (os, arch, cpu, browser, browser_version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (os, arch, cpu, browser, browser_version) DO NOTHING",
    )
    .bind(&p.os)
    .bind(&p.arch)
    .bind(&p.cpu)
    .bind(browser)
    .bind(version)
    .execute(&mut **tx)
    .await?;
    let environment_id: i64 = sqlx::query(
        "SELECT id FROM environments WHERE os = $1 AND arch = $2 AND cpu = $3 AND browser = $4 AND browser_version = $5",
    )
    .bind(&p.os)
    .bind(&p.arch)
    .bind(&p.cpu)
    .bind(browser)
    .bind(version)
    .fetch_one(&mut **tx)
    .await?
    .get("id");
    let json = serde_json::to_string(r).expect("records serialise");
    sqlx::query(
        "INSERT INTO records (run_id, seq, kernel, case_name, dtype, backend, adapter_id, environment_id, status, median_ns, commit_sha, json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(run_id)
    .bind(seq)
    .bind(&r.kernel)
    .bind(&r.case)
    .bind(&r.dtype)
    .bind(&r.backend)
    .bind(adapter_id)
    .bind(environment_id)
    .bind(r.status.label())
    .bind(r.timing.as_ref().map(|t| t.summary.median_ns))
    .bind(&r.provenance.commit)
    .bind(json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rows of `(id, created_at, json)` as stored records; a record that no longer parses (a file
/// from a newer schema) is left out rather than failing the whole read.
fn stored(rows: &[AnyRow]) -> Vec<Stored> {
    rows.iter()
        .filter_map(|r| {
            let record = serde_json::from_str::<Record>(&r.get::<String, _>("json")).ok()?;
            Some(Stored { run_id: r.get("id"), created_at: r.get("created_at"), record })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Kind, redacted};

    #[test]
    fn urls_print_without_their_password_and_name_their_database() {
        assert_eq!(
            redacted("postgres://bench:s3cret@db.lab:5432/accelbench"),
            "postgres://bench:***@db.lab:5432/accelbench"
        );
        assert_eq!(redacted("postgres://bench@127.0.0.1/accelbench"), "postgres://bench@127.0.0.1/accelbench");
        assert_eq!(
            redacted("/home/me/.local/share/accelbench/accelbench.db"),
            "/home/me/.local/share/accelbench/accelbench.db"
        );
        assert_eq!(Kind::of("postgresql://x@h/d"), Kind::Postgres);
        assert_eq!(Kind::of("sqlite://a.db"), Kind::Sqlite);
        assert_eq!(Kind::of("results/a.db"), Kind::Sqlite);
    }
}
