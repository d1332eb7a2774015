//! A single-channel f32 image and the resampling shared by the reference
//! modules. Coordinates are continuous: pixel `(i, j)` covers
//! `[i, i+1) x [j, j+1)` and its centre is `(i + 0.5, j + 0.5)`, so a resize
//! by `f` maps `x` to `f * x` exactly.

use image::{ImageBuffer, Luma, RgbImage};

/// A row-major f32 plane.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn new(w: usize, h: usize) -> Self {
        Plane {
            w,
            h,
            data: vec![0.0; w * h],
        }
    }

    /// ITU-R BT.601 luma of an RGB image, 0..=255.
    pub fn luma(rgb: &RgbImage) -> Self {
        let data = rgb
            .pixels()
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect();
        Plane {
            w: rgb.width() as usize,
            h: rgb.height() as usize,
            data,
        }
    }

    /// One channel of an RGB image, 0..=255.
    pub fn channel(rgb: &RgbImage, c: usize) -> Self {
        Plane {
            w: rgb.width() as usize,
            h: rgb.height() as usize,
            data: rgb.pixels().map(|p| f32::from(p[c])).collect(),
        }
    }

    /// The three colour channels of `rgb`.
    pub fn channels(rgb: &RgbImage) -> [Self; 3] {
        [0, 1, 2].map(|c| Plane::channel(rgb, c))
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.w + x]
    }

    /// Bilinear sample at continuous coordinates; `None` outside the plane
    /// (half a pixel of border is clamped so the edge pixels are usable).
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> Option<f32> {
        Bilinear::at(self.w, self.h, x, y).map(|at| at.sample(self))
    }

    /// Gaussian blur (imageproc's separable kernel).
    pub fn blurred(&self, sigma: f32) -> Self {
        if self.data.is_empty() || sigma <= 0.0 {
            return self.clone();
        }
        let Some(buf) = ImageBuffer::<Luma<f32>, Vec<f32>>::from_raw(
            self.w as u32,
            self.h as u32,
            self.data.clone(),
        ) else {
            return self.clone();
        };
        let out = imageproc::filter::gaussian_blur_f32(&buf, sigma);
        Plane {
            w: self.w,
            h: self.h,
            data: out.into_raw(),
        }
    }

    /// Turned a quarter turn clockwise (`h x w`).
    pub fn quarter_turned(&self) -> Self {
        let mut data = Vec::with_capacity(self.data.len());
        for x in 0..self.w {
            for y in (0..self.h).rev() {
                data.push(self.data[y * self.w + x]);
            }
        }
        Plane {
            w: self.h,
            h: self.w,
            data,
        }
    }

    /// Mirror left-right.
    pub fn flipped(&self) -> Self {
        let mut data = Vec::with_capacity(self.data.len());
        for row in self.data.chunks_exact(self.w.max(1)) {
            data.extend(row.iter().rev());
        }
        Plane {
            w: self.w,
            h: self.h,
            data,
        }
    }
}

/// Borrowed 8-bit RGB pixels (a decoder's buffer, not copied).
pub(crate) type RgbView<'a> = image::ImageBuffer<image::Rgb<u8>, &'a [u8]>;

/// Resize so the long side is at most `long`, keeping the aspect ratio;
/// never upscales. Triangle filtering scales its support when shrinking, so
/// the result is anti-aliased.
pub(crate) fn shrink<C: std::ops::Deref<Target = [u8]>>(
    rgb: &image::ImageBuffer<image::Rgb<u8>, C>,
    long: u32,
) -> RgbImage {
    let (w, h) = rgb.dimensions();
    let side = w.max(h);
    if side <= long {
        return image::buffer::ConvertBuffer::convert(rgb);
    }
    let f = long as f64 / side as f64;
    let nw = ((w as f64 * f).round() as u32).max(1);
    let nh = ((h as f64 * f).round() as u32).max(1);
    image::imageops::resize(rgb, nw, nh, image::imageops::FilterType::Triangle)
}

/// A 2-D affine map between continuous coordinate frames:
/// `out = [a b; c d] * in + [tx, ty]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Affine {
    pub m: [f32; 4],
    pub t: [f32; 2],
}

impl Affine {
    /// Scale `s`, rotation `theta` (radians, counter-clockwise on screen with
    /// y down is clockwise visually; the sign convention is internal), then
    /// translation.
    pub fn similarity(s: f32, theta: f32, tx: f32, ty: f32) -> Self {
        let (sn, cs) = theta.sin_cos();
        Affine {
            m: [s * cs, -s * sn, s * sn, s * cs],
            t: [tx, ty],
        }
    }

    #[inline]
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.m[0] * x + self.m[1] * y + self.t[0],
            self.m[2] * x + self.m[3] * y + self.t[1],
        )
    }

    pub fn inverse(&self) -> Option<Self> {
        let det = self.m[0] * self.m[3] - self.m[1] * self.m[2];
        if !det.is_finite() || det.abs() < 1e-12 {
            return None;
        }
        let m = [
            self.m[3] / det,
            -self.m[1] / det,
            -self.m[2] / det,
            self.m[0] / det,
        ];
        let t = [
            -(m[0] * self.t[0] + m[1] * self.t[1]),
            -(m[2] * self.t[0] + m[3] * self.t[1]),
        ];
        Some(Affine { m, t })
    }

    /// `self` after `first`: `x -> self(first(x))`.
    pub fn compose(&self, first: &Affine) -> Self {
        let a = &self.m;
        let b = &first.m;
        Affine {
            m: [
                a[0] * b[0] + a[1] * b[2],
                a[0] * b[1] + a[1] * b[3],
                a[2] * b[0] + a[3] * b[2],
                a[2] * b[1] + a[3] * b[3],
            ],
            t: [
                a[0] * first.t[0] + a[1] * first.t[1] + self.t[0],
                a[2] * first.t[0] + a[3] * first.t[1] + self.t[1],
            ],
        }
    }

    /// The linear map `m`, shifted so that it takes the point `from` to
    /// `to`.
    pub fn placing(m: [f32; 4], from: (f32, f32), to: (f32, f32)) -> Self {
        let linear = Affine { m, t: [0.0, 0.0] };
        let (mx, my) = linear.apply(from.0, from.1);
        Affine {
            m,
            t: [to.0 - mx, to.1 - my],
        }
    }

    /// Per-axis scaling `x -> (sx x, sy y)`.
    pub fn scaling(sx: f32, sy: f32) -> Self {
        Affine {
            m: [sx, 0.0, 0.0, sy],
            t: [0.0, 0.0],
        }
    }

    /// A shift by `(tx, ty)`.
    pub fn translation(tx: f32, ty: f32) -> Self {
        Affine {
            m: [1.0, 0.0, 0.0, 1.0],
            t: [tx, ty],
        }
    }

    /// The x scale over the y scale (1 for a similarity): the linear part
    /// factored as a rotation after an upper-triangular matrix
    /// `[sx k; 0 sy]`, whose small shear `k` a report leaves out. Both
    /// scales are taken positive (a mirror is reported apart).
    pub fn aspect(&self) -> f32 {
        let det = (self.m[0] * self.m[3] - self.m[1] * self.m[2]).abs();
        let sx = self.m[0].hypot(self.m[2]);
        let aspect = sx * sx / det;
        if aspect.is_finite() && aspect > 0.0 {
            aspect
        } else {
            1.0
        }
    }

    /// The mean scale factor, `sqrt(|det|)`.
    pub fn scale(&self) -> f32 {
        (self.m[0] * self.m[3] - self.m[1] * self.m[2]).abs().sqrt()
    }
}

/// Where a bilinear sample of a `w x h` plane reads, and with what weights.
#[derive(Clone, Copy)]
struct Bilinear {
    top_left: usize,
    /// Offsets of the right and lower neighbours (0 on the last column and
    /// row, which are clamped).
    right: usize,
    down: usize,
    ax: f32,
    ay: f32,
}

impl Bilinear {
    /// At continuous coordinates; `None` outside the plane (half a pixel of
    /// border is clamped so the edge pixels are usable).
    #[inline]
    fn at(w: usize, h: usize, x: f32, y: f32) -> Option<Self> {
        let (fx, fy) = (x - 0.5, y - 0.5);
        if !(fx > -0.5 && fy > -0.5 && fx < w as f32 - 0.5 && fy < h as f32 - 0.5) {
            return None;
        }
        let fx = fx.clamp(0.0, (w - 1) as f32);
        let fy = fy.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (fx as usize, fy as usize);
        Some(Bilinear {
            top_left: y0 * w + x0,
            right: usize::from(x0 + 1 < w),
            down: if y0 + 1 < h { w } else { 0 },
            ax: fx - x0 as f32,
            ay: fy - y0 as f32,
        })
    }

    #[inline]
    fn sample(self, plane: &Plane) -> f32 {
        let d = &plane.data;
        let (i, j) = (self.top_left, self.top_left + self.down);
        let top = d[i] + (d[i + self.right] - d[i]) * self.ax;
        let bottom = d[j] + (d[j + self.right] - d[j]) * self.ax;
        top + (bottom - top) * self.ay
    }
}

/// Warp `src` into a `w x h` frame: `out(p) = src(inv(p))`, where `inv`
/// maps output coordinates to source coordinates. Also returns the validity
/// mask (1 where the source covers the output pixel).
pub(crate) fn warp(src: &Plane, inv: &Affine, w: usize, h: usize) -> (Plane, Vec<bool>) {
    let (mut planes, valid) = warp_all(std::slice::from_ref(src), inv, w, h);
    (planes.pop().unwrap_or_else(|| Plane::new(w, h)), valid)
}

/// [`warp`] of planes of one size together: each sample's position and
/// weights are worked out once for all of them.
pub(crate) fn warp_all(src: &[Plane], inv: &Affine, w: usize, h: usize) -> (Vec<Plane>, Vec<bool>) {
    let mut out: Vec<Plane> = src.iter().map(|_| Plane::new(w, h)).collect();
    let mut valid = vec![false; w * h];
    let Some(first) = src.first() else {
        return (out, valid);
    };
    let (sw, sh) = (first.w, first.h);
    if src
        .iter()
        .any(|p| p.w != sw || p.h != sh || p.data.len() != sw * sh)
    {
        return (out, valid);
    }
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = inv.apply(x as f32 + 0.5, y as f32 + 0.5);
            if let Some(at) = Bilinear::at(sw, sh, sx, sy) {
                for (plane, source) in out.iter_mut().zip(src) {
                    plane.data[y * w + x] = at.sample(source);
                }
                valid[y * w + x] = true;
            }
        }
    }
    (out, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bilinear interpolation written out on its own: the four pixel
    /// centres around the point, clamped to the plane.
    fn bilinear(plane: &Plane, x: f32, y: f32) -> f32 {
        let fx = (x - 0.5).clamp(0.0, (plane.w - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (plane.h - 1) as f32);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let at = |x: f32, y: f32| {
            let (x, y) = ((x as usize).min(plane.w - 1), (y as usize).min(plane.h - 1));
            plane.data[y * plane.w + x]
        };
        (1.0 - ay) * ((1.0 - ax) * at(x0, y0) + ax * at(x0 + 1.0, y0))
            + ay * ((1.0 - ax) * at(x0, y0 + 1.0) + ax * at(x0 + 1.0, y0 + 1.0))
    }

    /// Planes warped together are each sampled bilinearly where the
    /// source covers the output (half a pixel of border included), as one
    /// plane warped alone is.
    #[test]
    fn planes_warped_together_are_each_sampled_bilinearly() {
        let (w, h) = (37, 23);
        let planes: Vec<Plane> = (0..3)
            .map(|c| Plane {
                w,
                h,
                data: (0..w * h)
                    .map(|i| ((i % w) * (c + 2) + (i / w) * (i / w) * (3 - c)) as f32 % 97.0)
                    .collect(),
            })
            .collect();
        let inv = Affine::similarity(0.8, 0.3, 2.0, -1.5);
        let (warped, valid) = warp_all(&planes, &inv, 40, 30);
        let mut covered = 0;
        for (i, &is_valid) in valid.iter().enumerate() {
            let (sx, sy) = inv.apply((i % 40) as f32 + 0.5, (i / 40) as f32 + 0.5);
            let inside = sx > 0.0 && sy > 0.0 && sx < w as f32 && sy < h as f32;
            assert_eq!(is_valid, inside, "pixel {i} at ({sx}, {sy})");
            if inside {
                covered += 1;
                for (plane, source) in warped.iter().zip(&planes) {
                    let expected = bilinear(source, sx, sy);
                    assert!((plane.data[i] - expected).abs() < 1e-3, "{i}: {expected}");
                }
            }
        }
        assert!(covered > 300, "{covered}");
        let (alone, _) = warp(&planes[1], &inv, 40, 30);
        assert_eq!(alone.data, warped[1].data);
    }
}
