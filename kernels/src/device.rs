//! Choosing where features are computed: `--device cpu|wgpu|cuda|auto`.

use std::str::FromStr;

use burn::tensor::Device;

/// Where `ser extract` computes features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The rayon CPU reference (no burn device).
    Cpu,
    /// burn's wgpu backend: Vulkan, Metal or DX12 (and lavapipe, Mesa's software Vulkan); the
    /// default adapter, or the N-th in wgpu's order (`wgpu:N`, the list [`wgpu_adapters`]
    /// gives).
    Wgpu(Option<usize>),
    /// burn's CUDA backend (needs the `cuda` build feature): device 0, or `cuda:N` counting
    /// the GPUs `CUDA_VISIBLE_DEVICES` leaves visible.
    Cuda(Option<usize>),
    /// CUDA if built and present, else a hardware wgpu adapter, else the CPU.
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        let (name, index) = match lower.split_once(':') {
            Some((n, i)) => {
                let i: usize = i.parse().map_err(|_| {
                    format!("device '{s}': the part after ':' must be a device index, e.g. wgpu:1")
                })?;
                (n, Some(i))
            }
            None => (lower.as_str(), None),
        };
        match (name, index) {
            ("cpu", None) => Ok(DeviceChoice::Cpu),
            ("wgpu" | "vulkan" | "gpu", i) => Ok(DeviceChoice::Wgpu(i)),
            ("cuda", i) => Ok(DeviceChoice::Cuda(i)),
            ("auto", None) => Ok(DeviceChoice::Auto),
            (other @ ("cpu" | "auto"), Some(_)) => Err(format!(
                "device '{s}': {other} takes no index; indices are for wgpu:N and cuda:N"
            )),
            _ => Err(format!(
                "unknown device '{s}': use cpu, wgpu, wgpu:N, cuda, cuda:N or auto"
            )),
        }
    }
}

/// A device that cannot be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    /// This build has no backend for the device.
    #[error(
        "this ser was built without {0} support; rebuild with `--features {0}` (see the README's GPU section)"
    )]
    NotBuilt(&'static str),
    /// The backend found no adapter / driver.
    #[error("no {backend} device is available: {detail}")]
    Unavailable {
        /// Backend name.
        backend: &'static str,
        /// What failed.
        detail: String,
    },
    /// An index past the devices the machine has.
    #[error("no {asked} on this machine; it has {}", list_or_none(.available))]
    NoSuchIndex {
        /// The device asked for, e.g. `wgpu:1`.
        asked: String,
        /// The devices there are, e.g. `wgpu:0 = llvmpipe (LLVM 19.1.7, 256 bits) [Cpu]`.
        available: Vec<String>,
    },
    /// The feature config uses something the GPU path does not implement.
    #[error("the GPU feature path cannot run this config: {0}; use --device cpu")]
    Unsupported(String),
}

/// Runs a tiny computation on `device`, turning a panic (no adapter, no driver) into an error.
#[cfg(feature = "cube")]
fn probe(device: Device, backend: &'static str) -> Result<Device, DeviceError> {
    let d = device.clone();
    let result = std::panic::catch_unwind(move || {
        let x = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], &d);
        (x * 2.0)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    });
    match result {
        Ok(Ok(v)) if v == [2.0, 4.0] => Ok(device),
        Ok(Ok(v)) => Err(DeviceError::Unavailable {
            backend,
            detail: format!("test computation returned {v:?}"),
        }),
        Ok(Err(e)) => Err(DeviceError::Unavailable { backend, detail: e }),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the backend panicked while starting".into());
            Err(DeviceError::Unavailable { backend, detail })
        }
    }
}

/// A CubeCL device the machine enumerates, checked by a test computation.
#[cfg(feature = "cube")]
fn cube_device(
    found: Result<cubecl::Device, impl std::fmt::Display>,
    backend: &'static str,
) -> Result<Device, DeviceError> {
    let dev = found.map_err(|e| DeviceError::Unavailable {
        backend,
        detail: e.to_string(),
    })?;
    probe(burn::backend::DispatchDevice::from(dev).into(), backend)
}

fn list_or_none(devices: &[String]) -> String {
    match devices {
        [] => "none of that kind".into(),
        [one] => format!("one: {one}"),
        many => format!("{}: {}", many.len(), many.join("; ")),
    }
}

/// The default wgpu adapter (any kind, software renderers such as lavapipe included),
/// checked to work.
pub fn probe_wgpu() -> Result<Device, DeviceError> {
    probe_wgpu_at(None)
}

/// The wgpu adapters of this machine in wgpu's order, as `wgpu:N` counts them: their kind and
/// index among that kind (`DiscreteGpu(0)`, `Cpu`, ...).
#[cfg(feature = "wgpu")]
fn wgpu_kinds() -> Vec<cubecl::device::WgpuDeviceKind> {
    (cubecl::Device::enumerate_all().into_iter())
        .filter_map(|d| match d {
            cubecl::Device::Wgpu(w) => Some(w.kind),
            _ => None,
        })
        .collect()
}

/// The wgpu adapters `wgpu:N` picks from, in order, each as `wgpu:N = name [kind]` (an empty
/// list in a build without wgpu).
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
pub fn wgpu_adapters() -> Vec<String> {
    #[cfg(feature = "wgpu")]
    {
        (wgpu_kinds().into_iter().enumerate())
            .map(|(i, kind)| {
                let name = cubecl::Device::wgpu(kind.clone())
                    .ok()
                    .and_then(|d| probe(burn::backend::DispatchDevice::from(d).into(), "wgpu").ok())
                    .map_or_else(|| "unusable".to_string(), |d| device_name(&d));
                format!("wgpu:{i} = {name} [{kind:?}]")
            })
            .collect()
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Vec::new()
    }
}

/// The default wgpu adapter, or the `index`-th in wgpu's order.
fn probe_wgpu_at(index: Option<usize>) -> Result<Device, DeviceError> {
    #[cfg(feature = "wgpu")]
    {
        use cubecl::device::WgpuDeviceKind;
        let kind = match index {
            None => WgpuDeviceKind::DefaultDevice,
            Some(i) => wgpu_kinds()
                .into_iter()
                .nth(i)
                .ok_or_else(|| DeviceError::NoSuchIndex {
                    asked: format!("wgpu:{i}"),
                    available: wgpu_adapters(),
                })?,
        };
        cube_device(cubecl::Device::wgpu(kind), "wgpu")
    }
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = index;
        Err(DeviceError::NotBuilt("wgpu"))
    }
}

/// CUDA device `index` (0 by default), counting the GPUs `CUDA_VISIBLE_DEVICES` leaves.
fn probe_cuda(index: Option<usize>) -> Result<Device, DeviceError> {
    #[cfg(feature = "cuda")]
    {
        let i = index.unwrap_or(0);
        match cubecl::Device::cuda(i) {
            Err(cubecl::device::DeviceUnavailable::NoSuchDevice { available, .. })
                if index.is_some() =>
            {
                Err(DeviceError::NoSuchIndex {
                    asked: format!("cuda:{i}"),
                    available: (0..available).map(|k| format!("cuda:{k}")).collect(),
                })
            }
            found => cube_device(found, "cuda"),
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = index;
        Err(DeviceError::NotBuilt("cuda"))
    }
}

/// A hardware wgpu adapter (discrete, integrated or virtual GPU), never a software renderer:
/// on a machine without a GPU, `auto` must not pick lavapipe over the faster CPU path.
fn probe_hardware_wgpu() -> Result<Device, DeviceError> {
    #[cfg(feature = "wgpu")]
    {
        use cubecl::device::WgpuDeviceKind;
        let mut last = DeviceError::NotBuilt("wgpu");
        for kind in [
            WgpuDeviceKind::DiscreteGpu(0),
            WgpuDeviceKind::IntegratedGpu(0),
            WgpuDeviceKind::VirtualGpu(0),
        ] {
            match cube_device(cubecl::Device::wgpu(kind), "wgpu") {
                Ok(dev) => return Ok(dev),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(DeviceError::NotBuilt("wgpu"))
    }
}

/// Keeps Mesa's Vulkan device-select layer from probing for a Wayland display where there can
/// be none (`XDG_RUNTIME_DIR` and `WAYLAND_DISPLAY` unset, as on a headless server or in a
/// batch job): libwayland would print `error: XDG_RUNTIME_DIR is invalid or not set` once per
/// adapter probe, which reads as a failure. The layer only orders GPUs by the display in use,
/// so there is nothing for it to do there; it is turned off with its own switch,
/// `NODEVICE_SELECT=1`, unless the user set that variable.
///
/// # Safety
/// As [`std::env::set_var`]: call it at the start of `main`, before any other thread runs.
pub unsafe fn quiet_headless_vulkan() {
    let unset = |k: &str| std::env::var_os(k).is_none_or(|v| v.is_empty());
    if unset("XDG_RUNTIME_DIR") && unset("WAYLAND_DISPLAY") && unset("NODEVICE_SELECT") {
        // SAFETY: the caller guarantees no other thread reads the environment now.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

/// The device a [`DeviceChoice`] resolved to, and why, in words for the one line a command
/// prints ("auto: no CUDA in this build; no hardware GPU adapter ...").
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The burn device, or `None` for the CPU reference path.
    pub device: Option<Device>,
    /// Why this device: the flag, or what `auto` found and did not find.
    pub reason: String,
}

impl DeviceChoice {
    /// The burn device to use, or `None` for the CPU reference path.
    pub fn resolve(self) -> Result<Option<Device>, DeviceError> {
        self.choose().map(|c| c.device)
    }

    /// The device to use and the reason for it; `auto` tries CUDA, then a hardware wgpu
    /// adapter, then settles on the CPU.
    pub fn choose(self) -> Result<Chosen, DeviceError> {
        let chosen = |device, reason: &str| Chosen {
            device,
            reason: reason.to_string(),
        };
        match self {
            DeviceChoice::Cpu => Ok(chosen(None, "--device cpu")),
            DeviceChoice::Wgpu(i) => Ok(chosen(Some(probe_wgpu_at(i)?), "--device wgpu")),
            DeviceChoice::Cuda(i) => Ok(chosen(Some(probe_cuda(i)?), "--device cuda")),
            DeviceChoice::Auto => {
                let cuda = match probe_cuda(None) {
                    Ok(d) => return Ok(chosen(Some(d), "--device auto: a CUDA device")),
                    Err(DeviceError::NotBuilt(_)) => "no CUDA in this build".to_string(),
                    Err(e) => format!("no CUDA device ({e})"),
                };
                match probe_hardware_wgpu() {
                    Ok(d) => Ok(chosen(
                        Some(d),
                        &format!("--device auto: {cuda}; a hardware wgpu adapter"),
                    )),
                    Err(_) => Ok(chosen(
                        None,
                        &format!(
                            "--device auto: {cuda}; no hardware GPU adapter (a software renderer \
                             such as lavapipe is slower than the CPU path; --device wgpu uses it)"
                        ),
                    )),
                }
            }
        }
    }
}

/// True when `device` runs the CubeCL kernels (wgpu, CUDA); on flex the kernels' default
/// bodies fall back to the CPU reference, so callers can use that reference directly.
pub fn runs_kernels(device: &Device) -> bool {
    #[cfg(feature = "cube")]
    if matches!(device.as_dispatch(), burn::backend::DispatchDevice::Cube(_)) {
        return true;
    }
    let _ = device;
    false
}

/// The adapter or device a burn device runs on, as its runtime names it (for logs and
/// benchmark tables: "NVIDIA H100 80GB HBM3", "llvmpipe (…)", or flex).
pub fn device_name(device: &Device) -> String {
    #[cfg(feature = "cube")]
    if let Some(i) = crate::cube::info(device) {
        return i.name;
    }
    let _ = device;
    "flex (burn's CPU backend)".into()
}
