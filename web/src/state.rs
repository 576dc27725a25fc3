//! The page's one shared state: the environment found on load, the run in progress, its records
//! and the page's errors. The UI and the WebDriver bridge read it; `suite` writes progress and
//! records; listeners (the UI) are told after each change, and every component that shows any
//! of it subscribes itself through [`use_shared`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use yew::prelude::*;

use harness::schema::{PageEnvironment, PageProgress, PageRunConfig, PageState, Record};

pub use harness::schema::PagePhase as Phase;

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
    /// The record labels (`backend`) of the current run, in the order the page runs them.
    pub labels: Vec<String>,
    pub records: Vec<Record>,
    pub started_ms: f64,
    pub ended_ms: Option<f64>,
    pub error: Option<String>,
    pub posted: Option<bool>,
    pub cancel_requested: bool,
    listeners: Vec<(u64, Rc<dyn Fn()>)>,
    next_listener: u64,
}

impl Shared {
    pub fn phase(&self) -> Phase {
        self.phase.unwrap_or(Phase::Loading)
    }

    pub fn page_state(&self, now_ms: f64) -> PageState {
        PageState {
            phase: self.phase(),
            run_id: self.run_id.clone(),
            done: self.done,
            total: self.total,
            current: self.current.clone(),
            labels: self.labels.clone(),
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
        s.listeners.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>()
    });
    for l in listeners {
        l();
    }
}

/// Calls `l` after every change until [`unsubscribe`]d with the returned id.
pub fn subscribe(l: Rc<dyn Fn()>) -> u64 {
    SHARED.with(|s| {
        let mut s = s.borrow_mut();
        s.next_listener += 1;
        let id = s.next_listener;
        s.listeners.push((id, l));
        id
    })
}

pub fn unsubscribe(id: u64) {
    SHARED.with(|s| s.borrow_mut().listeners.retain(|(i, _)| *i != id));
}

/// Re-renders the calling component after changes of the shared state, at most every 100 ms
/// however often samples arrive. Each component that reads the state must call it: Yew skips a
/// child whose props did not change when its parent re-renders, so a parent's update never
/// reaches a child that reads the state on its own.
#[hook]
pub fn use_shared() {
    let update = use_force_update();
    use_effect_with((), move |_| {
        let pending = Rc::new(Cell::new(false));
        let alive = Rc::new(Cell::new(true));
        let id = {
            let alive = alive.clone();
            subscribe(Rc::new(move || {
                if pending.replace(true) {
                    return;
                }
                let (pending, update, alive) = (pending.clone(), update.clone(), alive.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    crate::js::sleep_ms(100).await;
                    pending.set(false);
                    if alive.get() {
                        update.force_update();
                    }
                });
            }))
        };
        move || {
            alive.set(false);
            unsubscribe(id);
        }
    });
}
