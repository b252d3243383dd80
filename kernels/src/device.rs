//! Choosing where features are computed: `--device cpu|wgpu|cuda|auto`.

use std::str::FromStr;

use burn::tensor::Device;

/// Where `ser extract` computes features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The rayon CPU reference (no burn device).
    Cpu,
    /// burn's wgpu backend: Vulkan, Metal or DX12 (and lavapipe, Mesa's software Vulkan).
    Wgpu,
    /// burn's CUDA backend (needs the `cuda` build feature).
    Cuda,
    /// CUDA if built and present, else a hardware wgpu adapter, else the CPU.
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "wgpu" | "vulkan" | "gpu" => Ok(DeviceChoice::Wgpu),
            "cuda" => Ok(DeviceChoice::Cuda),
            "auto" => Ok(DeviceChoice::Auto),
            other => Err(format!(
                "unknown device '{other}': use cpu, wgpu, cuda or auto"
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

/// The default wgpu adapter (any kind, software renderers such as lavapipe included),
/// checked to work.
pub fn probe_wgpu() -> Result<Device, DeviceError> {
    #[cfg(feature = "wgpu")]
    {
        cube_device(
            cubecl::Device::wgpu(cubecl::device::WgpuDeviceKind::DefaultDevice),
            "wgpu",
        )
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(DeviceError::NotBuilt("wgpu"))
    }
}

fn probe_cuda() -> Result<Device, DeviceError> {
    #[cfg(feature = "cuda")]
    {
        cube_device(cubecl::Device::cuda(0), "cuda")
    }
    #[cfg(not(feature = "cuda"))]
    {
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
            DeviceChoice::Wgpu => Ok(chosen(Some(probe_wgpu()?), "--device wgpu")),
            DeviceChoice::Cuda => Ok(chosen(Some(probe_cuda()?), "--device cuda")),
            DeviceChoice::Auto => {
                let cuda = match probe_cuda() {
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
