//! Small typed helpers over the browser's JS objects (reflection, timers, fetch), so the rest of
//! the page reads as Rust.

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("the page runs in a window")
}

pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn get_string(obj: &JsValue, key: &str) -> String {
    get(obj, key).as_string().unwrap_or_default()
}

/// Yields to the event loop (a zero-delay timer), so input, rendering and the WebDriver's
/// scripts run between samples.
pub async fn yield_now() {
    sleep_ms(0).await;
}

pub async fn sleep_ms(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}

/// Awaits a JS promise, turning a rejection into its message.
pub async fn await_promise(p: JsValue) -> Result<JsValue, String> {
    let p: Promise = p.dyn_into().map_err(|v| format!("not a promise: {v:?}"))?;
    JsFuture::from(p).await.map_err(|e| error_message(&e))
}

pub fn error_message(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let msg = get_string(e, "message");
    if msg.is_empty() { format!("{e:?}") } else { msg }
}

/// GET or POST JSON text; returns (HTTP status, body text).
pub async fn fetch_text(method: &str, url: &str, body: Option<&str>) -> Result<(u16, String), String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(b));
        let headers = web_sys::Headers::new().map_err(|e| error_message(&e))?;
        headers.set("content-type", "application/json").map_err(|e| error_message(&e))?;
        init.set_headers(&headers);
    }
    let resp = await_promise(window().fetch_with_str_and_init(url, &init).into()).await?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| "fetch returned no Response".to_owned())?;
    let text = await_promise(resp.text().map_err(|e| error_message(&e))?.into()).await?;
    Ok((resp.status(), text.as_string().unwrap_or_default()))
}

/// Offers `text` as a file download.
pub fn download(filename: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts).map_err(|e| error_message(&e))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| error_message(&e))?;
    let doc = window().document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement =
        doc.create_element("a").map_err(|e| error_message(&e))?.dyn_into().map_err(|_| "not an anchor")?;
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
