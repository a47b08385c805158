//! A display's clipboard (the X `CLIPBOARD` selection): read what the owner holds, or hold
//! text ourselves. X has no clipboard storage; the owner answers every paste, so writing means
//! keeping a connection that owns the selection and answers requests until another client
//! takes it over (a copy in the browser) or the [`ClipboardOwner`] is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, PropMode, SelectionNotifyEvent,
    SelectionRequestEvent, Window, WindowClass, SELECTION_NOTIFY_EVENT,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::CURRENT_TIME;

use crate::display::connect;
use crate::CaptureError;

/// Most bytes of clipboard text read or held: larger transfers need X's incremental protocol,
/// which agents' clipboards do not need.
pub const MAX_CLIPBOARD_BYTES: usize = 256 * 1024;
/// How long the selection's owner has to answer a read.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the owner thread checks whether it should stop.
const OWNER_POLL: Duration = Duration::from_millis(50);

/// The atoms the clipboard needs.
struct Atoms {
    clipboard: Atom,
    utf8: Atom,
    targets: Atom,
    text: Atom,
    property: Atom,
}

impl Atoms {
    fn intern(conn: &RustConnection) -> Result<Self, CaptureError> {
        let atom = |name: &str| -> Result<Atom, CaptureError> {
            Ok(conn
                .intern_atom(false, name.as_bytes())
                .map_err(x11)?
                .reply()
                .map_err(x11)?
                .atom)
        };
        Ok(Self {
            clipboard: atom("CLIPBOARD")?,
            utf8: atom("UTF8_STRING")?,
            targets: atom("TARGETS")?,
            text: atom("TEXT")?,
            property: atom("TAPEDECK_CLIPBOARD")?,
        })
    }
}

fn x11(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Exited {
        program: "X clipboard",
        status: e.to_string(),
    }
}

/// A connection to display `:number` with an unmapped window of its own.
fn open(number: u32) -> Result<(RustConnection, Window, Atoms), CaptureError> {
    let conn = connect(number)?;
    let root = conn.setup().roots[0].root;
    let window = conn.generate_id().map_err(x11)?;
    conn.create_window(
        0,
        window,
        root,
        0,
        0,
        1,
        1,
        0,
        WindowClass::INPUT_ONLY,
        0,
        &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
    )
    .map_err(x11)?;
    let atoms = Atoms::intern(&conn)?;
    Ok((conn, window, atoms))
}

/// The window that owns the clipboard now, or `NONE`.
fn clipboard_owner(conn: &RustConnection, atoms: &Atoms) -> Result<Window, CaptureError> {
    Ok(conn
        .get_selection_owner(atoms.clipboard)
        .map_err(x11)?
        .reply()
        .map_err(x11)?
        .owner)
}

/// The clipboard's text on display `:number`: empty when nobody owns it or the owner has no
/// text. Blocking; run it off the async runtime.
///
/// Errors: the display cannot be reached, the owner did not answer within 2 s, or its text is
/// larger than [`MAX_CLIPBOARD_BYTES`].
pub fn read(number: u32) -> Result<String, CaptureError> {
    let (conn, window, atoms) = open(number)?;
    if clipboard_owner(&conn, &atoms)? == x11rb::NONE {
        return Ok(String::new());
    }
    conn.convert_selection(
        window,
        atoms.clipboard,
        atoms.utf8,
        atoms.property,
        CURRENT_TIME,
    )
    .map_err(x11)?;
    conn.flush().map_err(x11)?;
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        match conn.poll_for_event().map_err(x11)? {
            Some(Event::SelectionNotify(notify)) if notify.requestor == window => {
                if notify.property == x11rb::NONE {
                    return Ok(String::new());
                }
                let limit = u32::try_from(MAX_CLIPBOARD_BYTES / 4 + 1).unwrap_or(u32::MAX);
                let reply = conn
                    .get_property(true, window, atoms.property, AtomEnum::ANY, 0, limit)
                    .map_err(x11)?
                    .reply()
                    .map_err(x11)?;
                if reply.bytes_after > 0 || reply.value.len() > MAX_CLIPBOARD_BYTES {
                    return Err(x11(format!(
                        "the clipboard holds more than {MAX_CLIPBOARD_BYTES} bytes"
                    )));
                }
                return Ok(String::from_utf8_lossy(&reply.value).into_owned());
            }
            Some(_) => {}
            None if Instant::now() >= deadline => {
                return Err(CaptureError::TimedOut {
                    program: "X clipboard",
                    secs: READ_TIMEOUT.as_secs(),
                })
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Holds text on a display's clipboard until dropped or until another client copies.
pub struct ClipboardOwner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ClipboardOwner {
    /// Puts `text` on display `:number`'s clipboard, answering pastes from a thread of its own.
    ///
    /// Errors: the display cannot be reached, the text is larger than [`MAX_CLIPBOARD_BYTES`],
    /// or the X server did not give this client the selection.
    pub fn hold(number: u32, text: String) -> Result<Self, CaptureError> {
        if text.len() > MAX_CLIPBOARD_BYTES {
            return Err(x11(format!(
                "clipboard text is limited to {MAX_CLIPBOARD_BYTES} bytes"
            )));
        }
        let (conn, window, atoms) = open(number)?;
        conn.set_selection_owner(window, atoms.clipboard, CURRENT_TIME)
            .map_err(x11)?;
        if clipboard_owner(&conn, &atoms)? != window {
            return Err(x11("the X server did not hand over the clipboard"));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("clipboard-{number}"))
            .spawn(move || serve(&conn, &atoms, text.as_bytes(), &stopping))
            .map_err(|e| x11(e.to_string()))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ClipboardOwner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers paste requests with `text` until `stop` or until another client owns the clipboard.
fn serve(conn: &RustConnection, atoms: &Atoms, text: &[u8], stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match conn.poll_for_event() {
            Ok(Some(Event::SelectionRequest(request))) => {
                if let Err(e) = answer(conn, atoms, text, &request) {
                    tracing::debug!(error = %e, "clipboard request not answered");
                }
            }
            Ok(Some(Event::SelectionClear(_))) | Err(_) => return,
            Ok(Some(_)) => {}
            Ok(None) => std::thread::sleep(OWNER_POLL),
        }
    }
}

/// Answers one paste: the list of targets, or the text, put on the requestor's property.
fn answer(
    conn: &RustConnection,
    atoms: &Atoms,
    text: &[u8],
    request: &SelectionRequestEvent,
) -> Result<(), CaptureError> {
    // Old clients name no property; the target doubles as it then.
    let property = if request.property == x11rb::NONE {
        request.target
    } else {
        request.property
    };
    let text_targets = [atoms.utf8, atoms.text, AtomEnum::STRING.into()];
    let answered = if request.target == atoms.targets {
        let mut offered = vec![atoms.targets];
        offered.extend(text_targets);
        conn.change_property32(
            PropMode::REPLACE,
            request.requestor,
            property,
            AtomEnum::ATOM,
            &offered,
        )
        .map_err(x11)?;
        property
    } else if text_targets.contains(&request.target) {
        conn.change_property8(
            PropMode::REPLACE,
            request.requestor,
            property,
            request.target,
            text,
        )
        .map_err(x11)?;
        property
    } else {
        x11rb::NONE
    };
    let notify = SelectionNotifyEvent {
        response_type: SELECTION_NOTIFY_EVENT,
        sequence: 0,
        time: request.time,
        requestor: request.requestor,
        selection: request.selection,
        target: request.target,
        property: answered,
    };
    conn.send_event(false, request.requestor, EventMask::NO_EVENT, notify)
        .map_err(x11)?;
    conn.flush().map_err(x11)?;
    Ok(())
}
