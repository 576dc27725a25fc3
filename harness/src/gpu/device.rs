//! Adapters and devices: what an adapter is and offers (for every record), opening a device with
//! the features the catalogue wants, its error handling, and whether it can run a plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::catalogue::Kernel;
use crate::plan::Plan;
use crate::schema::AdapterReport;

use super::GpuError;

/// WebGPU feature names we require by name in the catalogue.
fn feature_by_name(name: &str) -> Option<wgpu::Features> {
    match name {
        "shader-f16" => Some(wgpu::Features::SHADER_F16),
        "timestamp-query" => Some(wgpu::Features::TIMESTAMP_QUERY),
        "subgroups" => Some(wgpu::Features::SUBGROUP),
        _ => None,
    }
}

/// WGSL language extensions by their WGSL names (snake_case, where device features are
/// kebab-case, so one `// requires:` line can hold both).
const LANGUAGE_EXTENSIONS: &[(&str, wgpu::WgslLanguageFeatures)] = &[
    ("packed_4x8_integer_dot_product", wgpu::WgslLanguageFeatures::Packed4x8IntegerDotProduct),
    ("pointer_composite_access", wgpu::WgslLanguageFeatures::PointerCompositeAccess),
    ("readonly_and_readwrite_storage_textures", wgpu::WgslLanguageFeatures::ReadOnlyAndReadWriteStorageTextures),
    ("unrestricted_pointer_parameters", wgpu::WgslLanguageFeatures::UnrestrictedPointerParameters),
];

fn language_extension_by_name(name: &str) -> Option<wgpu::WgslLanguageFeatures> {
    LANGUAGE_EXTENSIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| f.clone())
}

/// The WGSL language extensions the executing implementation offers: natively naga's (wgpu
/// lowers them for every backend), in a browser `navigator.gpu.wgslLanguageFeatures`.
fn language_features(backend: wgpu::Backend) -> wgpu::WgslLanguageFeatures {
    let backends =
        if backend == wgpu::Backend::BrowserWebGpu { wgpu::Backends::BROWSER_WEBGPU } else { wgpu::Backends::empty() };
    let desc = wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() };
    wgpu::Instance::new(desc).wgsl_language_features()
}

fn language_feature_names(f: wgpu::WgslLanguageFeatures) -> Vec<String> {
    LANGUAGE_EXTENSIONS.iter().filter(|(_, e)| f.contains(e.clone())).map(|(n, _)| (*n).to_owned()).collect()
}

/// Features we ask for when the adapter has them: requirements of catalogue kernels, plus
/// timestamps for timing.
fn wanted_features() -> wgpu::Features {
    wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::PIPELINE_CACHE
}

fn backend_name(b: wgpu::Backend) -> &'static str {
    match b {
        wgpu::Backend::Vulkan => "vulkan",
        wgpu::Backend::Metal => "metal",
        wgpu::Backend::Dx12 => "dx12",
        wgpu::Backend::Gl => "gl",
        wgpu::Backend::BrowserWebGpu => "webgpu",
        _ => "noop",
    }
}

/// A snapshot of what an adapter is and offers, for every record it produces.
pub fn adapter_report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let name_l = info.name.to_lowercase();
    let software = ["llvmpipe", "lavapipe", "swiftshader", "softpipe", "warp"].iter().any(|s| name_l.contains(s));
    let features = adapter.features().iter_names().map(|(n, _)| n.to_lowercase().replace('_', "-")).collect();
    let limits = BTreeMap::from([
        ("max_buffer_size".to_owned(), limits.max_buffer_size),
        ("max_storage_buffer_binding_size".to_owned(), limits.max_storage_buffer_binding_size),
        ("max_compute_workgroup_storage_size".to_owned(), u64::from(limits.max_compute_workgroup_storage_size)),
        ("max_compute_invocations_per_workgroup".to_owned(), u64::from(limits.max_compute_invocations_per_workgroup)),
        ("max_compute_workgroups_per_dimension".to_owned(), u64::from(limits.max_compute_workgroups_per_dimension)),
        ("max_storage_buffers_per_shader_stage".to_owned(), u64::from(limits.max_storage_buffers_per_shader_stage)),
    ]);
    AdapterReport {
        name: info.name.clone(),
        vendor: format!("{:#06x}", info.vendor),
        device: format!("{:#06x}", info.device),
        backend: backend_name(info.backend).to_owned(),
        device_type: format!("{:?}", info.device_type).to_lowercase(),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        fallback: software || info.device_type == wgpu::DeviceType::Cpu,
        // wgpu's WebGPU backend maps exactly `isFallbackAdapter` to `DeviceType::Cpu`.
        is_fallback_adapter: (info.backend == wgpu::Backend::BrowserWebGpu)
            .then_some(info.device_type == wgpu::DeviceType::Cpu),
        features,
        browser_features: vec![],
        wgsl_language_features: language_feature_names(language_features(info.backend)),
        limits,
    }
}

/// Every native adapter wgpu finds (Vulkan, Metal, DX12, GL).
#[cfg(not(target_arch = "wasm32"))]
pub async fn native_adapters() -> Vec<wgpu::Adapter> {
    let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12 | wgpu::Backends::GL;
    let desc = wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle_from_env() };
    let instance = wgpu::Instance::new(desc);
    instance.enumerate_adapters(backends).await
}

/// An open device and what we learned about it.
pub struct GpuDevice {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub features: wgpu::Features,
    /// WGSL language extensions shaders may use (`packed_4x8_integer_dot_product`).
    pub language: wgpu::WgslLanguageFeatures,
    pub limits: wgpu::Limits,
    /// Why the device stopped working, if it did (device lost or an uncaptured error).
    fault: Arc<Mutex<Option<String>>>,
    /// The persistent pipeline cache, where the caller attached one
    /// ([`GpuDevice::attach_pipeline_cache`]).
    cache: Option<PipelineCache>,
}

/// A driver pipeline cache and which pipelines it has seen: those its loaded data was built
/// with, and those created since.
struct PipelineCache {
    cache: wgpu::PipelineCache,
    known: BTreeSet<String>,
    compiled: Mutex<BTreeSet<String>>,
}

/// What a pipeline cache file holds besides the driver's bytes: the pipelines those bytes were
/// built with (`<shader hash>:<entry point>`).
fn pipeline_keys(plan: &Plan) -> BTreeSet<String> {
    plan.setup
        .iter()
        .chain(&plan.timed)
        .flat_map(|p| &p.dispatches)
        .map(|d| format!("{}:{}", plan.shader_of(d).hash, d.entry_point))
        .collect()
}

impl std::fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuDevice").field("adapter", &self.report.name).finish()
    }
}

impl GpuDevice {
    /// Opens a device with the adapter's own limits (so big problems fit where the hardware
    /// allows) and the optional features we use.
    pub async fn open(adapter: &wgpu::Adapter) -> Result<GpuDevice, GpuError> {
        Self::open_with(adapter, wgpu::Features::all()).await
    }

    /// As [`GpuDevice::open`], with optional features limited to `allow` (tests use this to
    /// check that a kernel needing a missing feature is skipped with that feature named).
    pub async fn open_with(adapter: &wgpu::Adapter, allow: wgpu::Features) -> Result<GpuDevice, GpuError> {
        let report = adapter_report(adapter);
        let features = adapter.features() & wanted_features() & allow;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("accelbench"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|source| GpuError::RequestDevice { adapter: report.name.clone(), source })?;
        let fault = Arc::new(Mutex::new(None));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *f.lock().unwrap() = Some(format!("device lost ({reason:?}): {msg}"));
        });
        let f = fault.clone();
        // wgpu's default handler panics; an uncaptured error must become a `failed` record.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut g = f.lock().unwrap();
            if g.is_none() {
                *g = Some(format!("uncaptured wgpu error: {e}"));
            }
        }));
        let language = language_features(adapter.get_info().backend);
        let mut dev = GpuDevice { device, queue, report, features, language, limits, fault, cache: None };
        // An empty cache until the caller attaches a stored one: pipelines created twice in a
        // run (variants, rounds) are found, and a record says `miss` rather than nothing.
        dev.attach_pipeline_cache(None, BTreeSet::new());
        Ok(dev)
    }

    /// The key a persistent pipeline cache of this adapter and driver is stored under, where
    /// the device can have one (wgpu's key, which names the Vulkan vendor and device, plus the
    /// driver version: another driver's bytes would only be thrown away).
    pub fn pipeline_cache_key(&self) -> Option<String> {
        if !self.features.contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let safe = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>();
        Some(format!(
            "wgpu_pipeline_cache_{}_{}_{}_{}",
            self.report.backend,
            self.report.vendor,
            self.report.device,
            safe(&self.report.driver_info)
        ))
    }

    /// Attaches a persistent pipeline cache, primed with `data` from an earlier run's
    /// [`GpuDevice::pipeline_cache_data`] (and the pipelines it was built with); a no-op where
    /// the device has no pipeline caches.
    pub fn attach_pipeline_cache(&mut self, data: Option<&[u8]>, known: BTreeSet<String>) {
        if !self.features.contains(wgpu::Features::PIPELINE_CACHE) {
            return;
        }
        // SAFETY: `data` is what `PipelineCache::get_data` returned on an earlier run for the
        // same key (the caller stores it under `pipeline_cache_key` with a checksum and drops
        // it when that does not match); wgpu checks its own header (adapter, version, size)
        // and the driver its own, and `fallback` makes an unusable blob an empty cache.
        #[allow(unsafe_code)]
        let cache = unsafe {
            self.device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("accelbench"),
                data,
                fallback: true,
            })
        };
        let known = if data.is_some() { known } else { BTreeSet::new() };
        self.cache = Some(PipelineCache { cache, known, compiled: Mutex::new(BTreeSet::new()) });
    }

    /// The cache's bytes and every pipeline they now cover, to store for the next run.
    pub fn pipeline_cache_data(&self) -> Option<(Vec<u8>, BTreeSet<String>)> {
        let c = self.cache.as_ref()?;
        let data = c.cache.get_data()?;
        let mut known = c.known.clone();
        known.extend(c.compiled.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned());
        Some((data, known))
    }

    pub(super) fn pipeline_cache(&self) -> Option<&wgpu::PipelineCache> {
        self.cache.as_ref().map(|c| &c.cache)
    }

    /// Whether the attached cache was loaded with every pipeline of `plan`.
    pub(super) fn pipeline_cache_state(&self, plan: &Plan) -> crate::schema::PipelineCacheState {
        use crate::schema::PipelineCacheState;
        match &self.cache {
            None => PipelineCacheState::Unsupported,
            Some(c) if pipeline_keys(plan).is_subset(&c.known) => PipelineCacheState::Hit,
            Some(_) => PipelineCacheState::Miss,
        }
    }

    pub(super) fn note_compiled(&self, plan: &Plan) {
        if let Some(c) = &self.cache {
            c.compiled.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(pipeline_keys(plan));
        }
    }

    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    pub(super) fn check_fault(&self, during: &'static str) -> Result<(), GpuError> {
        match self.fault.lock().unwrap().clone() {
            Some(reason) => Err(GpuError::DeviceLost { during, reason }),
            None => Ok(()),
        }
    }

    /// Waits until all submitted work is done.
    pub(super) async fn wait_idle(&self) -> Result<(), GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Poll(e.to_string()))?;
        }
        #[cfg(target_arch = "wasm32")]
        {
            let (tx, rx) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx.await.map_err(|e| GpuError::Poll(e.to_string()))?;
        }
        self.check_fault("waiting for the GPU")
    }

    pub(super) async fn read(&self, buf: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, GpuError> {
        let (tx, rx) = futures_channel::oneshot::channel();
        buf.slice(..size).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Poll(e.to_string()))?;
        rx.await.map_err(|e| GpuError::Map(e.to_string()))?.map_err(|e| GpuError::Map(e.to_string()))?;
        let data = buf.slice(..size).get_mapped_range().map_err(|e| GpuError::Map(e.to_string()))?.to_vec();
        buf.unmap();
        self.check_fault("reading back results")?;
        Ok(data)
    }
}

/// Why this device cannot run this plan, if it cannot: the first missing feature or limit.
pub fn unmet_requirement(dev: &GpuDevice, kernel: &Kernel, plan: &Plan) -> Option<String> {
    unmet_plan_requirement(dev, kernel.requires, plan)
}

/// As [`unmet_requirement`] for a plan that is not one catalogue kernel's (a model's), needing
/// `requires` beyond what its shaders declare.
pub fn unmet_plan_requirement(dev: &GpuDevice, requires: &[&str], plan: &Plan) -> Option<String> {
    let shaders = plan.shaders();
    for &name in requires.iter().chain(shaders.iter().flat_map(|s| s.requires)) {
        if let Some(ext) = language_extension_by_name(name) {
            if !dev.language.contains(ext) {
                return Some(format!("the WGSL implementation lacks the `{name}` language extension"));
            }
            continue;
        }
        match feature_by_name(name) {
            Some(f) if dev.features.contains(f) => {}
            Some(_) => {
                return Some(format!("adapter `{}` lacks the `{name}` feature", dev.report.name));
            }
            None => return Some(format!("unknown feature `{name}` required")),
        }
    }
    let l = &dev.limits;
    let biggest = plan.largest_buffer();
    if biggest > l.max_storage_buffer_binding_size || biggest > l.max_buffer_size {
        let label = plan.buffers.iter().find(|b| b.size() == biggest).map_or("", |b| b.label.as_str());
        return Some(format!(
            "needs a {biggest}-byte buffer (`{label}`); adapter `{}` allows max_storage_buffer_binding_size = {}, max_buffer_size = {}",
            dev.report.name, l.max_storage_buffer_binding_size, l.max_buffer_size
        ));
    }
    for pass in plan.setup.iter().chain(&plan.timed) {
        for d in &pass.dispatches {
            if let Some(ep) = plan.shader_of(d).entry_point(d.entry_point) {
                let inv: u32 = ep.workgroup_size.iter().product();
                if inv > l.max_compute_invocations_per_workgroup {
                    return Some(format!(
                        "`{}` uses {inv} invocations per workgroup; adapter allows {}",
                        d.entry_point, l.max_compute_invocations_per_workgroup
                    ));
                }
            }
            if let Some(&w) = d.workgroups.iter().find(|&&w| w > l.max_compute_workgroups_per_dimension) {
                return Some(format!(
                    "`{}` dispatches {w} workgroups in one dimension; adapter allows {}",
                    d.entry_point, l.max_compute_workgroups_per_dimension
                ));
            }
        }
    }
    None
}
