//! Who may do what on the companion server: bearer tokens for writes (and, if asked, reads),
//! a per-client write rate, and native runs on request only where they are allowed.
//!
//! On loopback the server trusts its own machine, as before. Beyond loopback anyone who can
//! reach the port could store runs or start GPU work, so `serve` refuses to listen there
//! without a write token, and `POST /native/runs` stays off unless asked for.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::ApiError;

/// Shorter secrets are guessable over the network at the write rate allowed here.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the token file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "the token file {path} holds {len} characters; a token needs at least {MIN_TOKEN_LEN} (make one with `head -c 32 /dev/urandom | base64 > {path}`)"
    )]
    TooShort { path: PathBuf, len: usize },
    #[error("the token file {path} is not one line of printable ASCII (an HTTP header must carry it)")]
    NotPrintable { path: PathBuf },
    #[error(
        "refusing to listen on {addr} without --write-token-file: anyone who can reach it could store runs; \
         make a token with `head -c 32 /dev/urandom | base64 > token` and pass --write-token-file token, \
         or listen on loopback (--addr 127.0.0.1:8700)"
    )]
    OpenBeyondLoopback { addr: SocketAddr },
}

/// A shared secret, read from a file so that it is not in the process list or shell history.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    pub fn from_file(path: &Path) -> Result<Token, AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read { path: path.into(), source })?;
        let token = text.trim();
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AccessError::NotPrintable { path: path.into() });
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(AccessError::TooShort { path: path.into(), len: token.len() });
        }
        Ok(Token(token.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant time in the token's content: a wrong guess takes as long wherever it differs.
    fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

/// The server's access rules, checked by [`guard`] before every request.
#[derive(Clone)]
pub struct Access {
    write: Option<Token>,
    read: Option<Token>,
    native_runs: bool,
    limiter: Arc<RateLimiter>,
}

impl Access {
    /// Loopback without tokens: what `accelbench run`'s in-process server uses.
    pub fn loopback() -> Access {
        Access { write: None, read: None, native_runs: true, limiter: Arc::new(RateLimiter::new(0)) }
    }

    /// The rules for `serve --addr ADDR`: refuses an address beyond loopback without a write
    /// token; native runs on request there only with `allow_native_runs`.
    pub fn for_addr(
        addr: SocketAddr,
        write: Option<Token>,
        read: Option<Token>,
        allow_native_runs: bool,
        writes_per_minute: u32,
    ) -> Result<Access, AccessError> {
        let loopback = addr.ip().is_loopback();
        if !loopback && write.is_none() {
            return Err(AccessError::OpenBeyondLoopback { addr });
        }
        Ok(Access {
            write,
            read,
            native_runs: loopback || allow_native_runs,
            limiter: Arc::new(RateLimiter::new(writes_per_minute)),
        })
    }

    /// One line for the server's log: what is protected.
    pub fn describe(&self) -> String {
        let w = if self.write.is_some() { "writes need the write token" } else { "writes open (loopback)" };
        let r = if self.read.is_some() { "reads need a token" } else { "reads open" };
        let n = if self.native_runs { "native runs on request on" } else { "native runs on request off" };
        format!("{w}, {r}, {n}")
    }
}

fn bearer(req: &Request) -> Option<&[u8]> {
    let value = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    // The scheme is case-insensitive (RFC 9110 11.1).
    (value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ")).then(|| value[7..].trim_ascii())
}

fn unauthorized(what: &str, flag: &str) -> Response {
    let mut r = ApiError(
        StatusCode::UNAUTHORIZED,
        format!("{what} needs the server's token as `Authorization: Bearer TOKEN` (accelbench: {flag} FILE)"),
    )
    .into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"accelbench\""));
    r
}

/// The access middleware: writes (anything but GET/HEAD/OPTIONS) need the write token when
/// one is set and are rate limited per client address; API reads need the read (or write)
/// token when one is set, except `/health`, which load balancers probe.
pub async fn guard(
    State(access): State<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/");
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if write {
        // Refused writes count too: they are how a token would be guessed.
        if let Err(wait) = access.limiter.admit(peer.ip(), Instant::now()) {
            let mut r = ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "more than {} writes a minute from {}; retry in {} s (or raise --max-writes-per-minute)",
                    access.limiter.per_minute,
                    peer.ip(),
                    wait.as_secs().max(1)
                ),
            )
            .into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
            return r;
        }
        if let Some(t) = &access.write
            && !bearer(&req).is_some_and(|b| t.matches(b))
        {
            return unauthorized("writing", "--write-token-file");
        }
        if path.trim_end_matches('/') == "/api/v1/native/runs" && !access.native_runs {
            return ApiError(
                StatusCode::FORBIDDEN,
                "native runs on request are off on a server listening beyond loopback; start it with --allow-native-runs"
                    .into(),
            )
            .into_response();
        }
    } else if api
        && path != "/api/v1/health"
        && let Some(t) = &access.read
    {
        let ok = bearer(&req).is_some_and(|b| t.matches(b) || access.write.as_ref().is_some_and(|w| w.matches(b)));
        if !ok {
            return unauthorized("reading", "--read-token-file");
        }
    }
    next.run(req).await
}

/// A token bucket per client address: `per_minute` writes a minute, in bursts of as many.
/// Zero is no limit.
struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one write from `ip`'s bucket, or says how long until one is there.
    fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget clients whose bucket is full again, so the map cannot grow without bound.
        if buckets.len() > 10_000 {
            buckets.retain(|_, (level, at)| *level + now.duration_since(*at).as_secs_f64() * rate < cap);
        }
        let (level, at) = buckets.entry(ip).or_insert((cap, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *level) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_admits_a_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(l.admit(ip, t0).is_ok());
        }
        let wait = l.admit(ip, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        // Another client has its own bucket.
        assert!(l.admit("10.0.0.2".parse().unwrap(), t0).is_ok());
        assert!(l.admit(ip, t0 + Duration::from_millis(1001)).is_ok());
        assert!(l.admit(ip, t0 + Duration::from_millis(1002)).is_err());
    }

    #[test]
    fn tokens_must_be_long_printable_and_beyond_loopback_is_refused_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").unwrap();
        assert!(matches!(Token::from_file(&short), Err(AccessError::TooShort { len: 3, .. })));
        let spaced = dir.path().join("spaced");
        std::fs::write(&spaced, "abcdefgh ijklmnopq").unwrap();
        assert!(matches!(Token::from_file(&spaced), Err(AccessError::NotPrintable { .. })));
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
        let t = Token::from_file(&good).unwrap();
        assert!(t.matches(b"0123456789abcdef0123") && !t.matches(b"0123456789abcdef0124") && !t.matches(b"0123"));

        let any: SocketAddr = "0.0.0.0:8700".parse().unwrap();
        let err = Access::for_addr(any, None, None, false, 0).err().unwrap().to_string();
        assert!(err.contains("0.0.0.0:8700") && err.contains("--write-token-file"), "{err}");
        let a = Access::for_addr(any, Some(t.clone()), None, false, 0).unwrap();
        assert!(!a.native_runs);
        assert!(Access::for_addr("127.0.0.1:0".parse().unwrap(), None, None, false, 0).unwrap().native_runs);
    }
}
