//! Winograd F(4×4, 3×3) convolution on NCHW planes: 2.25× fewer multiplies than F(2,3)'s
//! 36/16 → 4× fewer than a direct 3×3 conv, with f32 error still ~1e-6 relative.
//!
//! Per image: tiles of 4×4 outputs read 6×6 inputs. The input transform `V = Bᵀ d B` is
//! vectorized across 16 neighbouring tiles of a tile row (the input row is first split by
//! column mod 4, so the 16 tiles' elements sit in contiguous lanes), and written as
//! `V[ξ][c][t]` (ξ = the 36 transform positions, t = tile). Then 36 GEMMs
//! `M[ξ] = U[ξ] · V[ξ]` with the pre-transformed weights `U[ξ] = [c_out × c_in]`, and the
//! output transform `Aᵀ M A` (+bias, ReLU) writes NCHW rows. Work is split into blocks of tile
//! rows (so `V` stays in cache) and chunks of output channels (so `M` does too).

use super::gemm::{Kernels, LANES, MAX_NV, MR};
use super::threads::{parallel_for, parallel_for_with, threads, Scratch, SyncPtr};

const NXI: usize = 36;
const L: usize = LANES;
type Vf = [f32; L];

/// Weights in the Winograd domain, packed for the micro-kernel: `[ξ][kb][c_in][MR]`, where
/// output channel `k = kb·MR + r` (zero rows pad `c_out` to a multiple of MR).
pub(crate) struct WinoWeights {
    pub c_in: usize,
    pub c_out: usize,
    nkb: usize,
    u: Vec<f32>,
}

impl WinoWeights {
    /// `w` is `[c_out][c_in][3][3]` (cross-correlation, as torch/candle).
    pub fn new(w: &[f32], c_out: usize, c_in: usize) -> Self {
        assert_eq!(w.len(), c_out * c_in * 9);
        // G for F(4,3) (Lavin & Gray), in f64 so the transform adds no rounding of its own.
        const G: [[f64; 3]; 6] = [
            [1.0 / 4.0, 0.0, 0.0],
            [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
            [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
            [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
            [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
            [0.0, 0.0, 1.0],
        ];
        let nkb = c_out.div_ceil(MR);
        // Parallel over blocks of MR output channels; each writes its own [ξ][kb] slices.
        let mut u = vec![0f32; NXI * nkb * c_in * MR];
        let up = SyncPtr(u.as_mut_ptr());
        parallel_for(nkb, |kb| {
            for c in 0..c_in {
                let mut tmp = [[0f32; NXI]; MR];
                for (r, out) in tmp.iter_mut().enumerate() {
                    let k = kb * MR + r;
                    if k >= c_out {
                        break;
                    }
                    let g = &w[(k * c_in + c) * 9..][..9];
                    let mut gg = [[0f64; 3]; 6]; // G g
                    for a in 0..6 {
                        for q in 0..3 {
                            let mut acc = 0f64;
                            for p in 0..3 {
                                acc += G[a][p] * g[p * 3 + q] as f64;
                            }
                            gg[a][q] = acc;
                        }
                    }
                    for a in 0..6 {
                        for b in 0..6 {
                            let mut acc = 0f64;
                            for q in 0..3 {
                                acc += gg[a][q] * G[b][q];
                            }
                            out[a * 6 + b] = acc as f32;
                        }
                    }
                }
                for xi in 0..NXI {
                    // SAFETY: slice (ξ, kb, c) belongs to this work item.
                    let dst = unsafe { up.slice(((xi * nkb + kb) * c_in + c) * MR, MR) };
                    for (d, t) in dst.iter_mut().zip(&tmp) {
                        *d = t[xi];
                    }
                }
            }
        });
        WinoWeights {
            c_in,
            c_out,
            nkb,
            u,
        }
    }

    /// Bytes of the transformed weights.
    pub fn bytes(&self) -> usize {
        self.u.len() * 4
    }
}

/// Tiling of one layer.
struct Plan {
    h: usize,
    w: usize,
    /// Tiles per row / tile rows.
    tx: usize,
    ty: usize,
    /// Tile rows per block, number of blocks.
    rows_per_blk: usize,
    nblk: usize,
    /// Length of one column-phase row in the deinterleaved input scratch.
    qp: usize,
    /// Padded tiles per block (the row stride of V and M).
    tbp: usize,
    /// Output channels per chunk (multiple of MR) and number of chunks.
    kc: usize,
    nkc: usize,
}

impl Plan {
    fn new(h: usize, w: usize, wts: &WinoWeights) -> Self {
        let tx = w.div_ceil(4);
        let ty = h.div_ceil(4);
        // V for a block should stay in L2/L3; but every block re-reads all the transformed
        // weights, so when those are big, take bigger blocks.
        // (block sizes between 192 KiB and 1.5 MiB measured the same within noise)
        let budget = (384 << 10).max(wts.bytes() / 2).min(8 << 20);
        let row_bytes = NXI * wts.c_in * tx * 4;
        let mut rows_per_blk = (budget / row_bytes.max(1)).clamp(1, ty);
        let mut nblk = ty.div_ceil(rows_per_blk);
        // Balance the blocks (e.g. 7 rows as 4+3 rather than 6+1).
        rows_per_blk = ty.div_ceil(nblk);
        nblk = ty.div_ceil(rows_per_blk);
        let t_blk = rows_per_blk * tx;
        let tbp = t_blk.next_multiple_of(L) + L;
        // M for a chunk of output channels: ~256 KiB.
        let kp = wts.nkb * MR;
        let kc = ((256 << 10) / (NXI * tbp * 4))
            .max(1)
            .next_multiple_of(MR)
            .min(kp);
        let nkc = kp.div_ceil(kc);
        Plan {
            h,
            w,
            tx,
            ty,
            rows_per_blk,
            nblk,
            qp: tx.next_multiple_of(L) + L,
            tbp,
            kc,
            nkc,
        }
    }

    fn blk_rows(&self, blk: usize) -> (usize, usize) {
        let r0 = blk * self.rows_per_blk;
        (r0, (r0 + self.rows_per_blk).min(self.ty))
    }

    fn v_len(&self, c_in: usize) -> usize {
        NXI * c_in * self.tbp
    }

    fn m_len(&self) -> usize {
        NXI * self.kc * self.tbp
    }

    fn dpl_len(&self) -> usize {
        (4 * self.rows_per_blk + 3) * 4 * self.qp
    }
}

/// `y = relu?(conv3x3(x ⊙ [mask > 0]) + bias)` for `x` = `[n][c_in][h][w]`, stride 1, pad 1.
/// The mask (same shape as `x`) is how the backward pass applies the ReLU derivative of the
/// layer above while reading its gradient, instead of in a separate pass.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv(
    x: &[f32],
    mask: Option<&[f32]>,
    n: usize,
    h: usize,
    w: usize,
    wts: &WinoWeights,
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let (c_in, c_out) = (wts.c_in, wts.c_out);
    assert_eq!(x.len(), n * c_in * h * w);
    if let Some(m) = mask {
        assert_eq!(m.len(), x.len());
    }
    let out_len = n * c_out * h * w;
    let mut out: Vec<f32> = Vec::with_capacity(out_len);
    if out_len == 0 {
        return out;
    }
    let plan = Plan::new(h, w, wts);
    let kernels = Kernels::detect();
    let isa = Isa::detect();
    let opt = SyncPtr(out.as_mut_ptr());
    let nt = threads();
    for img in 0..n {
        let xi = &x[img * c_in * h * w..][..c_in * h * w];
        let mi = mask.map(|m| &m[img * c_in * h * w..][..c_in * h * w]);
        let oimg = SyncPtr(unsafe { opt.0.add(img * c_out * h * w) });
        let ctx = Ctx {
            plan: &plan,
            wts,
            x: xi,
            mask: mi,
            bias,
            relu,
            out: oimg,
            kernels,
            isa,
        };
        if nt <= 1 || plan.nblk >= 3 * nt {
            // Enough blocks: each worker runs whole blocks, everything stays in its caches.
            parallel_for_with(
                plan.nblk,
                || {
                    (
                        Scratch::new(plan.v_len(c_in)),
                        Scratch::new(plan.m_len()),
                        Scratch::new(plan.dpl_len()),
                    )
                },
                |(v, m, dpl), blk| {
                    for c in 0..c_in {
                        ctx.input_transform(c, blk, v.as_mut_ptr(), dpl);
                    }
                    for kc in 0..plan.nkc {
                        ctx.gemm_output(kc, blk, v, m);
                    }
                },
            );
        } else {
            // Few big blocks (deep layers): share V, split its transform by input channels
            // and the GEMMs by output-channel chunks.
            let mut v = Scratch::new(plan.v_len(c_in));
            for blk in 0..plan.nblk {
                let vp = SyncPtr(v.as_mut_ptr());
                let cchunk = c_in.div_ceil(4 * nt).max(1);
                parallel_for_with(
                    c_in.div_ceil(cchunk),
                    || Scratch::new(plan.dpl_len()),
                    |dpl, i| {
                        for c in i * cchunk..((i + 1) * cchunk).min(c_in) {
                            ctx.input_transform(c, blk, vp.ptr(), dpl);
                        }
                    },
                );
                let v = &v[..];
                parallel_for_with(
                    plan.nkc,
                    || Scratch::new(plan.m_len()),
                    |m, kc| ctx.gemm_output(kc, blk, v, m),
                );
            }
        }
    }
    // SAFETY: the output transforms wrote every element (all channels, rows and columns).
    unsafe { out.set_len(out_len) };
    out
}

struct Ctx<'a> {
    plan: &'a Plan,
    wts: &'a WinoWeights,
    x: &'a [f32],
    mask: Option<&'a [f32]>,
    bias: Option<&'a [f32]>,
    relu: bool,
    out: SyncPtr,
    kernels: Kernels,
    isa: Isa,
}

/// Instruction set for the transforms: the same Rust lane loops compiled three times, so they
/// become AVX-512 / AVX2 code without a global `-C target-cpu`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Portable,
}

impl Isa {
    fn detect() -> Self {
        let cap = super::gemm::isa_cap();
        #[cfg(target_arch = "x86_64")]
        if cap.as_deref() != Some("portable") {
            if std::arch::is_x86_feature_detected!("avx512f") && cap.as_deref() != Some("avx2") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        let _ = cap; // unused off x86
        Isa::Portable
    }
}

/// Calls `Ctx::$body(args)` through a wrapper compiled for the detected instruction set.
macro_rules! isa_dispatch {
    ($isa:expr, $body:ident($self:ident $(, $a:ident)*)) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx512(c: &Ctx<'_> $(, $a: isa_dispatch!(@ty $a))*) { c.$body($($a),*) }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx2(c: &Ctx<'_> $(, $a: isa_dispatch!(@ty $a))*) { c.$body($($a),*) }
        match $isa {
            // SAFETY: the ISA was detected at run time.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512($self $(, $a)*) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2($self $(, $a)*) },
            Isa::Portable => $self.$body($($a),*),
        }
    }};
    (@ty c) => { usize };
    (@ty k0) => { usize };
    (@ty k1) => { usize };
    (@ty blk) => { usize };
    (@ty v) => { *mut f32 };
    (@ty dpl) => { &mut [f32] };
    (@ty m) => { &[f32] };
}

// SAFETY: the raw pointers inside are only used for disjoint writes.
unsafe impl Sync for Ctx<'_> {}

impl Ctx<'_> {
    /// Transforms channel `c` of block `blk` into `V[ξ][c][·]` (`v` = the block's V buffer).
    fn input_transform(&self, c: usize, blk: usize, v: *mut f32, dpl: &mut [f32]) {
        isa_dispatch!(self.isa, input_transform_body(self, c, blk, v, dpl));
    }

    #[inline(always)]
    fn input_transform_body(&self, c: usize, blk: usize, v: *mut f32, dpl: &mut [f32]) {
        let p = self.plan;
        let (ty0, ty1) = p.blk_rows(blk);
        let plane = &self.x[c * p.h * p.w..][..p.h * p.w];
        let mplane = self.mask.map(|m| &m[c * p.h * p.w..][..p.h * p.w]);
        let nr = 4 * (ty1 - ty0) + 2;
        let rowlen = 4 * p.qp;
        // Deinterleave the needed input rows by column phase: dpl[r][m][q] = x[h][4q + m - 1].
        let (dpl, pad) = dpl.split_at_mut(nr * rowlen);
        let pad = &mut pad[..rowlen];
        for r in 0..nr {
            let hh = (4 * ty0 + r) as isize - 1;
            let dst = &mut dpl[r * rowlen..][..rowlen];
            if hh < 0 || hh as usize >= p.h {
                dst.fill(0.0);
                continue;
            }
            let hh = hh as usize;
            let src = &plane[hh * p.w..][..p.w];
            let msrc = mplane.map(|mp| &mp[hh * p.w..][..p.w]);
            #[cfg(target_arch = "x86_64")]
            if self.isa == Isa::Avx512 {
                // SAFETY: ISA detected; dst has 4·qp floats.
                unsafe { simd::deinterleave_row(src, msrc, dst, p.qp) };
                continue;
            }
            // pad[j] = x[j - 1] (masked), zero elsewhere
            pad[0] = 0.0;
            match msrc {
                None => pad[1..=p.w].copy_from_slice(src),
                Some(mp) => {
                    for ((d, &x), &m) in pad[1..=p.w].iter_mut().zip(src).zip(mp) {
                        *d = if m > 0.0 { x } else { 0.0 };
                    }
                }
            }
            pad[p.w + 1..].fill(0.0);
            deinterleave4(pad, dst, p.qp);
        }
        let c_in = self.wts.c_in;
        let tbp = p.tbp;
        for ty in ty0..ty1 {
            let rbase = 4 * (ty - ty0);
            let tbase = (ty - ty0) * p.tx;
            let mut tx0 = 0;
            while tx0 < p.tx {
                let nl = (p.tx - tx0).min(L);
                #[cfg(target_arch = "x86_64")]
                if self.isa == Isa::Avx512 {
                    let rp: [*const f32; 6] =
                        std::array::from_fn(|i| dpl[(rbase + i) * rowlen..][..rowlen].as_ptr());
                    // SAFETY: ISA detected; rows hold 4·qp floats and tx0 + 16 < qp reads stay
                    // inside; V[ξ][c][tbase + tx0 ..][..nl] is this call's to write.
                    unsafe {
                        simd::input_tile(
                            &rp,
                            p.qp,
                            tx0,
                            v.add(c * tbp + tbase + tx0),
                            c_in * tbp,
                            nl,
                        );
                    };
                    tx0 += L;
                    continue;
                }
                let rows: [&[f32]; 6] =
                    std::array::from_fn(|i| &dpl[(rbase + i) * rowlen..][..rowlen]);
                let vt = input_tile(&rows, p.qp, tx0);
                for (xi, vv) in vt.iter().enumerate() {
                    // SAFETY: V[ξ][c][tbase + tx0 ..][..nl] lies in this block's buffer and
                    // belongs to channel c (written by this call only).
                    unsafe {
                        let dst = v.add((xi * c_in + c) * tbp + tbase + tx0);
                        if nl == L {
                            std::ptr::write_unaligned(dst as *mut Vf, *vv);
                        } else {
                            for (l, &val) in vv[..nl].iter().enumerate() {
                                *dst.add(l) = val;
                            }
                        }
                    }
                }
                tx0 += L;
            }
        }
    }

    /// GEMMs for output-channel chunk `kc` of block `blk`, then the output transform.
    fn gemm_output(&self, kc: usize, blk: usize, v: &[f32], m: &mut [f32]) {
        let p = self.plan;
        let wts = self.wts;
        let c_in = wts.c_in;
        let (ty0, ty1) = p.blk_rows(blk);
        let t_blk = (ty1 - ty0) * p.tx;
        let n = t_blk.next_multiple_of(L);
        let kb0 = kc * p.kc / MR;
        let kb1 = ((kc + 1) * p.kc / MR).min(wts.nkb);
        let tbp = p.tbp;
        let ks = &self.kernels.0;
        for xi in 0..NXI {
            let b = v[xi * c_in * tbp..].as_ptr();
            // Panels as even as possible (64 columns = 32+32, not 48+16: the 1-vector
            // kernel has a poor FMA/load ratio).
            let nvec = n / L;
            let np = nvec.div_ceil(MAX_NV);
            let mut j = 0;
            for pi in 0..np {
                let nv = nvec / np + usize::from(pi < nvec % np);
                for kb in kb0..kb1 {
                    let a = wts.u[(xi * wts.nkb + kb) * c_in * MR..].as_ptr();
                    let c = m[(xi * p.kc + (kb - kb0) * MR) * tbp + j..].as_mut_ptr();
                    // SAFETY: a has c_in·MR floats, b c_in rows of ≥ n columns (stride tbp),
                    // c MR rows of ≥ n columns (stride tbp) inside m.
                    unsafe { ks[nv - 1](c_in, a, b.add(j), tbp, c, tbp, false) };
                }
                j += nv * L;
            }
        }
        // Output transform for the chunk's real channels.
        let k0 = kb0 * MR;
        let k1 = (kb1 * MR).min(wts.c_out);
        isa_dispatch!(self.isa, output_transform_body(self, k0, k1, blk, m));
    }

    #[inline(always)]
    fn output_transform_body(&self, k0: usize, k1: usize, blk: usize, m: &[f32]) {
        let p = self.plan;
        let tbp = p.tbp;
        let (ty0, ty1) = p.blk_rows(blk);
        for k in k0..k1 {
            let bias = self.bias.map_or(0.0, |b| b[k]);
            // SAFETY: plane k of the output, rows of this block: written only here.
            let (r0, r1) = (4 * ty0, (4 * ty1).min(p.h));
            let oplane = unsafe { self.out.slice((k * p.h + r0) * p.w, (r1 - r0) * p.w) };
            for ty in ty0..ty1 {
                let tbase = (ty - ty0) * p.tx;
                let mut tx0 = 0;
                while tx0 < p.tx {
                    #[cfg(target_arch = "x86_64")]
                    if self.isa == Isa::Avx512 {
                        let mp = m[(k - k0) * tbp + tbase + tx0..].as_ptr();
                        // SAFETY: ISA detected; M[ξ][k][tbase + tx0 ..][..16] is inside m
                        // for every ξ (row stride kc·tbp; tbp has a 16-float margin).
                        unsafe {
                            simd::output_tile(
                                mp,
                                p.kc * tbp,
                                bias,
                                self.relu,
                                oplane,
                                r1 - r0,
                                p.w,
                                ty - ty0,
                                tx0,
                            );
                        };
                        tx0 += L;
                        continue;
                    }
                    let mrow = |xi: usize| &m[(xi * p.kc + (k - k0)) * tbp + tbase + tx0..][..L];
                    let y = output_tile(&mrow, bias, self.relu);
                    store_tile(&y, oplane, r1 - r0, p.w, ty - ty0, tx0);
                    tx0 += L;
                }
            }
        }
    }
}

/// `dst[m·qp + q] = pad[4q + m]` for the 4 column phases m (`pad.len() == 4·qp`, qp a
/// multiple of 16).
#[inline(always)]
fn deinterleave4(pad: &[f32], dst: &mut [f32], qp: usize) {
    debug_assert!(pad.len() == 4 * qp && dst.len() == 4 * qp && qp.is_multiple_of(L));
    let (d0, rest) = dst.split_at_mut(qp);
    let (d1, rest) = rest.split_at_mut(qp);
    let (d2, d3) = rest.split_at_mut(qp);
    for (q, s) in pad.chunks_exact(4).enumerate() {
        d0[q] = s[0];
        d1[q] = s[1];
        d2[q] = s[2];
        d3[q] = s[3];
    }
}

#[inline(always)]
fn vload(s: &[f32]) -> Vf {
    s[..L].try_into().unwrap()
}

/// 1-D input transform Bᵀ d on 6 lane-vectors.
#[inline(always)]
fn bt6(d: [Vf; 6]) -> [Vf; 6] {
    let mut o = [[0f32; L]; 6];
    for l in 0..L {
        let [d0, d1, d2, d3, d4, d5] = [d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]];
        o[0][l] = 4.0 * d0 - 5.0 * d2 + d4;
        o[1][l] = -4.0 * (d1 + d2) + (d3 + d4);
        o[2][l] = 4.0 * (d1 - d2) + (d4 - d3);
        o[3][l] = 2.0 * (d3 - d1) + (d4 - d2);
        o[4][l] = 2.0 * (d1 - d3) + (d4 - d2);
        o[5][l] = 4.0 * d1 - 5.0 * d3 + d5;
    }
    o
}

/// 1-D output transform Aᵀ m on 6 lane-vectors.
#[inline(always)]
fn at6(m: [Vf; 6]) -> [Vf; 4] {
    let mut o = [[0f32; L]; 4];
    for l in 0..L {
        let [m0, m1, m2, m3, m4, m5] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]];
        let (s12, d12, s34, d34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
        o[0][l] = m0 + s12 + s34;
        o[1][l] = d12 + 2.0 * d34;
        o[2][l] = s12 + 4.0 * s34;
        o[3][l] = d12 + 8.0 * d34 + m5;
    }
    o
}

/// `V = Bᵀ d B` for 16 tiles starting at tile `tx0`; `rows[i]` is deinterleaved input row i.
#[inline(always)]
fn input_tile(rows: &[&[f32]; 6], qp: usize, tx0: usize) -> [Vf; NXI] {
    // vertical pass: t[a][k] = Σ_i Bᵀ[a][i] d[i][k]
    let mut t = [[[0f32; L]; 6]; 6]; // [k][a]
    for (k, tk) in t.iter_mut().enumerate() {
        let (m, q) = (k % 4, tx0 + k / 4);
        let d: [Vf; 6] = std::array::from_fn(|i| vload(&rows[i][m * qp + q..]));
        *tk = bt6(d);
    }
    // horizontal pass: V[a][b] = Σ_k Bᵀ[b][k] t[a][k]
    let mut v = [[0f32; L]; NXI];
    for a in 0..6 {
        let o = bt6(std::array::from_fn(|k| t[k][a]));
        v[a * 6..a * 6 + 6].copy_from_slice(&o);
    }
    v
}

/// `Y = Aᵀ M A` (+bias, ReLU) for 16 tiles; `m(ξ)` gives the 16 lanes of position ξ.
#[inline(always)]
fn output_tile<'a>(m: &impl Fn(usize) -> &'a [f32], bias: f32, relu: bool) -> [[Vf; 4]; 4] {
    // horizontal: s[a][j] = Σ_b Aᵀ[j][b] M[a][b]
    let mut s = [[[0f32; L]; 4]; 6];
    for (a, sa) in s.iter_mut().enumerate() {
        *sa = at6(std::array::from_fn(|b| vload(m(a * 6 + b))));
    }
    // vertical: y[i][j] = Σ_a Aᵀ[i][a] s[a][j]
    let mut y = [[[0f32; L]; 4]; 4];
    for j in 0..4 {
        let o = at6(std::array::from_fn(|a| s[a][j]));
        for i in 0..4 {
            for l in 0..L {
                let val = o[i][l] + bias;
                y[i][j][l] = if relu { val.max(0.0) } else { val };
            }
        }
    }
    y
}

/// Writes the 4×4 outputs of 16 tiles (tile row `ty`, tiles `tx0..`) into an output plane,
/// clipping at the bottom/right edges.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn store_tile(y: &[[Vf; 4]; 4], plane: &mut [f32], h: usize, w: usize, ty: usize, tx0: usize) {
    let col0 = 4 * tx0;
    let ncol = (w - col0).min(4 * L);
    for (i, yi) in y.iter().enumerate() {
        let row = 4 * ty + i;
        if row >= h {
            break;
        }
        let dst = &mut plane[row * w + col0..][..ncol];
        let mut buf = [0f32; 4 * L];
        for l in 0..L {
            for j in 0..4 {
                buf[4 * l + j] = yi[j][l];
            }
        }
        dst.copy_from_slice(&buf[..ncol]);
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::L;
    use std::arch::x86_64::*;

    /// `dst[m·qp + q] = src[4q + m − 1]` (0 outside the row; masked by `mask > 0` if given),
    /// reading the row in place with masked loads instead of copying it into a padded buffer.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn deinterleave_row(
        src: &[f32],
        mask: Option<&[f32]>,
        dst: &mut [f32],
        qp: usize,
    ) {
        debug_assert!(dst.len() >= 4 * qp && qp.is_multiple_of(L));
        let w = src.len() as isize;
        let i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
        let i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
        let lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        let hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
        let zero = _mm512_setzero_ps();
        let sp = src.as_ptr();
        let mp = mask.map(|m| m.as_ptr());
        let dp = dst.as_mut_ptr();
        let load = |start: isize| -> __m512 {
            // lanes with 0 ≤ start + l < w
            let l0 = (-start).clamp(0, 16);
            let l1 = (w - start).clamp(0, 16);
            if l1 <= l0 {
                return zero;
            }
            let km = (((1u32 << l1) - 1) & !((1u32 << l0) - 1)) as __mmask16;
            // Masked-off lanes are not accessed (no fault), so the pointer may point before
            // or past the row.
            let x = _mm512_maskz_loadu_ps(km, sp.wrapping_offset(start));
            match mp {
                None => x,
                Some(mp) => {
                    let m = _mm512_maskz_loadu_ps(km, mp.wrapping_offset(start));
                    let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(m, zero);
                    _mm512_maskz_mov_ps(pos, x)
                }
            }
        };
        let mut q = 0;
        while q < qp {
            let s0 = 4 * q as isize - 1;
            if s0 >= w {
                // the rest of the row is padding
                // (vector stores: these tails are short, a memset call per phase costs more)
                for m in 0..4 {
                    let mut z = q;
                    while z < qp {
                        _mm512_storeu_ps(dp.add(m * qp + z), zero);
                        z += L;
                    }
                }
                break;
            }
            let (a, b, c, d) = (load(s0), load(s0 + 16), load(s0 + 32), load(s0 + 48));
            let ab01 = _mm512_permutex2var_ps(a, i01, b);
            let cd01 = _mm512_permutex2var_ps(c, i01, d);
            let ab23 = _mm512_permutex2var_ps(a, i23, b);
            let cd23 = _mm512_permutex2var_ps(c, i23, d);
            _mm512_storeu_ps(dp.add(q), _mm512_permutex2var_ps(ab01, lo, cd01));
            _mm512_storeu_ps(dp.add(qp + q), _mm512_permutex2var_ps(ab01, hi, cd01));
            _mm512_storeu_ps(dp.add(2 * qp + q), _mm512_permutex2var_ps(ab23, lo, cd23));
            _mm512_storeu_ps(dp.add(3 * qp + q), _mm512_permutex2var_ps(ab23, hi, cd23));
            q += L;
        }
    }

    #[inline(always)]
    unsafe fn bt6(d: [__m512; 6]) -> [__m512; 6] {
        let c4 = _mm512_set1_ps(4.0);
        let c5 = _mm512_set1_ps(5.0);
        let c2 = _mm512_set1_ps(2.0);
        let d42 = _mm512_sub_ps(d[4], d[2]);
        let d31 = _mm512_sub_ps(d[3], d[1]);
        [
            _mm512_fmadd_ps(c4, d[0], _mm512_fnmadd_ps(c5, d[2], d[4])),
            _mm512_fnmadd_ps(c4, _mm512_add_ps(d[1], d[2]), _mm512_add_ps(d[3], d[4])),
            _mm512_fmadd_ps(c4, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3])),
            _mm512_fmadd_ps(c2, d31, d42),
            _mm512_fnmadd_ps(c2, d31, d42),
            _mm512_fmadd_ps(c4, d[1], _mm512_fnmadd_ps(c5, d[3], d[5])),
        ]
    }

    #[inline(always)]
    unsafe fn at6(m: [__m512; 6]) -> [__m512; 4] {
        let s12 = _mm512_add_ps(m[1], m[2]);
        let d12 = _mm512_sub_ps(m[1], m[2]);
        let s34 = _mm512_add_ps(m[3], m[4]);
        let d34 = _mm512_sub_ps(m[3], m[4]);
        [
            _mm512_add_ps(_mm512_add_ps(m[0], s12), s34),
            _mm512_fmadd_ps(_mm512_set1_ps(2.0), d34, d12),
            _mm512_fmadd_ps(_mm512_set1_ps(4.0), s34, s12),
            _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0), d34, d12), m[5]),
        ]
    }

    /// AVX-512 `V = Bᵀ d B` for 16 tiles, all in registers; writes `nl` lanes of each ξ
    /// to `dst + ξ·xi_stride`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn input_tile(
        rows: &[*const f32; 6],
        qp: usize,
        tx0: usize,
        dst: *mut f32,
        xi_stride: usize,
        nl: usize,
    ) {
        let mut t = [[_mm512_setzero_ps(); 6]; 6]; // [k][a]
        for (k, tk) in t.iter_mut().enumerate() {
            let off = (k % 4) * qp + tx0 + k / 4;
            let d = [
                _mm512_loadu_ps(rows[0].add(off)),
                _mm512_loadu_ps(rows[1].add(off)),
                _mm512_loadu_ps(rows[2].add(off)),
                _mm512_loadu_ps(rows[3].add(off)),
                _mm512_loadu_ps(rows[4].add(off)),
                _mm512_loadu_ps(rows[5].add(off)),
            ];
            *tk = bt6(d);
        }
        let km: __mmask16 = if nl >= L { 0xffff } else { (1u16 << nl) - 1 };
        #[allow(clippy::needless_range_loop)]
        for a in 0..6 {
            let o = bt6([t[0][a], t[1][a], t[2][a], t[3][a], t[4][a], t[5][a]]);
            for (b, &ob) in o.iter().enumerate() {
                _mm512_mask_storeu_ps(dst.add((a * 6 + b) * xi_stride), km, ob);
            }
        }
    }

    /// AVX-512 `Y = Aᵀ M A` (+bias, ReLU) for 16 tiles (`m + ξ·xi_stride` holds position
    /// ξ), stored straight into the plane rows `4·ty ..` (clipped to `h` rows, `w` columns).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn output_tile(
        m: *const f32,
        xi_stride: usize,
        bias: f32,
        relu: bool,
        plane: &mut [f32],
        h: usize,
        w: usize,
        ty: usize,
        tx0: usize,
    ) {
        let mut s = [[_mm512_setzero_ps(); 4]; 6];
        for (a, sa) in s.iter_mut().enumerate() {
            let ld = |b: usize| _mm512_loadu_ps(m.add((a * 6 + b) * xi_stride));
            *sa = at6([ld(0), ld(1), ld(2), ld(3), ld(4), ld(5)]);
        }
        let bv = _mm512_set1_ps(bias);
        let zero = _mm512_setzero_ps();
        let mut y = [[zero; 4]; 4]; // [i][j]
        for j in 0..4 {
            let o = at6([s[0][j], s[1][j], s[2][j], s[3][j], s[4][j], s[5][j]]);
            for (i, &oi) in o.iter().enumerate() {
                let v = _mm512_add_ps(oi, bv);
                y[i][j] = if relu { _mm512_max_ps(v, zero) } else { v };
            }
        }
        let col0 = 4 * tx0;
        let ncol = (w - col0).min(4 * L);
        for (i, yi) in y.iter().enumerate() {
            let row = 4 * ty + i;
            if row >= h {
                break;
            }
            interleave4_regs(yi, &mut plane[row * w + col0..][..ncol]);
        }
    }

    /// `dst[4l + j] = y[j][l]` for the first `dst.len()` (≤ 64) elements.
    #[inline(always)]
    unsafe fn interleave4_regs(y: &[__m512; 4], dst: &mut [f32]) {
        let (y0, y1, y2, y3) = (y[0], y[1], y[2], y[3]);
        let zlo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let zhi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let p0 = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        let p1 = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
        let t01l = _mm512_permutex2var_ps(y0, zlo, y1);
        let t01h = _mm512_permutex2var_ps(y0, zhi, y1);
        let t23l = _mm512_permutex2var_ps(y2, zlo, y3);
        let t23h = _mm512_permutex2var_ps(y2, zhi, y3);
        let o = [
            _mm512_permutex2var_ps(t01l, p0, t23l),
            _mm512_permutex2var_ps(t01l, p1, t23l),
            _mm512_permutex2var_ps(t01h, p0, t23h),
            _mm512_permutex2var_ps(t01h, p1, t23h),
        ];
        let n = dst.len();
        let dp = dst.as_mut_ptr();
        if n == 4 * L {
            for (i, v) in o.iter().enumerate() {
                _mm512_storeu_ps(dp.add(i * L), *v);
            }
        } else {
            for (i, v) in o.iter().enumerate() {
                let lo = i * L;
                if lo >= n {
                    break;
                }
                let cnt = (n - lo).min(L);
                let mask: __mmask16 = if cnt == L { 0xffff } else { (1u16 << cnt) - 1 };
                _mm512_mask_storeu_ps(dp.add(lo), mask, *v);
            }
        }
    }
}
