//! `window.accelbench`: the one documented contract between the page and a WebDriver runner.
//! Values cross as JSON of `harness::schema` types (`PageRunConfig` in; `PageState`,
//! `PageEnvironment` and schema v1 `Record`s out), so both sides share one definition.
//!
//! - `start(config?) -> run id` (throws with the fix when the config or the moment is wrong)
//! - `state() -> PageState`, `environment() -> PageEnvironment | null`
//! - `records(since = 0) -> Record[]` (the records from index `since` on, as they arrive)
//! - `errors() -> string[]` (page errors, unhandled rejections and panics, in order)
//! - `cancel()` (stops after the current sample; the records so far stay)
//! - `schemaVersion`

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;

use harness::schema::PageRunConfig;

use crate::{js, state, suite};

/// The global array that index.html's inline script fills with page errors before the wasm loads.
pub const ERRORS_GLOBAL: &str = "__accelbenchErrors";

fn to_js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap_or(JsValue::NULL)
}

fn set_fn<F: ?Sized + wasm_bindgen::closure::WasmClosure>(obj: &Object, name: &str, f: Closure<F>) {
    let _ = Reflect::set(obj, &name.into(), f.as_ref());
    // The bridge lives as long as the page.
    f.forget();
}

fn throw(msg: String) -> JsValue {
    js_sys::Error::new(&msg).into()
}

fn parse_config(v: &JsValue) -> Result<PageRunConfig, String> {
    if v.is_undefined() || v.is_null() {
        return Ok(PageRunConfig::default());
    }
    let text = js_sys::JSON::stringify(v).map(String::from).map_err(|e| js::error_message(&e))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "invalid run config ({e}); fields: kernels, size (quick|full), backends (auto|webgpu|wasm|webnn), \
             seed, budget_s, min_samples, dtypes, modes (inference|training), commit, flags, post, run_id, skip, \
             shuffle, shard ({{index, count}}), fault, cases (KERNEL:key=value,...), sweeps (KERNEL:key=v1,v2 or \
             key=LO..HIxF)"
        )
    })
}

/// Appends a message to the page's error list (also used by the panic hook).
pub fn push_error(msg: &str) {
    let win: JsValue = js::window().into();
    let mut list = js::get(&win, ERRORS_GLOBAL);
    if !js_sys::Array::is_array(&list) {
        list = js_sys::Array::new().into();
        let _ = Reflect::set(&win, &ERRORS_GLOBAL.into(), &list);
    }
    js_sys::Array::from(&list).push(&msg.into());
}

pub fn install() {
    let obj = Object::new();
    set_fn(
        &obj,
        "start",
        Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(|config: JsValue| {
            let config = parse_config(&config).map_err(throw)?;
            suite::start(&config).map(|id| JsValue::from_str(&id)).map_err(throw)
        }),
    );
    set_fn(
        &obj,
        "state",
        Closure::<dyn Fn() -> JsValue>::new(|| {
            let st = state::read(|s| s.page_state(js::now_ms()));
            to_js(&serde_json::to_string(&st).unwrap_or_default())
        }),
    );
    set_fn(
        &obj,
        "environment",
        Closure::<dyn Fn() -> JsValue>::new(|| {
            state::read(|s| s.env.as_ref().map(|e| to_js(&serde_json::to_string(e).unwrap_or_default())))
                .unwrap_or(JsValue::NULL)
        }),
    );
    set_fn(
        &obj,
        "records",
        Closure::<dyn Fn(JsValue) -> JsValue>::new(|since: JsValue| {
            let since = since.as_f64().unwrap_or(0.0).max(0.0) as usize;
            let json =
                state::read(|s| serde_json::to_string(s.records.get(since..).unwrap_or(&[])).unwrap_or_default());
            to_js(&json)
        }),
    );
    set_fn(
        &obj,
        "errors",
        Closure::<dyn Fn() -> JsValue>::new(|| {
            let list = js::get(&js::window().into(), ERRORS_GLOBAL);
            if js_sys::Array::is_array(&list) {
                js_sys::Array::from(&list).slice(0, u32::MAX).into()
            } else {
                js_sys::Array::new().into()
            }
        }),
    );
    set_fn(
        &obj,
        "cancel",
        Closure::<dyn Fn()>::new(|| {
            state::update(|s| s.cancel_requested = true);
        }),
    );
    let _ = Reflect::set(&obj, &"schemaVersion".into(), &JsValue::from(harness::schema::SCHEMA_VERSION));
    let _ = Reflect::set(&js::window().into(), &"accelbench".into(), &obj);
}
