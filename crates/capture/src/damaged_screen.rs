//! A screen watched for damage: the X server (DAMAGE extension) reports when anything was
//! drawn, and only then is the screen copied (MIT-SHM, one copy into shared memory) and compared
//! with the frame last kept. The recorder's grabber and the live view's feed both take their
//! frames this way, so an unchanged screen costs neither a copy nor an encode.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::damage::{self, ConnectionExt as _, ReportLevel};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use crate::shared_memory::{self, SharedImage};
use crate::CaptureError;

/// What a look at the screen found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// Nothing was drawn since the last look.
    Undamaged,
    /// Something was drawn, but the screen is identical to the frame kept.
    Unchanged,
    /// The screen changed; [`DamagedScreen::frame`] now holds it.
    Changed,
}

/// One X connection watching a display's screen, from its top-left corner.
pub(crate) struct DamagedScreen {
    conn: RustConnection,
    root: u32,
    damage: u32,
    width: u16,
    height: u16,
    /// Two shared-memory images: the frame kept, and the one grabbed into next.
    images: [SharedImage; 2],
    /// Index into `images` of the frame kept.
    kept: usize,
}

impl DamagedScreen {
    /// Connects to display `:number`, starts damage reports, and grabs the first frame of the
    /// `width`×`height` screen area.
    ///
    /// Errors: `Connect` or `Grab` when the display or one of its extensions is missing.
    pub(crate) fn watch(number: u32, width: u16, height: u16) -> Result<Self, CaptureError> {
        let grab_err =
            |what: &str, e: &dyn std::fmt::Display| CaptureError::Grab(format!("{what}: {e}"));
        let conn = crate::display::connect(number)?;
        let root = conn.setup().roots[0].root;
        shared_memory::check_server(&conn)?;
        if conn
            .extension_information(damage::X11_EXTENSION_NAME)
            .map_err(|e| grab_err("query extensions", &e))?
            .is_none()
        {
            return Err(CaptureError::Grab(format!(
                "the X server lacks {}",
                damage::X11_EXTENSION_NAME
            )));
        }
        conn.damage_query_version(1, 1)
            .map_err(|e| grab_err("damage", &e))?
            .reply()
            .map_err(|e| grab_err("damage", &e))?;
        let damage = conn.generate_id().map_err(|e| grab_err("damage id", &e))?;
        conn.damage_create(damage, root, ReportLevel::NON_EMPTY)
            .map_err(|e| grab_err("damage", &e))?
            .check()
            .map_err(|e| grab_err("damage", &e))?;
        let frame_bytes = usize::from(width) * usize::from(height) * 4;
        let images = [
            SharedImage::attach(&conn, frame_bytes)?,
            SharedImage::attach(&conn, frame_bytes)?,
        ];
        let screen = Self {
            conn,
            root,
            damage,
            width,
            height,
            images,
            kept: 0,
        };
        screen.rearm()?;
        screen.images[0].fill(&screen.conn, screen.root, 0, 0, width, height)?;
        Ok(screen)
    }

    /// The frame kept, as 32-bit BGRX rows.
    pub(crate) fn frame(&self) -> &[u8] {
        self.images[self.kept].bytes()
    }

    /// Looks at the screen: grabs it only when damage was reported, and keeps the grab only when
    /// it differs from the frame kept.
    ///
    /// Errors: `Grab` when the X connection broke (the display ended).
    pub(crate) fn look(&mut self) -> Result<Look, CaptureError> {
        if !self.damaged()? {
            return Ok(Look::Undamaged);
        }
        self.rearm()?;
        let next = 1 - self.kept;
        self.images[next].fill(&self.conn, self.root, 0, 0, self.width, self.height)?;
        if self.images[next].bytes() == self.images[self.kept].bytes() {
            return Ok(Look::Unchanged);
        }
        self.kept = next;
        Ok(Look::Changed)
    }

    /// Drains pending events; true if any was a damage report.
    fn damaged(&self) -> Result<bool, CaptureError> {
        let mut damaged = false;
        while let Some(event) = self
            .conn
            .poll_for_event()
            .map_err(|e| CaptureError::Grab(format!("X connection: {e}")))?
        {
            damaged |= matches!(event, Event::DamageNotify(_));
        }
        Ok(damaged)
    }

    /// Clears the accumulated damage, so the next drawing reports again.
    fn rearm(&self) -> Result<(), CaptureError> {
        self.conn
            .damage_subtract(self.damage, x11rb::NONE, x11rb::NONE)
            .map_err(|e| CaptureError::Grab(format!("damage subtract: {e}")))?;
        Ok(())
    }
}
