//! Writes the sample images of `examples/images/`, made entirely in code so
//! that the repository ships no third-party photo:
//!
//! - `photo.jpg`: a camera-like image (smooth scene, signal-dependent noise), JPEG q=90;
//! - `edited.jpg`: the same scene with a patch smoothed away (as an inpainting
//!   tool leaves it) and a patch of stronger noise pasted in, re-saved at q=90;
//! - `inpainted.png`: the scene saved as JPEG q=80, decoded, a patch smoothed
//!   away after decoding (as an inpainting tool that composites its output
//!   into the photo does), stored as PNG: the patch is off the JPEG lattice
//!   the rest keeps;
//! - `ai_labelled.png`: an image carrying the GB 45438-2025 AIGC label and
//!   AUTOMATIC1111 generation parameters.
//!
//! Run: `cargo run --example make_samples`.

#[path = "../tests/common/mod.rs"]
mod common;

use image::RgbImage;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images");
    std::fs::create_dir_all(&dir)?;
    let photo = common::camera_like(640, 480, 42);
    std::fs::write(dir.join("photo.jpg"), common::jpeg(&photo, 90))?;

    let mut edited = photo.clone();
    smooth_patch(&mut edited, 380, 140, 160, 120);
    let noisy = common::camera_like(640, 480, 7);
    for y in 300..400 {
        for x in 80..200 {
            let p = edited.get_pixel(x, y).0;
            let n = noisy.get_pixel(x, y).0;
            let extra = |c: usize| {
                (f32::from(p[c]) + 4.0 * (f32::from(n[c]) - f32::from(photo.get_pixel(x, y).0[c])))
                    .clamp(0.0, 255.0) as u8
            };
            edited.put_pixel(x, y, image::Rgb([extra(0), extra(1), extra(2)]));
        }
    }
    std::fs::write(dir.join("edited.jpg"), common::jpeg(&edited, 90))?;

    let decoded = image::load_from_memory(&common::jpeg(&photo, 80))
        .map_err(std::io::Error::other)?
        .to_rgb8();
    let mut inpainted = decoded;
    smooth_patch(&mut inpainted, 200, 180, 120, 96);
    std::fs::write(dir.join("inpainted.png"), common::png(&inpainted))?;

    let generated = common::png(&common::camera_like(256, 256, 3));
    let labelled = common::png_with_chunks(
        &generated,
        &[
            common::text_chunk(
                "AIGC",
                r#"{"Label":"1","ContentProducer":"example-producer","ProduceID":"sample-0001"}"#,
            ),
            common::text_chunk(
                "parameters",
                "a ceramic vase with a crack\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1",
            ),
        ],
    );
    std::fs::write(dir.join("ai_labelled.png"), labelled)?;
    println!("wrote samples to {}", dir.display());
    Ok(())
}

/// Replace a rectangle by a heavy box blur of itself: texture and sensor
/// noise vanish, as after inpainting or retouching.
fn smooth_patch(img: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32) {
    let src = img.clone();
    let r = 6i64;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let mut sum = [0u32; 3];
            let mut n = 0;
            for dy in -r..=r {
                for dx in -r..=r {
                    let (sx, sy) = (x as i64 + dx, y as i64 + dy);
                    if sx >= 0 && sy >= 0 && (sx as u32) < src.width() && (sy as u32) < src.height()
                    {
                        let p = src.get_pixel(sx as u32, sy as u32).0;
                        for c in 0..3 {
                            sum[c] += u32::from(p[c]);
                        }
                        n += 1;
                    }
                }
            }
            img.put_pixel(x, y, image::Rgb(sum.map(|s| (s / n) as u8)));
        }
    }
}
