//! A System V shared-memory segment attached to both this process and the X server (MIT-SHM),
//! so the server writes a grabbed image straight into memory the grabber reads.

use x11rb::connection::Connection;
use x11rb::protocol::shm::ConnectionExt as _;

use crate::CaptureError;

/// One image-sized shared segment, readable here and writable by the X server.
pub struct SharedImage {
    segment: u32,
    address: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and is only read through `&self`.
unsafe impl Send for SharedImage {}

impl SharedImage {
    /// Creates a private segment of `len` bytes and attaches it to `conn`'s X server.
    pub fn attach(conn: &impl Connection, len: usize) -> Result<Self, CaptureError> {
        let os_err =
            |what: &str| CaptureError::Grab(format!("{what}: {}", std::io::Error::last_os_error()));
        // SAFETY: plain syscalls; every result is checked before use.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return Err(os_err("shmget"));
        }
        // SAFETY: `id` is the segment just created; a null address lets the kernel choose.
        let address = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        let mapped = (address as isize != -1).then_some(Self {
            segment: 0,
            address,
            len,
        });
        let shared = match &mapped {
            Some(_) => Self::share(conn, id),
            None => Err(os_err("shmat")),
        };
        // Marked for removal once shared: the kernel frees it when both sides have detached,
        // even if this process is killed.
        // SAFETY: IPC_RMID on the segment we created.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        let segment = shared?;
        // `mapped` is Some here, since `shared` is an error otherwise.
        mapped
            .map(|mut image| {
                image.segment = segment;
                image
            })
            .ok_or_else(|| os_err("shmat"))
    }

    fn share(conn: &impl Connection, id: i32) -> Result<u32, CaptureError> {
        let grab_err = |e: &dyn std::fmt::Display| CaptureError::Grab(format!("shm attach: {e}"));
        let segment = conn.generate_id().map_err(|e| grab_err(&e))?;
        conn.shm_attach(segment, id as u32, false)
            .map_err(|e| grab_err(&e))?
            .check()
            .map_err(|e| grab_err(&e))?;
        Ok(segment)
    }

    /// The X server's id for this segment.
    pub fn segment(&self) -> u32 {
        self.segment
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
        // SAFETY: detaches the mapping made in `attach`; nothing borrows it past `self`.
        unsafe { libc::shmdt(self.address) };
    }
}
