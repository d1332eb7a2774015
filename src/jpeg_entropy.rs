//! How much of a baseline JPEG its entropy-coded data actually codes.
//!
//! A JPEG cut short and given an end marker again decodes without an error:
//! the decoder reads zero bits past the marker (as libjpeg does, with only a
//! warning) and invents the rest of the frame, which the pixel tests would
//! then read as the photo. Walking the Huffman codes of the scan (ITU T.81
//! F.2.2, without the inverse DCT) counts the MCUs the data codes before it
//! runs out. Only a baseline or extended sequential Huffman frame coded in
//! one scan is walked; other files get no answer. A progressive file is
//! checked by its scan headers instead: whether its scans bring every
//! coefficient to its last bit.

use crate::metadata::{is_sof, jpeg_segments, jpeg_segments_across_scans};

/// The MCUs a sequential JPEG's scan codes in full, and the MCUs its frame
/// declares: `None` when the file is not walked (progressive, arithmetic or
/// multi-scan coding, a table missing) or its data is malformed in another
/// way (an invalid code), which the decoder judges.
pub(crate) fn coded_mcus(bytes: &[u8]) -> Option<(u64, u64)> {
    let mut tables: [Option<Huffman>; 8] = Default::default();
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0u64;
    for (marker, payload) in jpeg_segments(bytes) {
        match marker {
            0xC0 | 0xC1 => frame = Some(Frame::parse(payload)?),
            // Progressive, lossless, hierarchical or arithmetic coding.
            marker if is_sof(marker) => return None,
            0xC4 => read_tables(payload, &mut tables)?,
            0xDD => {
                restart_interval =
                    u64::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]))
            }
            0xDA => {
                let frame = frame?;
                let scan = Scan::parse(payload, &frame, &tables)?;
                let start = payload.as_ptr() as usize - bytes.as_ptr() as usize + payload.len();
                let total = frame.mcus();
                let coded = walk(bytes.get(start..)?, &scan, total, restart_interval)?;
                return Some((coded, total));
            }
            _ => {}
        }
    }
    None
}

/// Bits of a code looked up at once in [`Huffman::fast`].
const FAST_BITS: u32 = 12;

/// A canonical Huffman table (T.81 C, F.2.2.3): per code length, the
/// largest code and where its values start, and codes of up to
/// [`FAST_BITS`] in a lookup table (value, and length in the high byte).
struct Huffman {
    max_code: [i32; 17],
    offset: [i32; 17],
    values: Vec<u8>,
    fast: [u16; 1 << FAST_BITS],
}

impl Huffman {
    fn new(counts: &[u8], values: &[u8]) -> Huffman {
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let mut fast = [0u16; 1 << FAST_BITS];
        let (mut code, mut k) = (0i32, 0i32);
        for length in 1..=16 {
            let n = i32::from(counts[length - 1]);
            offset[length] = k - code;
            for c in code..code + n {
                let value = usize::try_from(c + offset[length])
                    .ok()
                    .and_then(|i| values.get(i));
                if let (Some(&value), true) = (value, length as u32 <= FAST_BITS) {
                    let shift = FAST_BITS - length as u32;
                    let first = (c as usize) << shift;
                    let entry = u16::from(value) | (length as u16) << 8;
                    if let Some(slots) = fast.get_mut(first..first + (1 << shift)) {
                        slots.fill(entry);
                    }
                }
            }
            if n > 0 {
                code += n;
                k += n;
                max_code[length] = code - 1;
            }
            code <<= 1;
        }
        Huffman {
            max_code,
            offset,
            values: values.to_vec(),
            fast,
        }
    }

    /// The value and length of the code at the top of `bits` (16 bits,
    /// zero-padded past the data); `None` for a code the table lacks.
    fn lookup(&self, bits: u32) -> Option<(u8, u32)> {
        let entry = self.fast[(bits >> (16 - FAST_BITS)) as usize];
        if entry != 0 {
            return Some(((entry & 0xFF) as u8, u32::from(entry >> 8)));
        }
        (FAST_BITS as usize + 1..=16).find_map(|length| {
            let code = (bits >> (16 - length)) as i32;
            (code <= self.max_code[length]).then(|| {
                let index = usize::try_from(code + self.offset[length]).ok()?;
                self.values.get(index).map(|&v| (v, length as u32))
            })?
        })
    }
}

/// Read the tables of a DHT segment into `tables` (DC 0-3, AC 4-7).
fn read_tables(mut payload: &[u8], tables: &mut [Option<Huffman>; 8]) -> Option<()> {
    while !payload.is_empty() {
        let class_id = *payload.first()?;
        let counts = payload.get(1..17)?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = payload.get(17..17 + n)?;
        let slot = usize::from(class_id >> 4) * 4 + usize::from(class_id & 3);
        if class_id >> 4 > 1 {
            return None;
        }
        tables[slot] = Some(Huffman::new(counts, values));
        payload = &payload[17 + n..];
    }
    Some(())
}

#[derive(Clone, Copy)]
struct Component {
    id: u8,
    h: u32,
    v: u32,
}

struct Frame {
    width: u32,
    height: u32,
    components: Vec<Component>,
}

impl Frame {
    fn parse(payload: &[u8]) -> Option<Frame> {
        let height = u32::from(u16::from_be_bytes([*payload.get(1)?, *payload.get(2)?]));
        let width = u32::from(u16::from_be_bytes([*payload.get(3)?, *payload.get(4)?]));
        let n = usize::from(*payload.get(5)?);
        let components = (0..n)
            .map(|i| {
                let c = payload.get(6 + 3 * i..9 + 3 * i)?;
                let (h, v) = (u32::from(c[1] >> 4), u32::from(c[1] & 15));
                ((1..=4).contains(&h) && (1..=4).contains(&v)).then_some(Component {
                    id: c[0],
                    h,
                    v,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        // A height of 0 is given later (DNL): not walked.
        (width > 0 && height > 0 && !components.is_empty()).then_some(Frame {
            width,
            height,
            components,
        })
    }

    /// MCUs of the frame's one scan: interleaved over all components, or
    /// the blocks of a lone component (T.81 A.2).
    fn mcus(&self) -> u64 {
        if self.components.len() == 1 {
            return u64::from(self.width.div_ceil(8)) * u64::from(self.height.div_ceil(8));
        }
        let h_max = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        u64::from(self.width.div_ceil(8 * h_max)) * u64::from(self.height.div_ceil(8 * v_max))
    }
}

/// The scan's blocks per MCU, each with its DC and AC table.
struct Scan<'t> {
    blocks: Vec<(&'t Huffman, &'t Huffman)>,
}

impl<'t> Scan<'t> {
    /// A scan of every component of `frame` (one scan holds the frame).
    fn parse(payload: &[u8], frame: &Frame, tables: &'t [Option<Huffman>; 8]) -> Option<Scan<'t>> {
        let n = usize::from(*payload.first()?);
        if n != frame.components.len() {
            return None;
        }
        let mut blocks = Vec::new();
        for i in 0..n {
            let selector = payload.get(1 + 2 * i..3 + 2 * i)?;
            let component = frame.components.iter().find(|c| c.id == selector[0])?;
            let dc = tables[usize::from(selector[1] >> 4) & 3].as_ref()?;
            let ac = tables[4 + (usize::from(selector[1] & 15) & 3)].as_ref()?;
            let count = if n == 1 { 1 } else { component.h * component.v };
            blocks.extend((0..count).map(|_| (dc, ac)));
        }
        Some(Scan { blocks })
    }
}

/// Bits of entropy-coded data, unstuffed (T.81 F.1.2.3), up to a marker.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
    acc: u64,
    count: u32,
    /// The marker that ended the data, once reached (`None` at the end of the file).
    marker: Option<Option<u8>>,
}

impl Bits<'_> {
    /// Load bytes until at least `n` (at most 56) bits are held or the
    /// data ends.
    fn fill(&mut self, n: u32) {
        // Four bytes at once while none of them is 0xFF (stuffed or a marker).
        while self.count <= 32 && self.marker.is_none() {
            let Some(word) = self.data.get(self.at..self.at + 4) else {
                break;
            };
            let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            // Whether some byte of `word` is 0xFF (the "has zero byte" trick
            // on its complement).
            let inverted = !word;
            if inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080 != 0 {
                break;
            }
            self.acc = (self.acc << 32) | u64::from(word);
            self.count += 32;
            self.at += 4;
        }
        while self.count < n && self.marker.is_none() {
            let Some(&byte) = self.data.get(self.at) else {
                self.marker = Some(None);
                break;
            };
            if byte == 0xFF {
                match self.data.get(self.at + 1) {
                    Some(0x00) => self.at += 2,
                    Some(&0xFF) => {
                        // Fill bytes before a marker.
                        self.at += 1;
                        continue;
                    }
                    next => {
                        self.marker = Some(next.copied());
                        break;
                    }
                }
            } else {
                self.at += 1;
            }
            self.acc = (self.acc << 8) | u64::from(byte);
            self.count += 8;
        }
    }

    /// Skip the next `n` (at most 16) bits; `false` if the data ends first.
    fn skip(&mut self, n: u32) -> bool {
        if self.count < n {
            self.fill(56);
        }
        if self.count < n {
            return false;
        }
        self.count -= n;
        true
    }

    /// The next 16 bits, zero-padded past the end of the data.
    fn peek(&mut self) -> u32 {
        if self.count < 16 {
            self.fill(56);
        }
        if self.count >= 16 {
            (self.acc >> (self.count - 16)) as u32 & 0xFFFF
        } else {
            (self.acc << (16 - self.count)) as u32 & 0xFFFF
        }
    }

    /// Decode one Huffman value (T.81 F.2.2.3); `Err` on a code no table
    /// holds, `Ok(None)` when the data ran out first.
    fn decode(&mut self, table: &Huffman) -> Result<Option<u8>, ()> {
        let bits = self.peek();
        let Some((value, length)) = table.lookup(bits) else {
            // Zero bits past the end may spell no code at all.
            return if self.count < 16 { Ok(None) } else { Err(()) };
        };
        if length > self.count {
            return Ok(None);
        }
        self.count -= length;
        Ok(Some(value))
    }

    /// Move past the restart marker reached: drop the bits left in the
    /// byte, then the marker (T.81 F.1.2.3).
    fn restart(&mut self) {
        self.count = 0;
        self.acc = 0;
        self.at += 2;
        self.marker = None;
    }
}

/// Walk `data` (from the scan's first byte) and count the MCUs it codes in
/// full, up to `total`; `None` on a code no table holds.
fn walk(data: &[u8], scan: &Scan<'_>, total: u64, restart_interval: u64) -> Option<u64> {
    let mut bits = Bits {
        data,
        at: 0,
        acc: 0,
        count: 0,
        marker: None,
    };
    for mcu in 0..total {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            bits.fill(8);
            match bits.marker {
                Some(Some(0xD0..=0xD7)) => bits.restart(),
                // The end marker, another one, or the end of the file.
                Some(_) => return Some(mcu),
                // Data where a restart marker belongs.
                None => return None,
            }
        }
        for &(dc, ac) in &scan.blocks {
            let Ok(size) = bits.decode(dc) else {
                return None;
            };
            let Some(size) = size else {
                return Some(mcu);
            };
            if size > 16 || !bits.skip(u32::from(size)) {
                return (size <= 16).then_some(mcu);
            }
            let mut k = 1;
            while k < 64 {
                let Ok(rs) = bits.decode(ac) else {
                    return None;
                };
                let Some(rs) = rs else {
                    return Some(mcu);
                };
                let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                if size == 0 {
                    if run != 15 {
                        break; // end of block
                    }
                    k += 16;
                } else {
                    k += run;
                    if !bits.skip(size) {
                        return Some(mcu);
                    }
                    k += 1;
                }
            }
            if k > 64 {
                return None;
            }
        }
    }
    Some(total)
}

/// Whether a progressive JPEG's scans code every coefficient of every
/// component down to its last bit: `None` when the file is not a
/// progressive Huffman JPEG or its headers are malformed.
///
/// A progressive file sends each band of coefficients in scans of
/// decreasing bit position (T.81 G.1.1.1); the encoders in use (libjpeg's
/// scripts, mozjpeg, Photoshop) end every coefficient at bit 0. Cut short
/// and given a new end marker, the file loses its last scans, which the
/// decoder reads as zeros: the photo loses its fine detail, and with it the
/// traces the pixel tests read, without an error. The standard allows an
/// encoder to leave bits out (libjpeg's own check asks only for some DC),
/// so such a rare file is refused too.
pub(crate) fn progressive_scans_complete(bytes: &[u8]) -> Option<bool> {
    let mut ids: Option<Vec<u8>> = None;
    let mut finished: Vec<u64> = Vec::new();
    // A file of more scans than any encoder writes is not judged (libjpeg-
    // turbo's djpeg refuses past 500 by default): thousands of hostile scan
    // headers would otherwise cost time for nothing.
    let mut scans = 0usize;
    for (marker, payload) in jpeg_segments_across_scans(bytes) {
        match marker {
            0xC2 => {
                let frame = Frame::parse(payload)?;
                finished = vec![0; frame.components.len()];
                ids = Some(frame.components.iter().map(|c| c.id).collect());
            }
            // Any other frame: not progressive Huffman coding.
            marker if is_sof(marker) => return None,
            0xDA => {
                let ids = ids.as_ref()?;
                scans += 1;
                let n = usize::from(*payload.first()?);
                let (ss, se, al) = match payload.get(1 + 2 * n..4 + 2 * n)? {
                    &[ss, se, a] => (u32::from(ss), u32::from(se), a & 15),
                    _ => return None,
                };
                // A scan codes 1 to 4 components, an AC band only one
                // (T.81 B.2.3, G.1.1.1).
                if scans > MAX_PROGRESSIVE_SCANS
                    || !(1..=4).contains(&n)
                    || (ss > 0 && n != 1)
                    || ss > se
                    || se > 63
                {
                    return None;
                }
                if al == 0 {
                    // Bits ss..=se of the 64 coefficients in zig-zag order.
                    let band = (u64::MAX >> (63 - se)) & (u64::MAX << ss);
                    for i in 0..n {
                        let id = *payload.get(1 + 2 * i)?;
                        let at = ids.iter().position(|&c| c == id)?;
                        finished[at] |= band;
                    }
                }
            }
            _ => {}
        }
    }
    ids?;
    Some(finished.iter().all(|&bits| bits == u64::MAX))
}

/// Most scans [`progressive_scans_complete`] reads.
const MAX_PROGRESSIVE_SCANS: usize = 1000;
