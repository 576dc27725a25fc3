//! The benchmark page: installs the panic hook and the WebDriver bridge, detects the browser's
//! WebGPU, then mounts the Yew app (or, at `/dashboard`, the dashboard of stored runs).
//! Everything here runs on wasm32 in a browser tab.

mod bridge;
mod charts;
mod dashboard;
mod env;
mod js;
mod state;
mod suite;
mod ui;
mod webnn;

fn main() {
    // A panic becomes a page error the driver can read (`accelbench.errors()`), not a silent hang.
    std::panic::set_hook(Box::new(|info| {
        let msg = format!("panic: {info}");
        web_sys::console::error_1(&msg.clone().into());
        // The wasm instance is dead after a panic (panic = abort), so the bridge's functions stop
        // working; the driver sees the error through this array, which plain JS owns.
        bridge::push_error(&msg);
    }));
    // `accelbench serve` answers /dashboard with this same page: the stored runs, not a run.
    if js::window().location().pathname().is_ok_and(|p| p.trim_end_matches('/').ends_with("/dashboard")) {
        yew::Renderer::<dashboard::Dashboard>::new().render();
        return;
    }
    bridge::install();
    yew::Renderer::<ui::App>::new().render();
    wasm_bindgen_futures::spawn_local(async {
        // Flags are only known to whoever launched the browser; a driver passes them per run.
        let (env, adapter) = env::detect(vec![]).await;
        state::update(|s| {
            s.env = Some(env);
            s.adapter = adapter;
            s.phase = Some(state::Phase::Idle);
        });
    });
}
