//! A file in the composer: picked (the clip button), pasted or dropped, sent
//! to the server at once (`POST /files`) while the person writes a caption,
//! then posted with the message. The sending runs in a chunk of its own
//! (loaded on the first file), over XMLHttpRequest: `fetch` tells nothing of
//! an upload's progress.

use crate::protocol::Attachment;

/// Where the composer's file stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Upload {
    /// On its way: its name, how much of it is sent (thousandths), and
    /// which upload of the page it is (a later one replaces it).
    Sending { name: String, permille: u32, number: u32 },
    /// Uploaded: the next message posts it.
    Ready(Attachment),
}

/// A file the person picked, pasted or dropped (only a browser has one).
#[cfg(feature = "hydrate")]
pub type PickedFile = web_sys::File;
#[cfg(not(feature = "hydrate"))]
pub type PickedFile = ();

/// A size as people read it: "532 B", "14 KB", "3.4 MB" (integers only: a
/// float's formatting costs the page's WASM kilobytes).
pub fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < MB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        let tenths = (bytes * 10).div_ceil(MB);
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

#[cfg(feature = "hydrate")]
pub use lazy::send_file;

/// Takes a file picked in `form` (its clip button), dropped on it or pasted
/// in it. One listener of plain
/// events for the three kinds: typed `on:drop`/`on:paste` handlers cost the
/// page's WASM 5 KB more.
#[cfg(feature = "hydrate")]
pub fn listen(form: &web_sys::HtmlFormElement, take: leptos::prelude::Callback<Option<PickedFile>>) {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let picker = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
        if let Some(input) = picker.filter(|i| i.type_() == "file") {
            take.run(input.files().and_then(|f| f.get(0)));
            // The same file can be picked again.
            input.set_value("");
            return;
        }
        let file = if let Some(drag) = ev.dyn_ref::<web_sys::DragEvent>() {
            // A drop is allowed only where dragging over was.
            ev.prevent_default();
            drag.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0))
        } else {
            let paste = ev.dyn_ref::<web_sys::ClipboardEvent>();
            paste.and_then(|p| p.clipboard_data()).and_then(|d| d.files()).and_then(|f| f.get(0))
        };
        if let Some(file) = file.filter(|_| ev.type_() != "dragover") {
            // Pasted text is left to the box.
            ev.prevent_default();
            take.run(Some(file));
        }
    });
    for kind in ["change", "dragover", "drop", "paste"] {
        if form.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref()).is_err() {
            leptos::logging::warn!("could not listen for files on the composer");
        }
    }
    // As long as the composer: its form goes with it.
    let listener = StoredValue::new_local(Some(listener));
    on_cleanup(move || listener.update_value(|l| drop(l.take())));
}

#[cfg(feature = "hydrate")]
mod lazy {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    use super::Upload;
    use crate::protocol::{Attachment, ChatError};

    /// Sends `file` to `room` (its key, as the socket names it), telling
    /// `upload` how far it is and then what the server made of it, or
    /// `refusal` why not. A file picked meanwhile replaces this one, and
    /// taking this one back (the composer's Remove) stops it.
    #[lazy]
    pub async fn send_file(
        file: web_sys::File,
        room: String,
        upload: RwSignal<Option<Upload>>,
        refusal: RwSignal<Option<String>>,
    ) {
        let number = match upload.get_untracked() {
            Some(Upload::Sending { number, .. }) => number + 1,
            _ => 1,
        };
        let name = file.name();
        upload.set(Some(Upload::Sending { name: name.clone(), permille: 0, number }));
        refusal.set(None);
        show(upload);
        let current = move || matches!(upload.get_untracked(), Some(Upload::Sending { number: n, .. }) if n == number);
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else { return };
        let url = format!("/files?room={}&name={}", crate::url::encode(&room), crate::url::encode(&name));
        if xhr.open("POST", &url).is_err() {
            return;
        }
        let progress = {
            let (xhr, name) = (xhr.clone(), name.clone());
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
                if !current() {
                    // Taken back (or replaced): stop sending it.
                    if xhr.abort().is_err() {
                        leptos::logging::warn!("could not stop an upload taken back");
                    }
                } else if ev.length_computable() && ev.total() > 0.0 {
                    let permille = (ev.loaded() * 1000.0 / ev.total()) as u32;
                    upload.set(Some(Upload::Sending { name: name.clone(), permille, number }));
                }
            })
        };
        if let Ok(target) = xhr.upload() {
            target.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        }
        let (done, ended) = futures::channel::oneshot::channel::<()>();
        let end = Closure::once(move || {
            if done.send(()).is_err() {
                // Nobody waits any more: the page that started it is gone.
                leptos::logging::log!("an upload ended after its page");
            }
        });
        xhr.set_onloadend(Some(end.as_ref().unchecked_ref()));
        if xhr.send_with_opt_blob(Some(&file)).is_err() {
            upload.set(None);
            refusal.set(Some("That file could not be read.".into()));
            return;
        }
        let ended = ended.await;
        drop((progress, end));
        if ended.is_err() {
            // Its end was never told (the request object went away).
            upload.set(None);
            refusal.set(Some("The upload failed. Try again.".into()));
            return;
        }
        if !current() {
            return;
        }
        let status = xhr.status().unwrap_or(0);
        let text = xhr.response_text().ok().flatten().unwrap_or_default();
        if status == 200 {
            if let Ok(file) = serde_json::from_slice::<Attachment>(text.as_bytes()) {
                upload.set(Some(Upload::Ready(file)));
                return;
            }
        }
        upload.set(None);
        refusal.set(Some(match ChatError::from_json(&text) {
            Some(error) => error.to_string(),
            None if status == 0 => "The upload failed: the connection dropped. Try again.".into(),
            None => format!("The upload failed (HTTP {status}). Try again."),
        }));
    }

    /// Shows the file in the composer (once: it follows `upload` from then
    /// on): how far its upload is, or what will be posted; a button takes it
    /// back.
    fn show(upload: RwSignal<Option<Upload>>) {
        let slot = document().query_selector(".composer .upload-slot").ok().flatten();
        let Some(slot) = slot.and_then(|s| s.dyn_into::<web_sys::HtmlElement>().ok()) else { return };
        if slot.child_element_count() > 0 {
            return;
        }
        let remove = move |_| upload.set(None);
        let view = move || {
            upload.get().map(|file| match file {
                Upload::Sending { name, permille, .. } => view! {
                    <div class="upload" data-upload="sending">
                        <span>"Uploading "<b>{name}</b>" "{permille / 10}"%"</span>
                        <progress max="1000" value=permille></progress>
                        <button type="button" class="link" on:click=remove>"Cancel"</button>
                    </div>
                }
                .into_any(),
                Upload::Ready(file) => view! {
                    <div class="upload" data-upload="ready">
                        <span>"📎 "<b>{file.name}</b>" ("{super::human_size(file.size)}")"</span>
                        <button type="button" class="link" on:click=remove>"Remove"</button>
                    </div>
                }
                .into_any(),
            })
        };
        crate::late::mount_in_place(&slot, view.into_any());
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(532), "532 B");
        assert_eq!(human_size(14 * 1024 - 100), "14 KB");
        assert_eq!(human_size(3 * 1024 * 1024 + 400 * 1024), "3.4 MB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MB");
    }
}
