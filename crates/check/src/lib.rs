//! Numeric assertions for tests that cannot pass on NaN.
//!
//! A maximum over errors taken with `f32::max` / `f64::max` silently drops NaN
//! (`f32::max(0.0, NaN)` is `0.0`), so an all-NaN output would pass such a test. Every
//! float comparison in ser's tests goes through [`Worst`] instead: NaN counts as an
//! infinitely large error, and the message names where the worst element is. Written by
//! hand: the well-known crates (`approx`, `float-cmp`) compare one pair at a time and do not
//! say where in an array the worst error sits.

use std::fmt::Display;

mod device;
pub use device::{WITHOUT_WGPU, wgpu_or_opt_out, without_wgpu};

/// The largest of some errors and where it is; NaN counts as infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Worst {
    /// The largest error (`f64::INFINITY` when any error was NaN; 0 for no errors).
    pub error: f64,
    /// Index of the largest error (the first NaN, if any); `None` for no errors.
    pub index: Option<usize>,
}

impl Worst {
    /// The largest of `errors`, NaN as infinity (the first NaN wins).
    pub fn of(errors: impl IntoIterator<Item = f64>) -> Self {
        let mut w = Worst {
            error: 0.0,
            index: None,
        };
        for (i, e) in errors.into_iter().enumerate() {
            let e = if e.is_nan() { f64::INFINITY } else { e };
            if w.index.is_none() || e > w.error {
                w = Worst {
                    error: e,
                    index: Some(i),
                };
            }
            if e == f64::INFINITY {
                break;
            }
        }
        w
    }

    /// Whether the worst error is at most `tol` (never true with a NaN).
    pub fn within(&self, tol: f64) -> bool {
        self.error <= tol
    }

    /// Panics unless the worst error is at most `tol`, naming `what`, the error and where.
    #[track_caller]
    pub fn assert_within(&self, tol: f64, what: impl Display) {
        assert!(
            self.within(tol),
            "{what}: worst error {} at index {:?} exceeds the tolerance {tol} (NaN counts as infinite)",
            self.error,
            self.index
        );
    }
}

/// Largest `|got[i] - want[i]|` (NaN in either side: infinite); the lengths must agree.
#[track_caller]
pub fn max_abs_diff<A: Copy + Into<f64>, B: Copy + Into<f64>>(got: &[A], want: &[B]) -> Worst {
    assert_eq!(got.len(), want.len(), "compared arrays differ in length");
    Worst::of(
        got.iter()
            .zip(want)
            .map(|(&a, &b)| (a.into() - b.into()).abs()),
    )
}

/// Largest `|got[i] - want[i]| / max(|want[i]|, floor)`: relative error with a floor for
/// values near zero.
#[track_caller]
pub fn max_rel_diff<A: Copy + Into<f64>, B: Copy + Into<f64>>(
    got: &[A],
    want: &[B],
    floor: f64,
) -> Worst {
    assert_eq!(got.len(), want.len(), "compared arrays differ in length");
    Worst::of(got.iter().zip(want).map(|(&a, &b)| {
        let (a, b) = (a.into(), b.into());
        (a - b).abs() / b.abs().max(floor)
    }))
}

/// Panics unless every `|got[i] - want[i]| <= tol`, naming the worst element and its values.
#[track_caller]
pub fn assert_all_close<A: Copy + Into<f64>, B: Copy + Into<f64>>(
    got: &[A],
    want: &[B],
    tol: f64,
    what: impl Display,
) {
    let w = max_abs_diff(got, want);
    if !w.within(tol) {
        let i = w.index.expect("an error exceeds tol");
        panic!(
            "{what}: |got - want| = {} at index {i} (got {}, want {}) exceeds {tol} (NaN counts as infinite)",
            w.error,
            got[i].into(),
            want[i].into()
        );
    }
}

/// Panics unless `|got - want| <= tol` (NaN fails).
#[track_caller]
pub fn assert_close(got: f64, want: f64, tol: f64, what: impl Display) {
    let e = (got - want).abs();
    assert!(
        e <= tol,
        "{what}: got {got}, want {want} (|difference| {e} exceeds {tol})"
    );
}

/// The largest value (NaN if any value is NaN; `-inf` for none): for reference scales such
/// as a peak, where dropping a NaN would hide it.
pub fn nan_max(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(f64::NEG_INFINITY, |m, v| {
        if v.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(v)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_is_the_worst_error_and_names_its_index() {
        let w = max_abs_diff(&[1.0f32, f32::NAN, 3.0], &[1.0f64, 2.0, 30.0]);
        assert_eq!(w.error, f64::INFINITY);
        assert_eq!(w.index, Some(1));
        assert!(!w.within(1e9));
        // The pattern this replaces drops the NaN.
        let folded = [0.0f32, f32::NAN].iter().copied().fold(0.0f32, f32::max);
        assert_eq!(folded, 0.0);
        // NaN on the reference side too, and in scalar comparisons.
        assert!(!max_abs_diff(&[0.0f64], &[f64::NAN]).within(1.0));
        let r = std::panic::catch_unwind(|| assert_close(f64::NAN, 0.0, 1.0, "x"));
        assert!(r.is_err());
        assert!(nan_max([1.0, f64::NAN, 2.0]).is_nan());
    }

    #[test]
    fn the_message_names_the_worst_element() {
        let r = std::panic::catch_unwind(|| {
            assert_all_close(&[0.0f64, 0.5, 0.1], &[0.0f64, 0.0, 0.0], 0.2, "case")
        });
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("index 1") && msg.contains("got 0.5"), "{msg}");
        let w = Worst::of([0.1, 0.3, 0.2]);
        assert_eq!((w.error, w.index), (0.3, Some(1)));
        assert_eq!(Worst::of([]).index, None);
        assert_eq!(max_rel_diff(&[2.0f64], &[1.0f64], 1e-9).error, 1.0);
    }
}
