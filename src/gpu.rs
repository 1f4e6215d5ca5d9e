//! What a GPU run reports and switches beyond the CPU's: device memory (in use and the peak
//! since a reset) and CUDA's TF32 matrix products.
//!
//! The peak is the high watermark of CUDA's default memory pool, which candle's allocations
//! (`cuMemAllocAsync`) come from: exact, with no sampling. On the CPU and Metal there is none.

use candle_core::Device;

/// Device memory, in MiB.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GpuMemory {
    /// The most the run's allocations held at once since [`reset_peak`] (or the start).
    pub peak_allocated_mib: f64,
    /// What the run's allocations hold now.
    pub allocated_mib: f64,
    /// In use on the whole device now (other processes and the driver's own included).
    pub device_used_mib: f64,
    pub device_total_mib: f64,
}

/// The environment variable that allows TF32 in CUDA's f32 matrix products (candle's cuBLAS
/// calls): about 8× the f32 rate on Hopper, with 10-bit mantissas in the products. Off unless
/// `ATELIER_CUDA_TF32=1`; exact-loss checks keep it off.
pub const TF32_VAR: &str = "ATELIER_CUDA_TF32";

/// Applies [`TF32_VAR`] (called when a CUDA device is opened); returns whether TF32 is on.
pub fn configure_tf32() -> bool {
    let on = std::env::var(TF32_VAR).is_ok_and(|v| v == "1");
    #[cfg(feature = "cuda")]
    candle_core::cuda_backend::set_gemm_reduced_precision_f32(on);
    on
}

/// Device memory on CUDA; `None` elsewhere or when the driver doesn't say.
pub fn memory(device: &Device) -> Option<GpuMemory> {
    #[cfg(feature = "cuda")]
    if device.is_cuda() {
        return cuda::memory(device);
    }
    let _ = device;
    None
}

/// Starts a new peak (a no-op off CUDA).
pub fn reset_peak(device: &Device) {
    #[cfg(feature = "cuda")]
    if device.is_cuda() {
        cuda::reset_peak(device);
    }
    let _ = device;
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::GpuMemory;
    use candle_core::cuda_backend::cudarc::driver::sys;
    use candle_core::Device;

    const MIB: f64 = 1024.0 * 1024.0;

    /// The default memory pool of the device's context, bound to this thread.
    fn pool(
        device: &Device,
    ) -> Option<(
        sys::CUmemoryPool,
        std::sync::Arc<candle_core::cuda_backend::cudarc::driver::CudaContext>,
    )> {
        let stream = device.as_cuda_device().ok()?.cuda_stream();
        let ctx = stream.context().clone();
        ctx.bind_to_thread().ok()?;
        let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
        // SAFETY: `pool` is a valid out-pointer and the device handle comes from a live context.
        unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) }
            .result()
            .ok()?;
        Some((pool, ctx))
    }

    fn attribute(pool: sys::CUmemoryPool, attr: sys::CUmemPool_attribute) -> Option<u64> {
        let mut v: u64 = 0;
        // SAFETY: these attributes are 64-bit values; `v` outlives the call.
        unsafe { sys::cuMemPoolGetAttribute(pool, attr, (&mut v as *mut u64).cast()) }
            .result()
            .ok()?;
        Some(v)
    }

    pub(super) fn memory(device: &Device) -> Option<GpuMemory> {
        let (pool, ctx) = pool(device)?;
        ctx.synchronize().ok()?;
        use sys::CUmemPool_attribute::{
            CU_MEMPOOL_ATTR_USED_MEM_CURRENT, CU_MEMPOOL_ATTR_USED_MEM_HIGH,
        };
        let high = attribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH)?;
        let current = attribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT)?;
        let (free, total) = ctx.mem_get_info().ok()?;
        Some(GpuMemory {
            peak_allocated_mib: high as f64 / MIB,
            allocated_mib: current as f64 / MIB,
            device_used_mib: total.saturating_sub(free) as f64 / MIB,
            device_total_mib: total as f64 / MIB,
        })
    }

    pub(super) fn reset_peak(device: &Device) {
        let Some((pool, ctx)) = pool(device) else {
            return;
        };
        if ctx.synchronize().is_err() {
            return;
        }
        let mut zero: u64 = 0;
        // SAFETY: the high watermark may only be reset to zero, which this does.
        let _ = unsafe {
            sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
                (&mut zero as *mut u64).cast(),
            )
        };
    }
}
