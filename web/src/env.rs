//! What the page finds in its browser on load: browser and version, cross-origin isolation, the
//! measured resolution of `performance.now()`, the companion server, the WebGPU adapter (or
//! exactly why there is none and what would give one), and whether WebNN gives a context.

use harness::schema::{BrowserInfo, PageEnvironment, WebnnSupport};
use wasm_bindgen::JsValue;

use crate::js;

/// The suite commit the page was built from (web/build.rs); a driver may override it per run.
pub const BUILD_COMMIT: &str = env!("ACCELBENCH_COMMIT");

/// Browser name (`chrome`, `firefox`, `edge`, `safari`) and version from the user agent.
pub fn parse_user_agent(ua: &str) -> (String, String) {
    let version_after = |key: &str| {
        ua.split(key).nth(1).map(|rest| rest.split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap_or(""))
    };
    for (key, name) in [("Firefox/", "firefox"), ("Edg/", "edge"), ("HeadlessChrome/", "chrome"), ("Chrome/", "chrome")]
    {
        if let Some(v) = version_after(key) {
            return (name.to_owned(), v.to_owned());
        }
    }
    if ua.contains("Safari/") {
        return ("safari".into(), version_after("Version/").unwrap_or("").to_owned());
    }
    ("unknown".into(), String::new())
}

/// Why the browser gives no WebGPU, and the fix for this browser.
fn webgpu_hint(browser: &str, secure: bool) -> &'static str {
    if !secure {
        return "WebGPU needs a secure context: open the page over https or from localhost/127.0.0.1";
    }
    match browser {
        "firefox" => {
            "in Firefox set dom.webgpu.enabled and gfx.webgpu.ignore-blocklist to true in about:config \
             (Firefox ESR 140+), or use Firefox 141+ on Windows"
        }
        "chrome" | "edge" => {
            "Chrome/Edge 113+ enable WebGPU on supported GPUs; without a GPU (or on Linux) start it with \
             --enable-unsafe-webgpu (headless: also --no-sandbox as root)"
        }
        "safari" => "Safari 26+ has WebGPU; earlier versions need it enabled under Develop > Feature Flags",
        _ => "use Chrome 113+, Edge 113+, Safari 26+ or Firefox with dom.webgpu.enabled",
    }
}

pub async fn detect(flags: Vec<String>) -> (PageEnvironment, Option<wgpu::Adapter>) {
    let window = js::window();
    let nav = window.navigator();
    let ua = nav.user_agent().unwrap_or_default();
    let (name, version) = parse_user_agent(&ua);
    let win: &JsValue = window.as_ref();
    let isolated = js::get(win, "crossOriginIsolated").as_bool().unwrap_or(false);
    let secure = js::get(win, "isSecureContext").as_bool().unwrap_or(false);
    let browser = BrowserInfo {
        name: name.clone(),
        version,
        user_agent: ua,
        flags,
        cross_origin_isolated: isolated,
        webdriver: None,
    };
    let server = matches!(js::fetch_text("GET", "/api/v1/health", None).await, Ok((200, _)));

    let (webgpu, adapter, missing) = match request_adapter(&nav, &name, secure).await {
        Ok((adapter, js_info, browser_features)) => {
            let mut report = harness::gpu::adapter_report(&adapter);
            report.browser_features = browser_features;
            // wgpu fills only the description from GPUAdapterInfo; the rest comes from JS.
            let vendor = js::get_string(&js_info, "vendor");
            let arch = js::get_string(&js_info, "architecture");
            let device = js::get_string(&js_info, "device");
            report.vendor = vendor.clone();
            report.device = if device.is_empty() { arch.clone() } else { device };
            report.driver = arch.clone();
            if report.name.is_empty() {
                report.name = [vendor.as_str(), arch.as_str()].join(" ").trim().to_owned();
            }
            if report.name.is_empty() {
                report.name = format!("{name} WebGPU adapter (the browser reports no adapter strings)");
            }
            if let Some(flag) = js::get(&js_info, "isFallbackAdapter").as_bool() {
                report.is_fallback_adapter = Some(flag);
                report.fallback |= flag;
            }
            report.fallback |= arch.contains("swiftshader");
            (Some(report), Some(adapter), None)
        }
        Err(why) => (None, None, Some(why)),
    };
    let env = PageEnvironment {
        browser,
        webgpu,
        webgpu_missing: missing,
        host_clock_resolution_ns: harness::clock::resolution_ns(),
        server,
        commit: BUILD_COMMIT.to_owned(),
        webnn: detect_webnn(&nav, &name).await,
        // performance.now() counts from navigation start.
        ready_ms: js::now_ms(),
    };
    (env, adapter)
}

/// WebNN: `navigator.ml.createContext` for each device type, most capable first; the first that
/// works, or every error (a browser may expose the API without a backend for this platform).
async fn detect_webnn(nav: &web_sys::Navigator, browser: &str) -> WebnnSupport {
    let ml = js::get(nav.as_ref(), "ml");
    if ml.is_undefined() || ml.is_null() {
        let hint = match browser {
            "chrome" | "edge" => {
                "start it with --enable-features=WebMachineLearningNeuralNetwork (accelbench run does) \
                 on a platform with a WebNN backend"
            }
            _ => "this browser has no WebNN",
        };
        return WebnnSupport { context: None, missing: Some(format!("navigator.ml is undefined: {hint}")) };
    }
    let Some(create) = js_sys::Reflect::get(&ml, &"createContext".into())
        .ok()
        .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok())
    else {
        return WebnnSupport { context: None, missing: Some("navigator.ml.createContext is not a function".into()) };
    };
    let mut errors = Vec::new();
    for device in ["gpu", "npu", "cpu"] {
        let opts = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&opts, &"deviceType".into(), &device.into());
        let created = match create.call1(&ml, &opts) {
            Ok(p) => js::await_promise(p).await,
            Err(e) => Err(js::error_message(&e)),
        };
        match created {
            Ok(_) => return WebnnSupport { context: Some(device.to_owned()), missing: None },
            Err(e) => errors.push(format!("{device}: {e}")),
        }
    }
    WebnnSupport { context: None, missing: Some(format!("navigator.ml.createContext failed ({})", errors.join("; "))) }
}

/// The wgpu adapter plus the JS `GPUAdapterInfo` (for the strings wgpu does not carry).
async fn request_adapter(
    nav: &web_sys::Navigator,
    browser: &str,
    secure: bool,
) -> Result<(wgpu::Adapter, JsValue, Vec<String>), String> {
    let gpu = js::get(nav.as_ref(), "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Err(format!("navigator.gpu is undefined: {}", webgpu_hint(browser, secure)));
    }
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"powerPreference".into(), &"high-performance".into());
    let request = js_sys::Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok())
        .ok_or("navigator.gpu.requestAdapter is not a function")?;
    let js_adapter = js::await_promise(request.call1(&gpu, &opts).map_err(|e| js::error_message(&e))?).await?;
    if js_adapter.is_null() || js_adapter.is_undefined() {
        return Err(format!("navigator.gpu.requestAdapter() returned null: {}", webgpu_hint(browser, secure)));
    }
    let browser_features = setlike_strings(&js::get(&js_adapter, "features"));
    let mut info = js::get(&js_adapter, "info");
    if info.is_undefined() {
        info = js_sys::Object::new().into();
    }
    // Older browsers put the flag on the adapter, newer ones on its info.
    if js::get(&info, "isFallbackAdapter").is_undefined() {
        let flag = js::get(&js_adapter, "isFallbackAdapter");
        if !flag.is_undefined() {
            let copy = js_sys::Object::assign(&js_sys::Object::new(), &info.clone().into());
            let _ = js_sys::Reflect::set(&copy, &"isFallbackAdapter".into(), &flag);
            info = copy.into();
        }
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("wgpu found no WebGPU adapter ({e}): {}", webgpu_hint(browser, secure)))?;
    Ok((adapter, info, browser_features))
}

/// The entries of a JS set-like of strings (`GPUSupportedFeatures`), sorted.
fn setlike_strings(set: &JsValue) -> Vec<String> {
    let values = js_sys::Reflect::get(set, &"values".into())
        .ok()
        .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok())
        .and_then(|f| f.call0(set).ok());
    let mut out: Vec<String> = values
        .and_then(|it| js_sys::try_iter(&it).ok().flatten())
        .map(|it| it.filter_map(|v| v.ok()?.as_string()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::parse_user_agent;

    #[test]
    fn user_agents() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.7500.1 Safari/537.36";
        assert_eq!(parse_user_agent(chrome), ("chrome".into(), "156.0.7500.1".into()));
        let ff = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
        assert_eq!(parse_user_agent(ff), ("firefox".into(), "153.0".into()));
    }
}
