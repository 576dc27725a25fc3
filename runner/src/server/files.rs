//! The served folders (`dist/`, `static/`) as routes that cannot leave them: tower-http's
//! ServeDir refuses `..` but follows symbolic links wherever they point, so a link inside a
//! served folder (planted, or left by a build) would serve any file the server can read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

/// A router serving `dir`, refusing any request whose file resolves outside it.
pub fn confined(dir: &Path) -> Router {
    // A folder that does not exist yet serves nothing; its own path is the best root we have.
    let root = Arc::new(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    Router::new().fallback_service(ServeDir::new(dir)).layer(axum::middleware::from_fn_with_state(root, stay_inside))
}

async fn stay_inside(State(root): State<Arc<PathBuf>>, req: Request, next: Next) -> Response {
    let decoded = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy().into_owned();
    let relative = decoded.trim_start_matches('/');
    // ServeDir refuses these too; refusing here keeps `canonicalize` from ever seeing them.
    if relative.split(['/', '\\']).any(|c| c == "..") {
        return not_found();
    }
    match tokio::fs::canonicalize(root.join(relative)).await {
        Ok(real) if !real.starts_with(&*root) => not_found(),
        // Inside, or missing (ServeDir answers 404 itself).
        _ => next.run(req).await,
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}
