//! The GPU half of a test either runs or fails, unless the person running it opted out.
//!
//! Without this, a test that quietly falls back to burn's flex backend when no wgpu adapter
//! is found passes having tested none of the CubeCL kernels (flex ignores every kernel
//! option). A machine without Vulkan sets `SER_TEST_WITHOUT_WGPU=1` to say so on purpose.

use std::fmt::Display;

/// The variable that lets GPU tests pass without a wgpu adapter, testing only the CPU
/// fallback: `SER_TEST_WITHOUT_WGPU=1`.
pub const WITHOUT_WGPU: &str = "SER_TEST_WITHOUT_WGPU";

/// True when `SER_TEST_WITHOUT_WGPU=1`: the run was told not to require a wgpu adapter.
pub fn without_wgpu() -> bool {
    std::env::var_os(WITHOUT_WGPU).is_some_and(|v| v == "1")
}

/// The wgpu device from its probe. Without an adapter the test fails, naming the fix, unless
/// [`without_wgpu`]; then a notice says the GPU half went untested and `None` comes back.
#[track_caller]
pub fn wgpu_or_opt_out<T, E: Display>(probe: Result<T, E>) -> Option<T> {
    match probe {
        Ok(device) => Some(device),
        Err(e) if without_wgpu() => {
            eprintln!("notice: {WITHOUT_WGPU}=1 and no wgpu adapter ({e}): GPU half NOT tested");
            None
        }
        Err(e) => panic!(
            "no wgpu adapter ({e}): install libvulkan1 and mesa-vulkan-drivers (scripts/setup.sh; \
             Mesa's lavapipe needs no GPU), or set {WITHOUT_WGPU}=1 to test only the CPU fallback"
        ),
    }
}
