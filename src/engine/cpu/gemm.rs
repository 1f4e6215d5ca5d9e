//! The register-blocked micro-kernel behind the Winograd batched GEMMs.
//!
//! `C[MR × 16·NV] (+)= A[MR × k] · B[k × 16·NV]` with A pre-packed as `[k][MR]` (so each step
//! broadcasts MR consecutive floats) and B/C rows contiguous with a row stride. B and C are
//! padded by the caller to whole 16-float vectors, so the kernel never needs masks.
//! AVX-512 and AVX2+FMA versions are chosen at run time; other targets get a portable version
//! that the compiler vectorizes for whatever the build targets (NEON on aarch64).

/// Rows (output channels) per micro-kernel call.
pub(crate) const MR: usize = 8;
/// Lanes per vector in the B/C panels.
pub(crate) const LANES: usize = 16;
/// Widest panel: 3 vectors = 48 columns (MR×3 = 24 accumulators, fits 32 zmm registers).
pub(crate) const MAX_NV: usize = 3;

/// Signature of a micro-kernel: (k, a, b, ldb, c, ldc, accumulate).
pub(crate) type Kernel = unsafe fn(usize, *const f32, *const f32, usize, *mut f32, usize, bool);

/// Kernels for NV = 1, 2, 3 vectors, picked once per layer by CPU features.
#[derive(Clone, Copy)]
pub(crate) struct Kernels(pub [Kernel; MAX_NV]);

/// `ATELIER_CPU_ISA=avx2|portable` caps the instruction set (to test the fallbacks on an
/// AVX-512 machine).
pub(crate) fn isa_cap() -> Option<String> {
    std::env::var("ATELIER_CPU_ISA").ok()
}

impl Kernels {
    pub fn detect() -> Self {
        let cap = isa_cap();
        #[cfg(target_arch = "x86_64")]
        if cap.as_deref() != Some("portable") {
            if std::arch::is_x86_feature_detected!("avx512f") && cap.as_deref() != Some("avx2") {
                return Kernels([
                    avx512::kernel::<1>,
                    avx512::kernel::<2>,
                    avx512::kernel::<3>,
                ]);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Kernels([avx2::kernel::<1>, avx2::kernel::<2>, avx2::kernel::<3>]);
            }
        }
        let _ = cap; // unused off x86
        Kernels([
            portable_kernel::<1>,
            portable_kernel::<2>,
            portable_kernel::<3>,
        ])
    }

    /// `C[MR × n] (+)= A[MR × k] · B[k × n]`, n a multiple of 16 (panels of 48, then a tail).
    ///
    /// # Safety
    /// `a` holds `k·MR` floats; `b` holds `k` rows of stride `ldb` with `n` valid columns;
    /// `c` holds `MR` rows of stride `ldc` with `n` columns.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run(
        &self,
        k: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        n: usize,
        acc: bool,
    ) {
        debug_assert_eq!(n % LANES, 0);
        let mut j = 0;
        while j < n {
            let nv = ((n - j) / LANES).min(MAX_NV);
            (self.0[nv - 1])(k, a, b.add(j), ldb, c.add(j), ldc, acc);
            j += nv * LANES;
        }
    }
}

unsafe fn portable_kernel<const NV: usize>(
    k: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    acc: bool,
) {
    // The whole 8 × 16·NV block would need 32·NV accumulator registers: NEON has 32 in all,
    // so the compiler spilled on every step (checked in the aarch64 assembly). Parts of 4 rows ×
    // 16 columns take 16 registers plus 4 for B, and each A value is an FMA lane operand.
    for half in 0..MR / PART_ROWS {
        let (a, c) = (a.add(half * PART_ROWS), c.add(half * PART_ROWS * ldc));
        for v in 0..NV {
            portable_part(k, a, b.add(v * LANES), ldb, c.add(v * LANES), ldc, acc);
        }
    }
}

/// Rows of one part of the portable kernel.
const PART_ROWS: usize = 4;

/// `C[4 × 16] (+)= A[4 × k] · B[k × 16]`, `a` at the part's first row inside the `[k][MR]`
/// packing; written so the compiler keeps the accumulators in vector registers.
#[inline(always)]
unsafe fn portable_part(
    k: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    acc_in: bool,
) {
    // aarch64 always has fused multiply-add; elsewhere mul_add could be a libm call.
    const FUSED: bool = cfg!(target_arch = "aarch64");
    let mut acc = [[0f32; LANES]; PART_ROWS];
    for p in 0..k {
        let bv: [f32; LANES] = std::ptr::read_unaligned(b.add(p * ldb).cast());
        let av: [f32; PART_ROWS] = std::ptr::read_unaligned(a.add(p * MR).cast());
        for (accr, &x) in acc.iter_mut().zip(&av) {
            for (o, &y) in accr.iter_mut().zip(&bv) {
                *o = if FUSED { x.mul_add(y, *o) } else { x * y + *o };
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        let cr = std::slice::from_raw_parts_mut(c.add(r * ldc), LANES);
        for (o, &x) in cr.iter_mut().zip(accr) {
            *o = if acc_in { *o + x } else { x };
        }
    }
}

/// AVX2 has 16 vector registers: the 8 × 48 block of the AVX-512 kernel would be 48
/// accumulators and spill on every step. So the block is done in parts of 4 rows × 16 or 24
/// columns (8 or 12 accumulators, plus the B vectors and one broadcast), each over the whole k;
/// the B panel is re-read from cache once per 4 rows.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::MR;
    use std::arch::x86_64::*;

    /// Rows of one part.
    const RB: usize = 4;

    /// `C[RB × 8·CV] (+)= A[RB × k] · B[k × 8·CV]`, with `a` pointing at the part's first row
    /// inside the `[k][MR]` packing.
    #[inline(always)]
    unsafe fn part<const CV: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        acc_in: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); CV]; RB];
        let (mut ap, mut bp) = (a, b);
        for _ in 0..k {
            let mut bv = [_mm256_setzero_ps(); CV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm256_loadu_ps(bp.add(v * 8));
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*ap.add(r));
                for v in 0..CV {
                    accr[v] = _mm256_fmadd_ps(av, bv[v], accr[v]);
                }
            }
            ap = ap.add(MR);
            bp = bp.add(ldb);
        }
        for (r, accr) in acc.iter().enumerate() {
            let cr = c.add(r * ldc);
            for (v, &x) in accr.iter().enumerate() {
                let p = cr.add(v * 8);
                let x = if acc_in {
                    _mm256_add_ps(_mm256_loadu_ps(p), x)
                } else {
                    x
                };
                _mm256_storeu_ps(p, x);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn kernel<const NV: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        acc_in: bool,
    ) {
        for half in 0..MR / RB {
            let (a, c) = (a.add(half * RB), c.add(half * RB * ldc));
            if NV == 3 {
                part::<3>(k, a, b, ldb, c, ldc, acc_in);
                part::<3>(k, a, b.add(24), ldb, c.add(24), ldc, acc_in);
            } else {
                for v in 0..NV {
                    part::<2>(k, a, b.add(16 * v), ldb, c.add(16 * v), ldc, acc_in);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{LANES, MR};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel<const NV: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        acc_in: bool,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        let mut bp = b;
        let mut ap = a;
        for _ in 0..k {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(bp.add(v * LANES));
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*ap.add(r));
                for v in 0..NV {
                    accr[v] = _mm512_fmadd_ps(av, bv[v], accr[v]);
                }
            }
            bp = bp.add(ldb);
            ap = ap.add(MR);
        }
        for (r, accr) in acc.iter().enumerate() {
            let cr = c.add(r * ldc);
            for (v, &x) in accr.iter().enumerate() {
                let p = cr.add(v * LANES);
                let x = if acc_in {
                    _mm512_add_ps(_mm512_loadu_ps(p), x)
                } else {
                    x
                };
                _mm512_storeu_ps(p, x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive() {
        let k = 37;
        let n = 80; // 48 + 32: exercises two panel widths
        let ldb = n + 16;
        let ldc = n + 5;
        let a: Vec<f32> = (0..k * MR)
            .map(|i| ((i * 7919) % 13) as f32 - 6.0)
            .collect();
        let b: Vec<f32> = (0..k * ldb)
            .map(|i| ((i * 104729) % 17) as f32 - 8.0)
            .collect();
        let mut want = vec![1.0f32; MR * ldc];
        for r in 0..MR {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[p * MR + r] * b[p * ldb + j];
                }
                want[r * ldc + j] += s;
            }
        }
        let mut kernels = vec![Kernels::detect()];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            kernels.push(Kernels([
                avx2::kernel::<1>,
                avx2::kernel::<2>,
                avx2::kernel::<3>,
            ]));
        }
        kernels.push(Kernels([
            portable_kernel::<1>,
            portable_kernel::<2>,
            portable_kernel::<3>,
        ]));
        for ks in kernels {
            let mut c = vec![1.0f32; MR * ldc];
            unsafe { ks.run(k, a.as_ptr(), b.as_ptr(), ldb, c.as_mut_ptr(), ldc, n, true) };
            assert_eq!(c, want);
        }
    }
}

#[cfg(test)]
mod peak {
    use super::*;

    /// `cargo test --release -- --ignored --nocapture kernel_peak`: micro-kernel GFLOP/s on
    /// L1/L2-resident data (a ceiling for the Winograd GEMMs).
    #[test]
    #[ignore]
    fn kernel_peak() {
        let ks = Kernels::detect();
        for (k, n) in [(64usize, 48usize), (256, 48), (512, 48), (512, 16)] {
            let a = vec![0.5f32; k * MR];
            let b = vec![0.25f32; k * n];
            let mut c = vec![0f32; MR * n];
            let reps = 200_000_000 / (k * n * MR);
            let t = std::time::Instant::now();
            for _ in 0..reps {
                unsafe { ks.run(k, a.as_ptr(), b.as_ptr(), n, c.as_mut_ptr(), n, n, false) };
            }
            let s = t.elapsed().as_secs_f64();
            let gf = 2.0 * (k * n * MR * reps) as f64 / s / 1e9;
            eprintln!("k {k} n {n}: {gf:.1} GFLOP/s ({})", c[0]);
        }
    }
}
