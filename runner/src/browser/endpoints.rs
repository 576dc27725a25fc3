//! Where the browsers are driven: the WebDriver endpoints given to `--webdriver-url` (each for
//! every browser, or for one as `chrome=URL`), else a driver per browser started here; and how
//! one suite spreads over them: every endpoint is a lane run side by side with the others, and
//! each browser's suite is split into one shard per endpoint that serves that browser.

use anyhow::{Context as _, bail};
use harness::schema::Shard;

use super::Browser;

/// One place sessions are opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The WebDriver URL; `None` for a local driver that `accelbench` starts per session.
    pub url: Option<String>,
    /// The one browser this endpoint drives (`chrome=URL`), or every browser of the run.
    pub only: Option<Browser>,
}

impl Endpoint {
    pub const LOCAL: Endpoint = Endpoint { url: None, only: None };

    /// `[BROWSER=]URL`, e.g. `http://127.0.0.1:4444` (a Selenium Grid) or
    /// `firefox=http://127.0.0.1:4445` (a geckodriver).
    pub fn parse(arg: &str) -> anyhow::Result<Endpoint> {
        let (only, url) = match arg.split_once('=') {
            Some((b, url)) if !b.contains("://") => {
                let browser = Browser::parse(b).with_context(|| {
                    format!("--webdriver-url {arg}: `{b}` is not a browser; write chrome=URL, firefox=URL or just URL")
                })?;
                (Some(browser), url)
            }
            _ => (None, arg),
        };
        let parsed = url::Url::parse(url).with_context(|| {
            format!("--webdriver-url {arg}: `{url}` is not a URL; give e.g. http://127.0.0.1:4444 or chrome=http://…")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            bail!("--webdriver-url {arg}: a WebDriver endpoint is an http:// or https:// URL with a host");
        }
        Ok(Endpoint { url: Some(url.to_owned()), only })
    }

    pub fn serves(&self, browser: Browser) -> bool {
        self.only.is_none_or(|b| b == browser)
    }

    /// How records name the endpoint: its URL with any password hidden; none for a local driver.
    pub fn label(&self) -> Option<String> {
        self.url.as_deref().map(crate::server::store::redacted)
    }

    /// Whether the browser behind this endpoint runs on this machine (a local driver, or a URL
    /// on loopback), so that this machine's browser binary may be named in the capabilities; a
    /// remote endpoint picks its own.
    pub fn is_here(&self) -> bool {
        let Some(url) = &self.url else { return true };
        match url::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }
}

/// The endpoints of a run: those given, else one local driver per browser.
pub fn from_args(args: &[String]) -> anyhow::Result<Vec<Endpoint>> {
    if args.is_empty() {
        return Ok(vec![Endpoint::LOCAL]);
    }
    args.iter().map(|a| Endpoint::parse(a)).collect()
}

/// One browser's share of the suite on one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub browser: Browser,
    /// `None` when this endpoint runs the browser's whole suite.
    pub shard: Option<Shard>,
}

/// What one endpoint runs, one assignment after another; lanes run side by side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    pub endpoint: Endpoint,
    /// The endpoint's position among the run's, to keep session ids apart.
    pub index: usize,
    pub work: Vec<Assignment>,
}

/// Spreads the browsers over the endpoints: each browser's suite in as many shards as there are
/// endpoints serving it. A browser no endpoint serves is an error naming the fix.
pub fn lanes(endpoints: &[Endpoint], browsers: &[Browser]) -> anyhow::Result<Vec<Lane>> {
    let mut lanes: Vec<Lane> =
        endpoints.iter().enumerate().map(|(index, e)| Lane { endpoint: e.clone(), index, work: vec![] }).collect();
    for &browser in browsers {
        let serving: Vec<usize> = (0..endpoints.len()).filter(|&i| endpoints[i].serves(browser)).collect();
        if serving.is_empty() {
            bail!(
                "no --webdriver-url serves {0}: add one for it ({0}=URL, or a URL without a browser for all), \
                 or leave {0} out of --browsers",
                browser.name()
            );
        }
        let count = serving.len();
        for (index, &lane) in serving.iter().enumerate() {
            let shard = (count > 1).then_some(Shard { index, count });
            lanes[lane].work.push(Assignment { browser, shard });
        }
    }
    lanes.retain(|l| !l.work.is_empty());
    Ok(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap()
    }

    #[test]
    fn endpoints_parse_with_or_without_a_browser_and_bad_ones_name_the_fix() {
        assert_eq!(parse("http://127.0.0.1:4444"), Endpoint { url: Some("http://127.0.0.1:4444".into()), only: None });
        assert_eq!(parse("firefox=http://h:1/wd/hub").only, Some(Browser::Firefox));
        assert_eq!(parse("http://h:1/wd/hub?x=y").only, None, "a `=` after the scheme is part of the URL");
        let err = |s: &str| format!("{:#}", Endpoint::parse(s).unwrap_err());
        assert!(err("safari=http://h:1").contains("`safari` is not a browser"), "{}", err("safari=http://h:1"));
        assert!(err("127.0.0.1:4444").contains("http://"), "{}", err("127.0.0.1:4444"));
        assert!(err("ftp://h:1").contains("http:// or https://"), "{}", err("ftp://h:1"));
        assert!(err("chrome=not a url").contains("is not a URL"), "{}", err("chrome=not a url"));
    }

    #[test]
    fn a_password_in_the_url_is_not_recorded_and_loopback_is_here() {
        let e = parse("https://me:secret@hub.example.com/wd/hub");
        assert_eq!(e.label().unwrap(), "https://me:***@hub.example.com/wd/hub");
        assert!(!e.is_here());
        assert!(parse("http://localhost:9515").is_here());
        assert!(parse("http://127.0.0.1:9515").is_here());
        assert!(parse("http://[::1]:9515").is_here());
        assert!(Endpoint::LOCAL.is_here() && Endpoint::LOCAL.label().is_none());
    }

    /// Two chromedrivers and a grid: Chrome in three shards, Firefox only on the grid; with no
    /// URL one local lane runs the browsers one after another, unsharded, as before.
    #[test]
    fn each_browser_is_sharded_over_the_endpoints_that_serve_it() {
        let eps = [parse("chrome=http://127.0.0.1:1"), parse("chrome=http://127.0.0.1:2"), parse("http://grid:4444")];
        let lanes = lanes(&eps, &[Browser::Chrome, Browser::Firefox]).unwrap();
        type Work = Vec<(Browser, Option<(usize, usize)>)>;
        let work: Vec<Work> = lanes
            .iter()
            .map(|l| l.work.iter().map(|a| (a.browser, a.shard.map(|s| (s.index, s.count)))).collect())
            .collect();
        assert_eq!(
            work,
            [
                vec![(Browser::Chrome, Some((0, 3)))],
                vec![(Browser::Chrome, Some((1, 3)))],
                vec![(Browser::Chrome, Some((2, 3))), (Browser::Firefox, None)],
            ]
        );
        let local = super::lanes(&from_args(&[]).unwrap(), &[Browser::Chrome, Browser::Firefox]).unwrap();
        assert_eq!(local.len(), 1);
        assert_eq!(
            local[0].work,
            [
                Assignment { browser: Browser::Chrome, shard: None },
                Assignment { browser: Browser::Firefox, shard: None }
            ]
        );
        let only_chrome = [parse("chrome=http://127.0.0.1:1")];
        let err = format!("{:#}", super::lanes(&only_chrome, &[Browser::Firefox]).unwrap_err());
        assert!(err.contains("no --webdriver-url serves firefox"), "{err}");
    }
}
