//! An image-sized memory file shared with the X server (MIT-SHM 1.2, `AttachFd`), so the server
//! writes a grabbed image straight into memory the grabber reads.
//!
//! The memory is a memfd whose descriptor is passed over the X connection, not a System V
//! segment: the sandboxed Xvfb runs as the session user, in its own user namespace, and could not
//! attach a segment the server created with mode 0600. A passed descriptor needs no permission,
//! and the memory goes away with the last mapping, even if the server is killed.

use std::ffi::c_void;

use rustix::fs::MemfdFlags;
use rustix::mm::{MapFlags, ProtFlags};
use x11rb::connection::Connection;
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xproto::ImageFormat;

use crate::CaptureError;

/// Checks that `conn`'s X server can fill a [`SharedImage`] with its screen: 32 bits per pixel
/// and MIT-SHM 1.2 (memory passed as a descriptor).
///
/// Errors: [`CaptureError::Grab`] naming what is missing.
pub fn check_server(conn: &impl Connection) -> Result<(), CaptureError> {
    let grab_err =
        |what: &str, e: &dyn std::fmt::Display| CaptureError::Grab(format!("{what}: {e}"));
    let setup = conn.setup();
    let depth = setup.roots[0].root_depth;
    if !setup
        .pixmap_formats
        .iter()
        .any(|f| f.depth == depth && f.bits_per_pixel == 32)
    {
        return Err(CaptureError::Grab(
            "the screen is not 32 bits per pixel".into(),
        ));
    }
    if conn
        .extension_information(shm::X11_EXTENSION_NAME)
        .map_err(|e| grab_err("query extensions", &e))?
        .is_none()
    {
        return Err(CaptureError::Grab(format!(
            "the X server lacks {}",
            shm::X11_EXTENSION_NAME
        )));
    }
    let version = conn
        .shm_query_version()
        .map_err(|e| grab_err("shm", &e))?
        .reply()
        .map_err(|e| grab_err("shm", &e))?;
    if (version.major_version, version.minor_version) < (1, 2) {
        return Err(CaptureError::Grab(format!(
            "the X server's MIT-SHM is {}.{}; passing memory as a descriptor needs 1.2",
            version.major_version, version.minor_version
        )));
    }
    Ok(())
}

/// One image-sized shared memory file, readable here and writable by the X server.
pub struct SharedImage {
    segment: u32,
    address: *mut c_void,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and is only read through `&self`.
unsafe impl Send for SharedImage {}

impl SharedImage {
    /// Creates a memory file of `len` bytes, maps it here and attaches it to `conn`'s X server.
    pub fn attach(conn: &impl Connection, len: usize) -> Result<Self, CaptureError> {
        let grab_err = |what: &str, e: &dyn std::fmt::Display| {
            CaptureError::Grab(format!("shared memory {what}: {e}"))
        };
        let fd = rustix::fs::memfd_create("tapedeck-grab", MemfdFlags::CLOEXEC)
            .map_err(|e| grab_err("memfd", &e))?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(|e| grab_err("size", &e))?;
        // SAFETY: a fresh shared mapping of the whole file at an address the kernel picks; it is
        // unmapped exactly once, in Drop.
        let address = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| grab_err("map", &e))?;
        let mut image = Self {
            segment: 0,
            address,
            len,
        };
        let segment = conn.generate_id().map_err(|e| grab_err("attach", &e))?;
        // The descriptor goes to the X server and is closed here once sent; the mapping stays.
        conn.shm_attach_fd(segment, fd, false)
            .map_err(|e| grab_err("attach", &e))?
            .check()
            .map_err(|e| grab_err("attach", &e))?;
        image.segment = segment;
        Ok(image)
    }

    /// Has the X server copy the `width`×`height` pixels of `window` at (`x`, `y`) into this
    /// memory, as 32-bit BGRX rows, and waits until it has.
    ///
    /// Errors: [`CaptureError::Grab`] when the X server refused or the connection broke.
    #[allow(clippy::too_many_arguments)]
    pub fn fill(
        &self,
        conn: &impl Connection,
        window: u32,
        x: i16,
        y: i16,
        width: u16,
        height: u16,
    ) -> Result<(), CaptureError> {
        conn.shm_get_image(
            window,
            x,
            y,
            width,
            height,
            !0,
            ImageFormat::Z_PIXMAP.into(),
            self.segment,
            0,
        )
        .map_err(|e| CaptureError::Grab(format!("grab: {e}")))?
        .reply()
        .map_err(|e| CaptureError::Grab(format!("grab: {e}")))?;
        Ok(())
    }

    /// The image bytes as last written by the X server.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `address` maps `len` bytes for as long as `self` lives; the X server writes
        // into it only during a grab, which the grabber awaits before reading.
        unsafe { std::slice::from_raw_parts(self.address as *const u8, self.len) }
    }
}

impl Drop for SharedImage {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `attach`; nothing borrows it past `self`.
        let _ = unsafe { rustix::mm::munmap(self.address, self.len) };
    }
}
