//! The page's one shared state: the environment found on load, the run in progress, its records
//! and the page's errors. The UI and the WebDriver bridge read it; `suite` writes progress and
//! records; listeners (the UI) are told after each change.

use std::cell::RefCell;
use std::rc::Rc;

use harness::schema::{PageEnvironment, PageProgress, PageRunConfig, PageState, Record};

/// How a run stands; the bridge's `phase` string is [`Phase::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Loading,
    Idle,
    Running,
    Done,
    Cancelled,
    Error,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Idle => "idle",
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Cancelled => "cancelled",
            Phase::Error => "error",
        }
    }
}

#[derive(Default)]
pub struct Shared {
    pub env: Option<PageEnvironment>,
    /// The adapter the environment reported; requested once, reused by every run.
    pub adapter: Option<wgpu::Adapter>,
    pub phase: Option<Phase>,
    pub config: Option<PageRunConfig>,
    pub run_id: Option<String>,
    pub done: usize,
    pub total: usize,
    pub current: Option<PageProgress>,
    pub records: Vec<Record>,
    pub started_ms: f64,
    pub ended_ms: Option<f64>,
    pub error: Option<String>,
    pub posted: Option<bool>,
    pub cancel_requested: bool,
    listeners: Vec<Rc<dyn Fn()>>,
}

impl Shared {
    pub fn phase(&self) -> Phase {
        self.phase.unwrap_or(Phase::Loading)
    }

    pub fn page_state(&self, now_ms: f64) -> PageState {
        PageState {
            phase: self.phase().name().to_owned(),
            run_id: self.run_id.clone(),
            done: self.done,
            total: self.total,
            current: self.current.clone(),
            records: self.records.len(),
            elapsed_ms: if self.started_ms > 0.0 { self.ended_ms.unwrap_or(now_ms) - self.started_ms } else { 0.0 },
            error: self.error.clone(),
            posted: self.posted,
        }
    }
}

thread_local! {
    static SHARED: RefCell<Shared> = RefCell::new(Shared::default());
}

/// Reads the shared state.
pub fn read<T>(f: impl FnOnce(&Shared) -> T) -> T {
    SHARED.with(|s| f(&s.borrow()))
}

/// Changes the shared state, then tells the listeners (outside the borrow, so they may read it).
pub fn update(f: impl FnOnce(&mut Shared)) {
    let listeners = SHARED.with(|s| {
        let mut s = s.borrow_mut();
        f(&mut s);
        s.listeners.clone()
    });
    for l in listeners {
        l();
    }
}

pub fn subscribe(l: Rc<dyn Fn()>) {
    SHARED.with(|s| s.borrow_mut().listeners.push(l));
}
