//! `accelbench serve`: the companion server. Serves the built page (Trunk's `dist/`) and
//! `static/` cross-origin isolated, takes runs over a versioned JSON API, runs the native side
//! on request, and keeps every run in the store.

pub mod access;
mod files;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use harness::compare::{Comparison, compare_runs};
use harness::schema::{
    ApiErrorBody, CompareQuery, CompareResponse, Health, NativeRunRequest, NativeRunStarted, RunDetail, RunFilter,
    RunStatus, RunStored, RunUpload, SeriesFilter,
};
use tower_http::services::ServeFile;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::native::NativePlan;
use store::Store;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; loopback by default (use 0 as the port for any free one)
    #[arg(long, default_value = "127.0.0.1:8700")]
    addr: SocketAddr,
    /// SQLite database file or `sqlite://` URL, or a `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// URL (the database must exist) (default: accelbench.db in the user's data directory)
    #[arg(long)]
    db: Option<String>,
    /// The built page (Trunk's output)
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// Static assets served under /static
    #[arg(long = "static", default_value = "static")]
    static_dir: PathBuf,
    /// File holding the token that writes need (`Authorization: Bearer TOKEN`); required to
    /// listen beyond loopback
    #[arg(long)]
    write_token_file: Option<PathBuf>,
    /// File holding a token that API reads need (the write token also reads); reads are open
    /// without it
    #[arg(long)]
    read_token_file: Option<PathBuf>,
    /// Accept POST /api/v1/native/runs (GPU work on request) beyond loopback too
    #[arg(long)]
    allow_native_runs: bool,
    /// Writes a minute one client address may make (0: no limit)
    #[arg(long, default_value_t = 240)]
    max_writes_per_minute: u32,
}

/// Request bodies above this are refused (a full browser run is a few MB).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

#[derive(Clone)]
struct AppState {
    store: Store,
    /// One native run at a time: two would time each other.
    native_lock: Arc<tokio::sync::Mutex<()>>,
}

/// An API error: a status and a message a person can act on, as JSON.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ApiErrorBody { error: self.1 })).into_response()
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        if e.is_disk_full() {
            // The transaction rolled back: say so, and what would make room.
            return ApiError(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "{e}: the disk under the server's database is full, and nothing of this run was stored; \
                     free space there or restart the server with --db on another disk"
                ),
            );
        }
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

/// A body that could not be read: over [`BODY_LIMIT`] (413, saying how to send less) or cut off.
fn too_large(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the {} MiB limit; send the records as several runs", BODY_LIMIT >> 20),
        )
    } else {
        ApiError(e.status(), format!("the body could not be read: {e}"))
    }
}

pub fn default_db() -> String {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match base {
        Some(b) if std::fs::create_dir_all(b.join("accelbench")).is_ok() => {
            b.join("accelbench/accelbench.db").display().to_string()
        }
        _ => "accelbench.db".to_owned(),
    }
}

pub fn router(store: Store, access: access::Access, dist: PathBuf, static_dir: PathBuf) -> Router {
    let state = AppState { store, native_lock: Arc::new(tokio::sync::Mutex::new(())) };
    let api = Router::new()
        .route("/health", get(health))
        .route("/backends", get(backends))
        .route("/runs", post(post_run).get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/native/runs", post(post_native_run))
        .route("/compare", get(compare))
        .route("/series", get(series))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint; see README (API)".into()) })
        .with_state(state);
    // Cross-origin isolation: performance.now() at 5 us instead of 100 us, and SharedArrayBuffer.
    let isolate = |r: Router| {
        r.layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-embedder-policy"),
            HeaderValue::from_static("require-corp"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
    };
    let page_built = dist.join("index.html").exists();
    let pages = if page_built {
        // The dashboard is the same single-page app, routed by its path.
        Router::new()
            .route_service("/dashboard", ServeFile::new(dist.join("index.html")))
            .fallback_service(files::confined(&dist))
    } else {
        let msg = format!(
            "the page is not built: no {}; build it with `trunk build --release`",
            dist.join("index.html").display()
        );
        Router::new().fallback(move || async move { (StatusCode::NOT_FOUND, msg.clone()) })
    };
    isolate(
        Router::new()
            .nest("/api/v1", api)
            .nest("/static", files::confined(&static_dir))
            .merge(pages)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(axum::middleware::from_fn_with_state(access, access::guard)),
    )
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<crate::Outcome> {
    let token = |p: &Option<PathBuf>| p.as_deref().map(access::Token::from_file).transpose();
    let access = access::Access::for_addr(
        args.addr,
        token(&args.write_token_file)?,
        token(&args.read_token_file)?,
        args.allow_native_runs,
        args.max_writes_per_minute,
    )?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let db = args.db.clone().unwrap_or_else(default_db);
        let store = Store::open(&db).await.with_context(|| {
            format!("opening the database {} (pass --db PATH to use another)", store::redacted(&db))
        })?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}; is another server there? pass --addr", args.addr))?;
        let addr = listener.local_addr()?;
        // The first line of stdout is the address: scripts and tests read it.
        println!("listening on http://{addr}");
        eprintln!("database: {}", store::redacted(&db));
        eprintln!("access: {}", access.describe());
        use std::io::Write as _;
        std::io::stdout().flush().ok();
        let app = router(store.clone(), access, args.dist.clone(), args.static_dir.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("serving")?;
        // Accepted requests have finished (graceful shutdown waits); close the pool cleanly so
        // the WAL is checkpointed.
        store.close().await;
        Ok(crate::Outcome::Ok)
    })
}

/// The companion server inside another command (`accelbench run`): same router and database, on
/// a free loopback port, stopped (gracefully, WAL checkpointed) by [`InProcess::stop`].
pub struct InProcess {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    pub async fn start(db: &str, dist: PathBuf, static_dir: PathBuf) -> anyhow::Result<InProcess> {
        let store = Store::open(db)
            .await
            .with_context(|| format!("opening the database {} (pass --db PATH to use another)", store::redacted(db)))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
        let url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(store.clone(), access::Access::loopback(), dist, static_dir)
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .context("serving")?;
            store.close().await;
            Ok(())
        });
        Ok(InProcess { url, stop: Some(tx), task })
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.context("the server task panicked")?
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
    eprintln!("shutting down: finishing requests in flight");
}

async fn health(State(s): State<AppState>) -> ApiResult {
    let records = s.store.count_records().await?;
    Ok(Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into(), records }).into_response())
}

async fn backends() -> ApiResult {
    let list = tokio::task::spawn_blocking(crate::native::describe_backends)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(list).into_response())
}

/// POST /runs: a [`RunUpload`], validated field by field.
async fn post_run(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let body = body.map_err(too_large)?;
    let upload = RunUpload::from_json(&body).map_err(|e| {
        let code = if e.is_syntax() { StatusCode::BAD_REQUEST } else { StatusCode::UNPROCESSABLE_ENTITY };
        ApiError(code, e.to_string())
    })?;
    let stored = s.store.insert_run(&upload.id, &upload.source, RunStatus::Done, &upload.records).await?;
    let (code, message) = if stored {
        (StatusCode::CREATED, "stored")
    } else {
        (StatusCode::OK, "a run with this id is already stored; nothing changed")
    };
    let answer = RunStored { id: upload.id, stored, records: upload.records.len(), message: message.into() };
    Ok((code, Json(answer)).into_response())
}

async fn list_runs(State(s): State<AppState>, Query(f): Query<RunFilter>) -> ApiResult {
    Ok(Json(s.store.list_runs(&f).await?).into_response())
}

/// GET /series: each matching measurement's history over stored runs, with change points.
async fn series(State(s): State<AppState>, Query(f): Query<SeriesFilter>) -> ApiResult {
    let metric =
        crate::history::metric(f.metric.as_deref()).map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    Ok(Json(crate::history::read(&s.store, &f, metric).await?).into_response())
}

async fn get_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    match s.store.get_run(&id).await? {
        Some((run, records)) => Ok(Json(RunDetail { run, records }).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no run {id:?}; GET /api/v1/runs lists them"))),
    }
}

/// POST /native/runs: starts a native run and returns its id at once; GET /runs/{id} shows
/// records as they are stored and the status (`running`, `done`, `failed`).
async fn post_native_run(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let body = body.map_err(too_large)?;
    let req: NativeRunRequest = serde_json::from_slice(if body.is_empty() { b"{}" } else { &body })
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad native run request: {e}")))?;
    let selection =
        crate::native::Selection { kernels: req.kernels, cases: req.cases, sweeps: req.sweeps, ..Default::default() };
    let mut plan = NativePlan::new(&selection, req.quick, &req.backends, req.adapter, req.seed, req.budget)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let id = format!("native-{}-{:08x}", now.as_millis(), std::process::id() ^ now.subsec_nanos());
    // The records carry the id they are stored under.
    plan.run_id.clone_from(&id);
    s.store.insert_run(&id, "native", RunStatus::Running, &[]).await?;
    let (store, lock, run_id) = (s.store.clone(), s.native_lock.clone(), id.clone());
    let handle = tokio::runtime::Handle::current();
    tokio::spawn(async move {
        let _guard = lock.lock().await;
        let st = store.clone();
        let rid = run_id.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut seq = 0i64;
            plan.collect(|r| {
                handle.block_on(st.append_record(&rid, seq, &r))?;
                seq += 1;
                Ok(())
            })
        })
        .await;
        let (status, message) = match result {
            Ok(Ok(())) => (RunStatus::Done, None),
            Ok(Err(e)) => (RunStatus::Failed, Some(format!("{e:#}"))),
            Err(e) => (RunStatus::Failed, Some(format!("the native run panicked: {e}"))),
        };
        if let Err(e) = store.set_status(&run_id, status, message.as_deref()).await {
            eprintln!("error: recording the end of run {run_id}: {e}");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(NativeRunStarted { id, status: RunStatus::Running })).into_response())
}

async fn compare(State(s): State<AppState>, Query(q): Query<CompareQuery>) -> ApiResult {
    let threshold = match &q.threshold {
        Some(t) => crate::results::parse_threshold(t).map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e))?,
        None => 0.05,
    };
    let fetch =
        |id: String| {
            let store = s.store.clone();
            async move {
                store.get_run(&id).await?.map(|(_, r)| r).ok_or_else(|| {
                    ApiError(StatusCode::NOT_FOUND, format!("no run {id:?}; GET /api/v1/runs lists them"))
                })
            }
        };
    let (base, cand) = (fetch(q.base.clone()).await?, fetch(q.candidate.clone()).await?);
    let matches = compare_runs(&base, &cand, threshold).into_iter().map(Comparison::into_row).collect();
    Ok(Json(CompareResponse { base: q.base, candidate: q.candidate, threshold, matches }).into_response())
}
