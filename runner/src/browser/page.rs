//! One WebDriver session on the benchmark page, driven through its bridge (`window.accelbench`,
//! see web/src/bridge.rs): load, wait for the environment, start a run, poll state, records and
//! page errors. Every WebDriver command has a deadline, so a hung page or browser becomes an
//! error here instead of a stalled runner.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use fantoccini::wd::TimeoutConfiguration;
use harness::schema::{PageEnvironment, PageRunConfig, PageState, Record};
use serde_json::{Value, json};

use super::Browser;
use super::driver::Driver;
use super::endpoints::Endpoint;

pub struct PageSession {
    client: fantoccini::Client,
    /// None when driving a remote WebDriver endpoint.
    driver: Option<Driver>,
    pub browser: Browser,
    /// Deadline of one WebDriver command.
    command_timeout: Duration,
}

impl std::fmt::Debug for PageSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSession").field("browser", &self.browser).field("driver", &self.driver).finish()
    }
}

/// What one poll of the page returns.
#[derive(Debug)]
pub struct Poll {
    pub state: PageState,
    pub records: Vec<Record>,
    pub errors: Vec<String>,
}

impl PageSession {
    /// Opens a headless session at `endpoint`, or (`None`, or an endpoint without a URL) on a
    /// driver started here for this session.
    pub async fn open(
        browser: Browser,
        endpoint: Option<&Endpoint>,
        command_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let endpoint = endpoint.unwrap_or(&Endpoint::LOCAL);
        let (driver, url, profile) = match &endpoint.url {
            Some(u) => (None, u.clone(), None),
            None => {
                if browser.binary().is_none() {
                    bail!("{} is not installed; install it: {}", browser.name(), browser.install_hint());
                }
                let d = tokio::task::spawn_blocking(move || {
                    Driver::spawn(browser.driver(), |scratch| browser.driver_args(scratch), browser.install_hint())
                })
                .await??;
                let profile = d.scratch().join("profile");
                std::fs::create_dir_all(&profile)?;
                let url = d.url.clone();
                (Some(d), url, Some(profile))
            }
        };
        let mut caps = browser.capabilities(profile.as_deref().unwrap_or(std::path::Path::new("")));
        for options in ["goog:chromeOptions", "moz:firefoxOptions"] {
            let Some(Value::Object(o)) = caps.get_mut(options) else { continue };
            if profile.is_none() {
                // An endpoint manages its own profiles.
                if let Some(Value::Array(args)) = o.get_mut("args") {
                    args.retain(|a| !a.as_str().is_some_and(|s| s.starts_with("--user-data-dir")));
                }
            }
            if !endpoint.is_here() {
                // This machine's browser path means nothing on another machine.
                o.remove("binary");
            }
        }
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = fantoccini::ClientBuilder::new(connector);
        let connect = builder.capabilities(caps).connect(&url);
        let client = match tokio::time::timeout(Duration::from_secs(90), connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let tail = driver.as_ref().map(|d| d.log_tail(15)).unwrap_or_default();
                bail!("could not open a {} session at {url}: {e}\n{tail}", browser.name())
            }
            Err(_) => bail!("opening a {} session at {url} took over 90 s", browser.name()),
        };
        // Our own deadlines govern; the W3C default script timeout (30 s) would cut long polls.
        let timeouts = TimeoutConfiguration::new(Some(command_timeout), Some(command_timeout), None);
        client.update_timeouts(timeouts).await.context("setting WebDriver timeouts")?;
        Ok(PageSession { client, driver, browser, command_timeout })
    }

    async fn exec(&self, what: &str, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        match tokio::time::timeout(self.command_timeout, self.client.execute(script, args)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(anyhow!("{} {what}: {e}{}", self.browser.name(), self.driver_tail())),
            Err(_) => Err(anyhow!(
                "{} did not answer `{what}` within {} s: the page's main thread is blocked or the browser hung",
                self.browser.name(),
                self.command_timeout.as_secs()
            )),
        }
    }

    fn driver_tail(&self) -> String {
        self.driver
            .as_ref()
            .map(|d| format!("\n{} log:\n{}", self.browser.driver(), d.log_tail(10)))
            .unwrap_or_default()
    }

    /// Opens the page and waits until its bridge has detected the environment.
    pub async fn load(&self, url: &str, within: Duration) -> anyhow::Result<PageEnvironment> {
        tokio::time::timeout(self.command_timeout, self.client.goto(url))
            .await
            .map_err(|_| anyhow!("loading {url} took over {} s", self.command_timeout.as_secs()))?
            .with_context(|| format!("{} could not load {url}", self.browser.name()))?;
        let start = std::time::Instant::now();
        loop {
            let v = self
                .exec(
                    "waiting for the page",
                    "const a = window.accelbench; \
                     return { phase: a ? a.state().phase : null, env: a ? a.environment() : null, \
                              errors: window.__accelbenchErrors || null };",
                    vec![],
                )
                .await?;
            if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
                bail!("the page reported errors while loading: {}", join_errors(errors));
            }
            if v["errors"].is_null() {
                bail!("{url} is not the accelbench page (no error hook); is --dist the built page (trunk build)?");
            }
            if v["phase"].as_str().is_some_and(|p| p != "loading") && !v["env"].is_null() {
                return serde_json::from_value(v["env"].clone())
                    .context("the page's environment() is not a PageEnvironment");
            }
            if start.elapsed() > within {
                bail!("the page did not finish loading within {} s (phase {})", within.as_secs(), v["phase"]);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts a run; the page checks the config and says what is wrong with it.
    pub async fn start(&self, config: &PageRunConfig) -> anyhow::Result<String> {
        let v = self.exec("start()", "return window.accelbench.start(arguments[0]);", vec![json!(config)]).await?;
        v.as_str().map(str::to_owned).ok_or_else(|| anyhow!("start() returned {v} instead of a run id"))
    }

    /// State, the records from index `since` and the page errors from index `errors_since`, in
    /// one round trip.
    pub async fn poll(&self, since: usize, errors_since: usize) -> anyhow::Result<Poll> {
        let v = self
            .exec(
                "state()",
                "const a = window.accelbench; \
                 return { state: a.state(), records: a.records(arguments[0]), \
                          errors: (window.__accelbenchErrors || []).slice(arguments[1]) };",
                vec![json!(since), json!(errors_since)],
            )
            .await?;
        let state: PageState =
            serde_json::from_value(v["state"].clone()).context("the page's state() is not a PageState")?;
        let mut records = Vec::new();
        for (i, r) in v["records"].as_array().cloned().unwrap_or_default().into_iter().enumerate() {
            records.push(harness::schema::record_from_value(r, since + i).context("the page sent a bad record")?);
        }
        let errors = v["errors"]
            .as_array()
            .map(|e| e.iter().map(|x| x.as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default();
        Ok(Poll { state, records, errors })
    }

    /// The WebDriver client, for driving the page as a person does (clicks, the DOM, screenshots).
    pub fn client(&self) -> &fantoccini::Client {
        &self.client
    }

    /// Runs `script` in the page with the session's deadline.
    pub async fn script(&self, what: &str, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.exec(what, script, args).await
    }

    /// After a failure: whether the browser or its driver died, and how (see
    /// [`Driver::what_died`]); None for a remote endpoint, whose processes are not ours.
    pub fn what_died(&mut self) -> Option<String> {
        self.driver.as_mut()?.what_died()
    }

    /// Ends the session and stops the driver and browser.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.close()).await;
        if let Some(mut d) = self.driver.take() {
            let _ = tokio::task::spawn_blocking(move || d.kill()).await;
        }
    }
}

fn join_errors(errors: &[Value]) -> String {
    errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")
}
