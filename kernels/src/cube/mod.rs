//! The CubeCL implementation of [`FeatureOps`](crate::FeatureOps): kernel launches for
//! burn's CubeCL backend (wgpu, CUDA).

mod db;
mod delta;
mod spectrum;

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn::tensor::DType;
use burn_cubecl::{
    CubeBackend,
    kernel::into_contiguous,
    ops::numeric::{empty_device_dtype, zeros_client},
    tensor::CubeTensor,
};
use cubecl::prelude::*;
use cubecl::tune::{LocalTuner, Tunable, TunableSet, local_tuner};
use cubecl::{AutotuneKey, CubeDim, CubeTuneId, calculate_cube_count_elemwise};
use serde::{Deserialize, Serialize};

use crate::ops::FeatureOps;
use crate::plan::{DbPlan, DeltaPlan, FFT_RADICES, FftVariant, SpectrumPlan, spectrum_shape};

/// Values per piece of a clip in `power_to_db` (see `db.rs`): enough work per cube, and
/// a batch of a few long clips still spreads over the whole device.
const DB_PIECE: usize = 2048;

/// Units per cube for a per-frame or per-clip kernel: a power of two, at most `cap` and
/// what the device allows.
fn units(client: &Client, cap: usize) -> usize {
    let max = client.properties().hardware.max_units_per_cube as usize;
    let n = cap.min(max).clamp(1, 256);
    if n.is_power_of_two() {
        n
    } else {
        n.next_power_of_two() >> 1
    }
}

/// Panics unless `t` holds exactly `len` values: the unchecked kernels rely on it.
fn expect_len(name: &str, t: &CubeTensor, len: usize) {
    let n = t.meta.shape().num_elements();
    assert_eq!(n, len, "{name} has {n} values, the kernel needs {len}");
}

fn output_like(x: &CubeTensor, shape: burn::tensor::Shape) -> CubeTensor {
    empty_device_dtype(x.client.clone(), x.device.clone(), shape, x.dtype)
}

/// Shared-memory values per frame of the spectrum kernel: `m` plain; padded (see the
/// kernel's `pad_span`), room for the first stage's gaps (`m / r0`) rounded so that the
/// frames sharing a warp (`units < 32` units each) start `units` banks apart.
fn frame_stride(m: usize, radix: usize, units: usize, pad: bool) -> usize {
    if !pad {
        return m;
    }
    let r0 = spectrum::first_radix(m, radix);
    let stride = m + m / r0;
    if units < 32 {
        stride + (32 + units - stride % 32) % 32
    } else {
        stride
    }
}

/// Units per frame of the spectrum kernel: one butterfly of the variant's radix per unit
/// and stage, as far as the device's cubes allow.
fn frame_units(client: &Client, n_fft: usize, variant: FftVariant) -> usize {
    units(client, (n_fft / 2 / variant.radix).max(1))
}

/// How the spectrum kernel's cubes use shared memory: frames per cube, padded or not, and
/// values per frame in each buffer.
#[derive(Debug, PartialEq)]
struct SharedLayout {
    per_cube: usize,
    pad: bool,
    stride: usize,
}

/// The spectrum kernel's shared-memory layout for an `n_fft` FFT run as `variant` with
/// `per_frame` units per frame, on a device with `max_shared` bytes per cube: up to 1,024
/// FFT values per cube (16 KiB in 4 buffers, which every device offers), fewer frames per
/// cube where padding (`FftVariant::pad_shared`, up to m / r0 more values per frame) or the
/// clip peaks' slots (`track_peak`, 4 bytes per frame) would not fit, the plain layout
/// where even one padded frame does not; `None` where one frame and its peak slot do not
/// fit.
fn shared_layout(
    n_fft: usize,
    variant: FftVariant,
    per_frame: usize,
    track_peak: bool,
    max_shared: usize,
) -> Option<SharedLayout> {
    let m = n_fft / 2;
    let buffers = if variant.in_place { 2 } else { 4 };
    let limit = max_shared.max(16 << 10);
    let bytes = |l: &SharedLayout| 4 * l.per_cube * (buffers * l.stride + usize::from(track_peak));
    let mut layout = SharedLayout {
        per_cube: (256 / per_frame).clamp(1, (1024 / m).max(1)),
        pad: variant.pad_shared,
        stride: frame_stride(m, variant.radix, per_frame, variant.pad_shared),
    };
    while bytes(&layout) > limit {
        if layout.per_cube > 1 {
            layout.per_cube /= 2;
        } else if layout.pad {
            layout.pad = false;
            layout.stride = frame_stride(m, variant.radix, per_frame, false);
        } else {
            return None;
        }
    }
    Some(layout)
}

/// What one launch of the spectrum kernel reads: the `[B, L]` signal, its encoded lengths,
/// the constants, the plan and, for [`FeatureOps::log_mel`], `peaks` (`[B]` u32 zeros, mel
/// only) where the kernel finds each clip's peak power.
#[derive(Clone)]
struct SpectrumInputs {
    signal: CubeTensor,
    lengths: CubeTensor,
    window: CubeTensor,
    twiddles: CubeTensor,
    mel: CubeTensor,
    bounds: CubeTensor,
    plan: SpectrumPlan,
    peaks: Option<CubeTensor>,
}

/// The spectrum kernel's launch for [`FeatureOps::spectrum`] and [`FeatureOps::log_mel`]:
/// the plan's pinned [`FftVariant`], or the one autotune found fastest on this device.
fn launch_spectrum(inputs: SpectrumInputs) -> CubeTensor {
    match inputs.plan.variant {
        Some(variant) => launch_variant(inputs, variant).unwrap_or_else(|e| panic!("{e}")),
        None => autotune_spectrum(inputs),
    }
}

/// What the spectrum autotune keys its results on: the FFT and output sizes, whether clip
/// peaks are tracked, the element type, and the frames of the launch (batch x frames per
/// clip, rounded to a power of two), which decide how many cubes fill the device.
#[derive(AutotuneKey, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct SpectrumKey {
    n_fft: usize,
    hop: usize,
    out_dim: usize,
    use_mel: bool,
    track_peak: bool,
    dtype: String,
    #[autotune(anchor)]
    frames: usize,
}

/// Runs the spectrum kernel as the fastest [`FftVariant`] for this device and shape: the
/// first launch of each [`SpectrumKey`] times every variant (as burn tunes its matmul) and
/// CubeCL keeps the winner, in memory and in its on-disk autotune cache.
fn autotune_spectrum(inputs: SpectrumInputs) -> CubeTensor {
    static TUNER: LocalTuner<SpectrumKey, CubeTuneId> = local_tuner!("spectrum");
    let client = inputs.signal.client.clone();
    let id = CubeTuneId::new(&client, &inputs.signal.device);
    let set = TUNER.init(&id, || {
        let mut set: TunableSet<SpectrumKey, SpectrumInputs, CubeTensor> =
            TunableSet::new_cloning_inputs(spectrum_key);
        for v in FftVariant::all() {
            set = set.with(Tunable::new(
                &v.to_string(),
                move |inputs: SpectrumInputs| launch_variant(inputs, v),
            ));
        }
        set
    });
    TUNER.execute(&id, &client, set, inputs)
}

fn spectrum_key(inputs: &SpectrumInputs) -> SpectrumKey {
    let p = &inputs.plan;
    SpectrumKey::new(
        p.n_fft,
        p.hop,
        p.out_dim,
        p.use_mel,
        inputs.peaks.is_some(),
        format!("{:?}", inputs.signal.dtype),
        inputs.signal.meta.shape()[0] * p.n_frames,
    )
}

/// Launches the spectrum kernel as `variant`; an error where its shared memory does not fit
/// the device (autotune then skips it).
fn launch_variant(inputs: SpectrumInputs, variant: FftVariant) -> Result<CubeTensor, String> {
    let SpectrumInputs {
        signal,
        lengths,
        window,
        twiddles,
        mel,
        bounds,
        plan,
        peaks,
    } = inputs;
    assert!(
        plan.n_fft.is_power_of_two() && plan.n_fft >= 4,
        "GPU spectra need a power-of-two n_fft >= 4"
    );
    let signal = into_contiguous(signal);
    let shape = signal.meta.shape().clone();
    // The kernel runs unchecked: these shapes are what keeps its indices in bounds.
    let n_bins = plan.n_fft / 2 + 1;
    expect_len("lengths", &lengths, 2 * shape[0]);
    expect_len("window", &window, plan.n_fft);
    expect_len("twiddles", &twiddles, 2 * plan.n_fft);
    if plan.use_mel {
        expect_len("mel", &mel, plan.out_dim * n_bins);
        expect_len("bounds", &bounds, 2 * plan.out_dim);
    } else {
        assert_eq!(
            plan.out_dim, n_bins,
            "a spectrum without mel is n_fft / 2 + 1 wide"
        );
    }
    let output = output_like(&signal, spectrum_shape(&shape, &plan));
    if let Some(peaks) = &peaks {
        assert!(plan.use_mel, "clip peaks are tracked for mel spectra only");
        expect_len("peaks", peaks, shape[0]);
    }
    let cubes = shape[0] * plan.n_frames;
    if cubes == 0 || plan.out_dim == 0 {
        return Ok(output);
    }
    let client = signal.client.clone();
    // One butterfly of the variant's radix per unit and stage (n_fft / 2 / radix units per
    // frame), frames packed into cubes of up to 256 units; shared memory: 4 buffers (2
    // in place) of n_fft / 2 values per frame, kept within 16 KiB unpadded (padded:
    // below).
    assert!(
        FFT_RADICES.contains(&variant.radix),
        "FFT radix {} is not one of {FFT_RADICES:?}",
        variant.radix
    );
    let m = plan.n_fft / 2;
    let per_frame = frame_units(&client, plan.n_fft, variant);
    // The kernel unrolls its FFT loops on `per_frame` dividing every stage's butterflies.
    assert_eq!((m / variant.radix).max(1) % per_frame, 0, "units per frame");
    let max_shared = client.properties().hardware.max_shared_memory_size;
    let SharedLayout {
        per_cube,
        pad,
        stride,
    } = shared_layout(plan.n_fft, variant, per_frame, peaks.is_some(), max_shared).ok_or_else(
        || format!("FFT variant {variant}: one frame and its clip-peak slot exceed the device's shared memory"),
    )?;
    // Frames per mel-projection task: each weight serves `group` frames, as many as
    // leave no unit of the cube without a task.
    let mut group = per_cube;
    while group > 1 && plan.out_dim * (per_cube / group) < per_frame * per_cube {
        group /= 2;
    }
    let power_mode = if plan.power == 2.0 {
        2
    } else if plan.power == 1.0 {
        1
    } else {
        0
    };
    // The window's non-zero samples as points (samples 2n, 2n + 1 form point n).
    let [lo, hi] = plan.window_support;
    assert!(
        lo <= hi && hi <= plan.n_fft,
        "window support {lo}..{hi} is not within the {}-sample frame",
        plan.n_fft
    );
    // Interior frames load their samples as pairs (2-vectors) where every frame starts at
    // an even sample of an even-length row.
    let paired = plan.hop.is_multiple_of(2) && shape[1].is_multiple_of(2);
    let dtype = signal.dtype;
    let window = into_contiguous(window);
    let track_peak = peaks.is_some();
    // Untouched without `track_peak`: one value stands in.
    let peaks = peaks.unwrap_or_else(|| {
        empty_device_dtype(
            client.clone(),
            signal.device.clone(),
            burn::tensor::Shape::from(vec![1]),
            DType::U32,
        )
    });
    // SAFETY: every index the kernel forms is in bounds for the shapes checked above
    // (see the kernel's module doc); loops are bounded by comptime sizes.
    unsafe {
        spectrum::spectrum_kernel::launch_unchecked(
            &client,
            calculate_cube_count_elemwise(&client, cubes.div_ceil(per_cube), CubeDim::new_single()),
            CubeDim::new_1d((per_frame * per_cube) as u32),
            if paired { 2 } else { 1 },
            spectrum::ClipsLaunch::new(
                signal.clone().into_tensor_arg(),
                signal.into_tensor_arg(),
                into_contiguous(lengths).into_tensor_arg(),
            ),
            spectrum::ConstantsLaunch::new(
                window.clone().into_tensor_arg(),
                window.into_tensor_arg(),
                into_contiguous(twiddles).into_tensor_arg(),
                into_contiguous(mel).into_tensor_arg(),
                into_contiguous(bounds).into_tensor_arg(),
            ),
            output.clone().into_tensor_arg(),
            peaks.into_tensor_arg(),
            spectrum::SizesLaunch::new(
                shape[0] as u32,
                shape[1] as u32,
                plan.n_frames as u32,
                plan.hop as u32,
                plan.power,
            ),
            spectrum::SpectrumConfig {
                n_fft: plan.n_fft,
                units: per_frame,
                per_cube,
                radix: variant.radix,
                first_from_signal: variant.first_from_signal,
                pad,
                in_place: variant.in_place,
                frame_stride: stride,
                group,
                win_lo: lo / 2,
                win_hi: hi.div_ceil(2),
                paired,
                center: plan.center,
                pad_mode: plan.pad_mode,
                power_mode,
                use_mel: plan.use_mel,
                out_dim: plan.out_dim,
                track_peak,
            },
            dtype_to_storage_type(dtype),
        );
    }
    Ok(output)
}

/// Whether the fused `log_mel` path has room for the clip peaks beside a frame's FFT: for
/// the pinned variant, or (autotuned) for at least one, which autotune then picks among.
fn peaks_fit(client: &Client, plan: &SpectrumPlan) -> bool {
    let max_shared = client.properties().hardware.max_shared_memory_size;
    let fits = |v: FftVariant| {
        let per_frame = frame_units(client, plan.n_fft, v);
        shared_layout(plan.n_fft, v, per_frame, true, max_shared).is_some()
    };
    match plan.variant {
        Some(v) => fits(v),
        None => FftVariant::all().into_iter().any(fits),
    }
}

impl FeatureOps for CubeBackend {
    fn spectrum(
        signal: FloatTensor<Self>,
        lengths: FloatTensor<Self>,
        window: FloatTensor<Self>,
        twiddles: FloatTensor<Self>,
        mel: FloatTensor<Self>,
        bounds: FloatTensor<Self>,
        plan: SpectrumPlan,
    ) -> FloatTensor<Self> {
        launch_spectrum(SpectrumInputs {
            signal,
            lengths,
            window,
            twiddles,
            mel,
            bounds,
            plan,
            peaks: None,
        })
    }

    fn log_mel(
        signal: FloatTensor<Self>,
        lengths: FloatTensor<Self>,
        frames: FloatTensor<Self>,
        window: FloatTensor<Self>,
        twiddles: FloatTensor<Self>,
        mel: FloatTensor<Self>,
        bounds: FloatTensor<Self>,
        plan: SpectrumPlan,
        db: DbPlan,
    ) -> FloatTensor<Self> {
        let batch = signal.meta.shape()[0];
        expect_len("frames", &frames, batch);
        let client = signal.client.clone();
        if !peaks_fit(&client, &plan) {
            // No room for a frame's peak slot beside its FFT (one frame of n_fft 2048 fills
            // 16 KiB): the two-kernel path.
            let power = Self::spectrum(signal, lengths, window, twiddles, mel, bounds, plan);
            return Self::power_to_db(power, frames, db);
        }
        let peaks = zeros_client(
            client.clone(),
            signal.device.clone(),
            burn::tensor::Shape::from(vec![batch]),
            DType::U32,
        );
        let output = launch_spectrum(SpectrumInputs {
            signal,
            lengths,
            window,
            twiddles,
            mel,
            bounds,
            plan,
            peaks: Some(peaks.clone()),
        });
        let shape = output.meta.shape().clone();
        let total = shape.num_elements();
        if total == 0 {
            return output;
        }
        let cube_dim = CubeDim::new(&client, total);
        let dtype = output.dtype;
        let (values, mode) = db_args(&db);
        // SAFETY: indices stay within `output` ([B, T, D], `total` values), `frames` and
        // `peaks` ([B], checked above); the kernel clamps the frame counts it reads.
        unsafe {
            db::db_peak_kernel::launch_unchecked(
                &client,
                calculate_cube_count_elemwise(&client, total, cube_dim),
                cube_dim,
                output.clone().into_tensor_arg(),
                into_contiguous(frames).into_tensor_arg(),
                peaks.into_tensor_arg(),
                clip_shape(&shape, 1),
                values,
                mode,
                dtype_to_storage_type(dtype),
            );
        }
        output
    }

    fn power_to_db(
        x: FloatTensor<Self>,
        frames: FloatTensor<Self>,
        plan: DbPlan,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let shape = x.meta.shape().clone();
        expect_len("frames", &frames, shape[0]);
        let output = output_like(&x, shape.clone());
        if shape.num_elements() == 0 {
            return output;
        }
        let client = x.client.clone();
        let threads = units(&client, 256);
        let dtype = x.dtype;
        let frames = into_contiguous(frames);
        // Pieces per clip: about DB_PIECE values each, at most one per unit of a cube (the
        // second kernel reduces a clip's partial maxima in one cube).
        let total = shape[1] * shape[2];
        let chunks = total.div_ceil(DB_PIECE).clamp(1, threads);
        let cubes =
            calculate_cube_count_elemwise(&client, shape[0] * chunks, CubeDim::new_single());
        let partial = output_like(&x, burn::tensor::Shape::from(vec![shape[0] * chunks]));
        let (values, mode) = db_args(&plan);
        let needs_max = mode.reference_is_max || mode.clip;
        // SAFETY: indices stay within `x`/`output` ([B, T, D]), `frames` ([B], checked
        // above) and `partial` ([B * chunks]); the kernels clamp the counts they read, and
        // `db_kernel` reads `partial` only when `clip_max_kernel` has filled it.
        unsafe {
            if needs_max {
                db::clip_max_kernel::launch_unchecked(
                    &client,
                    cubes.clone(),
                    CubeDim::new_1d(threads as u32),
                    x.clone().into_tensor_arg(),
                    frames.clone().into_tensor_arg(),
                    partial.clone().into_tensor_arg(),
                    clip_shape(&shape, chunks),
                    threads,
                    dtype_to_storage_type(dtype),
                );
            }
            db::db_kernel::launch_unchecked(
                &client,
                cubes,
                CubeDim::new_1d(threads as u32),
                db::PiecesLaunch::new(
                    x.into_tensor_arg(),
                    frames.into_tensor_arg(),
                    partial.into_tensor_arg(),
                ),
                output.clone().into_tensor_arg(),
                clip_shape(&shape, chunks),
                values,
                threads,
                mode,
                dtype_to_storage_type(dtype),
            );
        }
        output
    }

    fn deltas(
        x: FloatTensor<Self>,
        frames: FloatTensor<Self>,
        coefs: FloatTensor<Self>,
        plan: DeltaPlan,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let shape = x.meta.shape().clone();
        expect_len("frames", &frames, shape[0]);
        expect_len(
            "coefs",
            &coefs,
            plan.width.saturating_sub(1) / 2 * plan.width,
        );
        let output = output_like(&x, shape.clone());
        let total = shape.num_elements();
        if total == 0 {
            return output;
        }
        let client = x.client.clone();
        let cube_dim = CubeDim::new(&client, total);
        let dtype = x.dtype;
        let _ = plan.order; // the order lives in the coefficient table
        // SAFETY: indices stay within `x`/`output` ([B, T, D]), `frames` and the `[(width -
        // 1) / 2, width]` coefficient table (checked above); the kernel clamps what it reads.
        unsafe {
            delta::delta_kernel::launch_unchecked(
                &client,
                calculate_cube_count_elemwise(&client, total, cube_dim),
                cube_dim,
                x.into_tensor_arg(),
                into_contiguous(frames).into_tensor_arg(),
                into_contiguous(coefs).into_tensor_arg(),
                output.clone().into_tensor_arg(),
                clip_shape(&shape, 1),
                plan.width as u32,
                dtype_to_storage_type(dtype),
            );
        }
        output
    }
}

/// A [`DbPlan`] as the dB kernels take it: the fixed reference (1 when it is the maximum),
/// `amin`, `top_db` (0 when infinite), and whether the reference is each clip's maximum and
/// whether `top_db` clips.
fn db_args(plan: &DbPlan) -> (db::DbValuesLaunch, db::DbMode) {
    let clip = plan.top_db.is_finite();
    let values = db::DbValuesLaunch::new(
        plan.reference.unwrap_or(1.0),
        plan.amin,
        if clip { plan.top_db } else { 0.0 },
    );
    let mode = db::DbMode {
        reference_is_max: plan.reference.is_none(),
        clip,
    };
    (values, mode)
}

/// The `[B, T, D]` `shape` of a launch, cut into `chunks` pieces per clip.
fn clip_shape(shape: &burn::tensor::Shape, chunks: usize) -> db::ClipShapeLaunch {
    db::ClipShapeLaunch::new(
        shape[0] as u32,
        shape[1] as u32,
        shape[2] as u32,
        chunks as u32,
    )
}

/// What a CubeCL device reports about itself: its name and runtime, the memory a whole
/// workload may use (`None` where the runtime has no figure) and the largest single buffer.
pub(crate) struct CubeInfo {
    pub name: String,
    pub max_memory: Option<u64>,
    pub max_buffer: u64,
}

/// [`CubeInfo`] of `device`, or `None` for a device of another backend (flex).
pub(crate) fn info(device: &burn::tensor::Device) -> Option<CubeInfo> {
    #[allow(unreachable_patterns)]
    match device.as_dispatch() {
        burn::backend::DispatchDevice::Cube(d) => {
            let props = d.client().properties().clone();
            Some(CubeInfo {
                name: format!("{:?}: {}", d.runtime(), props.identity.name).to_lowercase(),
                max_memory: props.memory.max_memory(),
                max_buffer: props.memory.max_page_size,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{SharedLayout, frame_stride, shared_layout};
    use crate::plan::FftVariant;

    fn variant(radix: usize, pad_shared: bool, in_place: bool) -> FftVariant {
        FftVariant {
            radix,
            first_from_signal: false,
            pad_shared,
            in_place,
        }
    }

    #[test]
    fn shared_layouts_fit_the_device_and_make_room_for_clip_peaks() {
        let small = 16 << 10; // what every device offers; WebGPU's default limit
        // n_fft 512 (m 256) at radix 4: 64 units and 4 frames per cube, 16 KiB in 4 buffers.
        let (n, v) = (512, variant(4, false, false));
        let plain = SharedLayout {
            per_cube: 4,
            pad: false,
            stride: 256,
        };
        assert_eq!(shared_layout(n, v, 64, false, small), Some(plain));
        // The peak slots (16 bytes) do not fit beside a full 16 KiB: 2 frames per cube.
        let halved = SharedLayout {
            per_cube: 2,
            pad: false,
            stride: 256,
        };
        assert_eq!(shared_layout(n, v, 64, true, small), Some(halved));
        // With room to spare nothing changes.
        let four = shared_layout(n, v, 64, true, 48 << 10).unwrap();
        assert_eq!((four.per_cube, four.pad), (4, false));
        // Padded: fewer frames per cube first, the plain layout only where one frame
        // does not fit padded.
        let (n, v) = (512, variant(4, true, false));
        let padded = shared_layout(n, v, 64, false, small).unwrap();
        assert_eq!(
            (padded.per_cube, padded.pad, padded.stride),
            (2, true, frame_stride(256, 4, 64, true))
        );
        let (n, v) = (2048, variant(16, true, false));
        let one = shared_layout(n, v, 64, false, small).unwrap();
        assert_eq!((one.per_cube, one.pad, one.stride), (1, false, 1024));
        // n_fft 2048 fills 16 KiB with one frame: no room for its peak slot (log_mel then
        // takes the two-kernel path), unless in place (8 KiB) or on a larger device.
        let (n, v) = (2048, variant(4, false, false));
        assert_eq!(shared_layout(n, v, 256, true, small), None);
        assert!(shared_layout(n, v, 256, true, 32 << 10).is_some());
        assert!(shared_layout(2048, variant(4, false, true), 256, true, small).is_some());
    }
}
