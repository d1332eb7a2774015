//! Registration of a claim onto a reference in the frequency domain.
//!
//! 1. Scale and rotation by Fourier-Mellin: the magnitude spectrum is
//!    invariant to translation, and in log-polar coordinates a scale or a
//!    rotation of the image becomes a shift, found by phase correlation
//!    (Reddy & Chatterji, *An FFT-based technique for translation, rotation
//!    and scale-invariant image registration*, IEEE TIP 5(8), 1996, with
//!    their high-pass emphasis filter `(1 - X)(2 - X)`).
//! 2. Translation by phase correlation (Kuglin & Hines 1975) of the claim
//!    against the reference resampled with that scale and rotation, for both
//!    solutions of the spectrum's 180° ambiguity.
//! 3. Refinement by a pattern search (Hooke & Jeeves 1961) that maximises the
//!    normalised cross-correlation over the overlap.

use rustfft::num_complex::Complex;

use super::plane::{warp, Affine, Plane};
use crate::detectors::FftPlans;

/// Side of the square FFT canvas. Working planes have a long side of at
/// most this, so 256 keeps every transform under a millisecond.
pub(crate) const N: usize = 256;
/// Smallest radius of the log-polar grid, in frequency bins: the lowest
/// frequencies carry the window's own spectrum, not the content's.
const R_MIN: f32 = 2.0;

/// The result of registering a reference onto a claim.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registration {
    /// Reference working frame → claim working frame: a similarity.
    pub affine: Affine,
    /// The map with one axis stretched against the other as well, when it
    /// correlates better: whether the stretch is real is for the caller's
    /// robust similarity to say (paint on a stretched copy, or a weak
    /// correlation that lets the stretch drift, both move the NCC).
    pub stretched: Option<Affine>,
    /// The refinement's objective (NCC, discounted for a small overlap)
    /// under `stretched`, or under `affine` without it.
    pub best_ncc: f32,
}

/// In-place 2-D FFT of an `N x N` buffer (rows, then columns). `inverse`
/// uses the conjugation identity `ifft(x) = conj(fft(conj(x))) / n`, so only
/// the forward plans of [`FftPlans`] are needed.
fn fft2(buf: &mut [Complex<f32>], plans: &FftPlans, inverse: bool) {
    let fft = plans.forward(N);
    if inverse {
        buf.iter_mut().for_each(|c| *c = c.conj());
    }
    fft.process(buf);
    let mut t = vec![Complex::new(0.0, 0.0); N * N];
    transpose(buf, &mut t);
    fft.process(&mut t);
    transpose(&t, buf);
    if inverse {
        let k = 1.0 / (N * N) as f32;
        buf.iter_mut().for_each(|c| *c = c.conj() * k);
    }
}

fn transpose(src: &[Complex<f32>], dst: &mut [Complex<f32>]) {
    for y in 0..N {
        for x in 0..N {
            dst[x * N + y] = src[y * N + x];
        }
    }
}

/// 1-D Hann taper value at continuous position `x` in `[0, len)`.
#[inline]
fn hann(x: f32, len: f32) -> f32 {
    let u = (x / len).clamp(0.0, 1.0);
    0.5 - 0.5 * (2.0 * std::f32::consts::PI * u).cos()
}

/// Zero-mean, Hann-windowed plane embedded top-left in an `N x N` canvas.
fn windowed(p: &Plane) -> Vec<Complex<f32>> {
    let mut buf = vec![Complex::new(0.0, 0.0); N * N];
    let (w, h) = (p.w.min(N), p.h.min(N));
    let n = (w * h).max(1) as f32;
    let mut mean = 0.0f32;
    for y in 0..h {
        for x in 0..w {
            mean += p.get(x, y);
        }
    }
    mean /= n;
    for y in 0..h {
        let wy = hann(y as f32 + 0.5, h as f32);
        for x in 0..w {
            let wx = hann(x as f32 + 0.5, w as f32);
            buf[y * N + x] = Complex::new((p.get(x, y) - mean) * wx * wy, 0.0);
        }
    }
    buf
}

/// The log-polar resampling of the high-passed magnitude spectrum: rows are
/// angles in `[0, pi)`, columns log-radii in `[R_MIN, N/2)`.
fn log_polar(p: &Plane, plans: &FftPlans) -> Vec<f32> {
    let mut buf = windowed(p);
    fft2(&mut buf, plans, false);
    let half = N as i32 / 2;
    // Centred magnitude with Reddy & Chatterji's emphasis filter.
    let mut mag = vec![0.0f32; N * N];
    for v in 0..N as i32 {
        for u in 0..N as i32 {
            let fu = if u >= half { u - N as i32 } else { u };
            let fv = if v >= half { v - N as i32 } else { v };
            let xi = fu as f32 / N as f32;
            let eta = fv as f32 / N as f32;
            let x = (std::f32::consts::PI * xi).cos() * (std::f32::consts::PI * eta).cos();
            let hp = (1.0 - x) * (2.0 - x);
            let m = buf[(v * N as i32 + u) as usize].norm();
            mag[((fv + half) * N as i32 + fu + half) as usize] = m.ln_1p() * hp;
        }
    }
    let centre = Plane {
        w: N,
        h: N,
        data: mag,
    };
    let log_span = (half as f32 / R_MIN).ln();
    let mut out = vec![0.0f32; N * N];
    for a in 0..N {
        let theta = std::f32::consts::PI * a as f32 / N as f32;
        let (s, c) = theta.sin_cos();
        for r in 0..N {
            let rho = R_MIN * (log_span * r as f32 / N as f32).exp();
            let x = half as f32 + rho * c + 0.5;
            let y = half as f32 + rho * s + 0.5;
            out[a * N + r] = centre.sample(x, y).unwrap_or(0.0);
        }
    }
    out
}

/// Phase correlation of two `N x N` real arrays (already windowed as
/// needed), `a` given by its spectrum (a claim's, computed once for all the
/// references it is registered with): returns the sub-pixel shift
/// `(dx, dy)` such that `a(p) ≈ b(p - d)`, and the height of the peak (1.0
/// = identical).
fn phase_correlate(
    a_spectrum: &[Complex<f32>],
    b: &[Complex<f32>],
    plans: &FftPlans,
) -> (f32, f32, f32) {
    let mut fb = b.to_vec();
    fft2(&mut fb, plans, false);
    correlate_spectra(a_spectrum, &fb, plans)
}

/// [`phase_correlate`] of two spectra.
fn correlate_spectra(
    a_spectrum: &[Complex<f32>],
    b_spectrum: &[Complex<f32>],
    plans: &FftPlans,
) -> (f32, f32, f32) {
    let mut fa = a_spectrum.to_vec();
    for (x, y) in fa.iter_mut().zip(b_spectrum) {
        let cross = *x * y.conj();
        let norm = cross.norm();
        *x = if norm > 1e-12 {
            cross / norm
        } else {
            Complex::new(0.0, 0.0)
        };
    }
    fft2(&mut fa, plans, true);
    let surface: Vec<f32> = fa.iter().map(|c| c.re).collect();
    // Deterministic arg-max: the first index of the largest value.
    let (best, peak) =
        surface.iter().enumerate().fold(
            (0usize, f32::MIN),
            |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
        );
    let (px, py) = (best % N, best / N);
    let at = |x: usize, y: usize| surface[(y % N) * N + (x % N)];
    // Parabolic sub-pixel interpolation of the peak along each axis.
    let sub = |l: f32, c: f32, r: f32| {
        let den = l - 2.0 * c + r;
        if den.abs() > 1e-9 {
            (0.5 * (l - r) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let ox = sub(at(px + N - 1, py), peak, at(px + 1, py));
    let oy = sub(at(px, py + N - 1), peak, at(px, py + 1));
    let wrap = |p: usize| {
        if p >= N / 2 {
            p as f32 - N as f32
        } else {
            p as f32
        }
    };
    (wrap(px) + ox, wrap(py) + oy, peak)
}

fn real(data: &[f32]) -> Vec<Complex<f32>> {
    data.iter().map(|&v| Complex::new(v, 0.0)).collect()
}

/// Scale and rotation (radians, modulo pi) of `claim` relative to `reference`
/// by Fourier-Mellin. `claim_lp` is the claim's cached log-polar spectrum.
fn scale_rotation(
    claim_lp_spectrum: &[Complex<f32>],
    reference: &Plane,
    plans: &FftPlans,
) -> (f32, f32) {
    let ref_lp = log_polar(reference, plans);
    let (dr, da, _) = phase_correlate(claim_lp_spectrum, &real(&ref_lp), plans);
    let log_step = ((N as f32 / 2.0) / R_MIN).ln() / N as f32;
    // A claim enlarged by s has its spectrum compressed by 1/s: the log-polar
    // pattern moves by -ln(s). A rotation moves it along the angle axis.
    let scale = (-dr * log_step).exp();
    let theta = da * std::f32::consts::PI / N as f32;
    (scale, theta)
}

/// Translation of the reference warped by `(scale, theta)` about the centres,
/// by phase correlation over the claim's frame; returns the full affine map
/// and the correlation peak.
fn translation(
    claim: &Plane,
    claim_spectrum: &[Complex<f32>],
    reference: &Plane,
    scale: f32,
    theta: f32,
    plans: &FftPlans,
) -> (Affine, f32) {
    let linear = Affine::similarity(scale, theta, 0.0, 0.0);
    let overlay = Overlay::new((claim.w, claim.h), reference, linear, plans);
    overlay.shift(claim_spectrum, plans)
}

/// A reference warped by a `linear` map (its translation is not read)
/// about the centres onto a claim's
/// frame, windowed and transformed: what phase correlation needs of it,
/// shared by every claim plane of that size (a claim and its mirror image).
pub(crate) struct Overlay {
    base: Affine,
    /// `None` when `base` cannot be inverted (no overlay to correlate).
    spectrum: Option<Vec<Complex<f32>>>,
}

impl Overlay {
    pub(crate) fn new(
        (width, height): (usize, usize),
        reference: &Plane,
        linear: Affine,
        plans: &FftPlans,
    ) -> Self {
        let rc = (reference.w as f32 / 2.0, reference.h as f32 / 2.0);
        let cc = (width as f32 / 2.0, height as f32 / 2.0);
        let base = Affine::placing(linear.m, rc, cc);
        let Some(inv) = base.inverse() else {
            return Overlay {
                base,
                spectrum: None,
            };
        };
        let (warped, valid) = warp(reference, &inv, width, height);
        let mut filled = warped;
        // Outside the reference: the mean, so the border adds no false edge.
        let (sum, count) = filled
            .data
            .iter()
            .zip(&valid)
            .filter(|(_, &ok)| ok)
            .fold((0.0f32, 0usize), |(s, c), (&v, _)| (s + v, c + 1));
        let mean = if count > 0 { sum / count as f32 } else { 0.0 };
        for (v, &ok) in filled.data.iter_mut().zip(&valid) {
            if !ok {
                *v = mean;
            }
        }
        Overlay {
            base,
            spectrum: Some(window_spectrum(&filled, plans)),
        }
    }

    /// The map laying the reference onto the claim whose windowed spectrum
    /// is given, and the correlation peak.
    pub(crate) fn shift(&self, claim_spectrum: &[Complex<f32>], plans: &FftPlans) -> (Affine, f32) {
        let Some(spectrum) = &self.spectrum else {
            return (self.base, 0.0);
        };
        let (dx, dy, peak) = correlate_spectra(claim_spectrum, spectrum, plans);
        let mut affine = self.base;
        affine.t[0] += dx;
        affine.t[1] += dy;
        (affine, peak)
    }
}

/// Normalised cross-correlation of `claim` and `reference` mapped through
/// `affine` (reference → claim), sampled every `step` pixels over the
/// overlap. Returns `(ncc, overlap fraction of the claim)`.
pub(crate) fn ncc(claim: &Plane, reference: &Plane, affine: &Affine, step: usize) -> (f32, f32) {
    let Some(inv) = affine.inverse() else {
        return (0.0, 0.0);
    };
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) =
        (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut total = 0usize;
    for y in (0..claim.h).step_by(step.max(1)) {
        for x in (0..claim.w).step_by(step.max(1)) {
            total += 1;
            let (rx, ry) = inv.apply(x as f32 + 0.5, y as f32 + 0.5);
            if let Some(b) = reference.sample(rx, ry) {
                let a = f64::from(claim.get(x, y));
                let b = f64::from(b);
                n += 1.0;
                sa += a;
                sb += b;
                saa += a * a;
                sbb += b * b;
                sab += a * b;
            }
        }
    }
    if n < 16.0 {
        return (0.0, 0.0);
    }
    let va = saa - sa * sa / n;
    let vb = sbb - sb * sb / n;
    let cov = sab - sa * sb / n;
    let r = if va > 1e-9 && vb > 1e-9 {
        (cov / (va * vb).sqrt()) as f32
    } else {
        0.0
    };
    (r, (n / total.max(1) as f64) as f32)
}

/// Objective of the refinement: NCC, discounted when the overlap shrinks so
/// the search cannot win by sliding the reference off the claim.
fn objective(claim: &Plane, reference: &Plane, affine: &Affine) -> f32 {
    let (r, overlap) = ncc(claim, reference, affine, 2);
    r * overlap.min(0.5) * 2.0
}

/// Pattern search over (log-scale, angle, tx, ty) around `start`, then
/// over the log-aspect (x scale over y scale) as well: the similarity and,
/// when it correlates better, the stretched map. The aspect lets a copy
/// resized to another frame shape register: image tools, AI editors among
/// them, resize to sizes rounded to multiples of 8 or 64, which stretches
/// one axis by a few percent, and a similarity leaves such a copy
/// misaligned by pixels at its edges.
fn refine(claim: &Plane, reference: &Plane, start: Affine) -> Registration {
    let theta = start.m[2].atan2(start.m[0]);
    let start_aspect = start.aspect();
    // Parameters: ln(scale), theta, the claim position of the reference
    // centre (so that scale and angle steps do not also move the image),
    // and ln(sx / sy).
    let rc = (reference.w as f32 / 2.0, reference.h as f32 / 2.0);
    let centre = start.apply(rc.0, rc.1);
    let build = |p: &[f32; 5]| {
        let (sn, cs) = p[1].sin_cos();
        let (sx, sy) = ((p[0] + p[4] / 2.0).exp(), (p[0] - p[4] / 2.0).exp());
        Affine::placing([cs * sx, -sn * sy, sn * sx, cs * sy], rc, (p[2], p[3]))
    };
    let objective_at = |p: &[f32; 5]| objective(claim, reference, &build(p));
    let start = [start.scale().max(1e-3).ln(), theta, centre.0, centre.1, 0.0];
    let (similar, ncc) = pattern_search(start, [0.01, 0.004, 1.0, 1.0, 0.0], objective_at);
    // A stretch is looked for only where the similarity already lays the
    // pictures over each other: most registrations are of listings the
    // claim does not come from, and the search would double their cost.
    if ncc < STRETCH_MIN_NCC {
        return Registration {
            affine: build(&similar),
            stretched: None,
            best_ncc: ncc,
        };
    }
    // From the similarity's optimum, with the start's own aspect (a frame
    // laid on another frame's shape starts stretched) and a first aspect
    // step of 4%, so that a 10% stretch is reached from a similarity that
    // compromised between the axes.
    let mut from = similar;
    from[4] = start_aspect.ln();
    let (stretched, stretched_ncc) =
        pattern_search(from, [0.01, 0.004, 1.0, 1.0, 0.04], objective_at);
    Registration {
        affine: build(&similar),
        stretched: (stretched_ncc > ncc).then(|| build(&stretched)),
        best_ncc: ncc.max(stretched_ncc),
    }
}

/// The refinement's objective from which a stretch of one axis is looked
/// for. Copies stretched by 2-10% reach 0.77 and more as a similarity (a
/// scratch battery of 20 listings, session 35).
const STRETCH_MIN_NCC: f32 = 0.5;

/// Maximise `f` by a pattern search from `p` with initial `steps` (a zero
/// step holds its parameter), halving the steps five times.
fn pattern_search(
    mut p: [f32; 5],
    mut steps: [f32; 5],
    f: impl Fn(&[f32; 5]) -> f32,
) -> ([f32; 5], f32) {
    let mut best = f(&p);
    for _ in 0..5 {
        let mut improved = true;
        let mut rounds = 0;
        while improved && rounds < 12 {
            improved = false;
            rounds += 1;
            for k in (0..p.len()).filter(|&k| steps[k] > 0.0) {
                for sign in [1.0f32, -1.0] {
                    let mut q = p;
                    q[k] += sign * steps[k];
                    let v = f(&q);
                    if v > best {
                        best = v;
                        p = q;
                        improved = true;
                    }
                }
            }
        }
        steps.iter_mut().for_each(|s| *s *= 0.5);
    }
    (p, best)
}

/// A claim prepared once for registering many references: the spectra of
/// its log-polar magnitude (for scale and rotation) and of its windowed
/// plane (for the translation), each the claim's half of every phase
/// correlation.
pub(crate) struct ClaimSpectrum {
    lp: Vec<Complex<f32>>,
    pub(crate) win: Vec<Complex<f32>>,
}

impl ClaimSpectrum {
    pub fn new(claim: &Plane, plans: &FftPlans) -> Self {
        let mut lp = real(&log_polar(claim, plans));
        fft2(&mut lp, plans, false);
        ClaimSpectrum {
            lp,
            win: window_spectrum(claim, plans),
        }
    }
}

/// Register `reference` onto `claim` (both working planes, long side ≤ N).
pub(crate) fn register(
    claim: &Plane,
    spectrum: &ClaimSpectrum,
    reference: &Plane,
    plans: &FftPlans,
) -> Registration {
    register_near(
        claim,
        reference,
        spectral_start(claim, spectrum, reference, plans),
    )
}

/// [`register`], only when the spectral estimate already lays the two
/// pictures over each other with an NCC of at least `min_start` (the
/// refinement's objective); otherwise `None`, without refining. For
/// searches over references the claim is unlikely to come from, where the
/// refinement is most of a registration's cost and an unrelated photo
/// seldom starts as close as a copy (see the caller's threshold).
pub(crate) fn register_if_close(
    claim: &Plane,
    spectrum: &ClaimSpectrum,
    reference: &Plane,
    plans: &FftPlans,
    min_start: f32,
) -> Option<Registration> {
    let start = spectral_start(claim, spectrum, reference, plans);
    (objective(claim, reference, &start) >= min_start)
        .then(|| register_near(claim, reference, start))
}

/// Scale and rotation by Fourier-Mellin, then the translation: the affine
/// map the refinement starts from.
fn spectral_start(
    claim: &Plane,
    spectrum: &ClaimSpectrum,
    reference: &Plane,
    plans: &FftPlans,
) -> Affine {
    let (scale, theta) = scale_rotation(&spectrum.lp, reference, plans);
    let mut best: Option<(Affine, f32)> = None;
    // The magnitude spectrum is symmetric, so theta is known modulo pi.
    for angle in [theta, theta + std::f32::consts::PI] {
        let (affine, peak) = translation(claim, &spectrum.win, reference, scale, angle, plans);
        if best.is_none_or(|(_, p)| peak > p) {
            best = Some((affine, peak));
        }
    }
    let spectral = best.map_or(Affine::similarity(1.0, 0.0, 0.0, 0.0), |b| b.0);
    // Frame laid on frame, each axis scaled to fit: a copy resized to
    // another frame shape. Fourier-Mellin reads one scale for both axes,
    // and from a start several percent off in one axis the refinement
    // can settle short of the stretch.
    let framed = Affine::scaling(
        claim.w as f32 / reference.w.max(1) as f32,
        claim.h as f32 / reference.h.max(1) as f32,
    );
    if objective(claim, reference, &framed) > objective(claim, reference, &spectral) {
        framed
    } else {
        spectral
    }
}

/// The spectrum of a plane windowed for phase correlation: what
/// [`Overlay::shift`] takes of a claim (for a claim's mirror image, say).
pub(crate) fn window_spectrum(plane: &Plane, plans: &FftPlans) -> Vec<Complex<f32>> {
    let mut spectrum = windowed(plane);
    fft2(&mut spectrum, plans, false);
    spectrum
}

/// Register `reference` onto `claim` from a first guess `start` (the
/// window a claim's thumbnail matched), by the refinement alone.
pub(crate) fn register_near(claim: &Plane, reference: &Plane, start: Affine) -> Registration {
    refine(claim, reference, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(w: usize, h: usize) -> Plane {
        let mut p = Plane::new(w, h);
        let mut s = 12345u32;
        for y in 0..h {
            for x in 0..w {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let (fx, fy) = (x as f32, y as f32);
                let blob = if ((fx - 90.0).powi(2) + (fy - 70.0).powi(2)) < 900.0 {
                    60.0
                } else {
                    0.0
                };
                let bar = if (x / 23 + y / 31) % 3 == 0 {
                    40.0
                } else {
                    0.0
                };
                p.data[y * w + x] = 60.0 + blob + bar + 0.3 * fx + f32::from((s & 31) as u8);
            }
        }
        p.blurred(0.8)
    }

    #[test]
    fn recovers_scale_and_translation_of_a_crop() {
        let src = texture(256, 200);
        // Claim: the crop [20, 220) x [15, 185) of the source, downscaled by 0.8.
        let truth = Affine::similarity(0.8, 0.0, -20.0 * 0.8, -15.0 * 0.8);
        let Some(inv) = truth.inverse() else {
            panic!("singular")
        };
        let (claim, _) = warp(&src, &inv, 160, 136);
        let plans = FftPlans::default();
        let spectrum = ClaimSpectrum::new(&claim, &plans);
        let reg = register(&claim, &spectrum, &src, &plans);
        let (x, y) = reg.affine.apply(128.0, 100.0);
        let (tx, ty) = truth.apply(128.0, 100.0);
        assert!((x - tx).abs() < 0.5 && (y - ty).abs() < 0.5, "{reg:?}");
        assert!(ncc(&claim, &src, &reg.affine, 1).0 > 0.95, "{reg:?}");
    }

    #[test]
    fn recovers_a_stretch_of_one_axis() {
        let src = texture(240, 200);
        for (sx, sy) in [(1.0f32, 1.06f32), (0.9, 0.84)] {
            let truth = Affine::scaling(sx, sy);
            let Some(inv) = truth.inverse() else {
                panic!("singular")
            };
            let size = |n: usize, s: f32| (n as f32 * s).round() as usize;
            let (claim, _) = warp(&src, &inv, size(240, sx), size(200, sy));
            let plans = FftPlans::default();
            let spectrum = ClaimSpectrum::new(&claim, &plans);
            let reg = register(&claim, &spectrum, &src, &plans);
            let stretched = reg.stretched.expect("stretched");
            let want = sx / sy;
            assert!((stretched.aspect() - want).abs() < 0.005, "{reg:?}");
            let stretched_ncc = ncc(&claim, &src, &stretched, 1).0;
            assert!(stretched_ncc > 0.99, "{reg:?}");
            // The similarity is the best map without a stretch.
            assert!((reg.affine.aspect() - 1.0).abs() < 1e-3, "{reg:?}");
            let similar_ncc = ncc(&claim, &src, &reg.affine, 1).0;
            assert!(similar_ncc < stretched_ncc - 0.005, "{similar_ncc} {reg:?}");
        }
    }

    #[test]
    fn recovers_a_small_rotation() {
        let src = texture(256, 220);
        let angle = 4f32.to_radians();
        let rot = Affine::similarity(0.9, angle, 0.0, 0.0);
        let (mx, my) = rot.apply(128.0, 110.0);
        let truth = Affine::similarity(0.9, angle, 100.0 - mx, 90.0 - my);
        let Some(inv) = truth.inverse() else {
            panic!("singular")
        };
        let (claim, _) = warp(&src, &inv, 200, 180);
        let plans = FftPlans::default();
        let spectrum = ClaimSpectrum::new(&claim, &plans);
        let reg = register(&claim, &spectrum, &src, &plans);
        let got = reg.affine.m[2].atan2(reg.affine.m[0]);
        assert!(
            (got - angle).abs() < 0.3f32.to_radians(),
            "{} vs 4",
            got.to_degrees()
        );
        assert!(ncc(&claim, &src, &reg.affine, 1).0 > 0.9, "{reg:?}");
    }
}
