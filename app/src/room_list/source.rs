//! What the room list is filled from when a page is rendered: who is signed in
//! and their list, both loaded by the server with the page. The room's messages
//! wait for them, and so does the server's HTML of what shows the list (the list
//! itself, a room's Join or Leave and its notification choice), so that a page
//! shows the list as it is in its first HTML, with or without a script.

use leptos::prelude::*;

use super::RoomList;
use crate::account::{AccountError, Viewer};
use crate::codec::Loaded;
use crate::rooms::{RoomEntry, RoomListError};

/// The page's two loads the list comes from. `Copy`; shared as context by the room page.
#[derive(Clone, Copy)]
pub struct ListSource {
    pub viewer: Loaded<Result<Option<Viewer>, AccountError>>,
    pub listed: Loaded<Result<Vec<RoomEntry>, RoomListError>>,
}

impl ListSource {
    pub fn provide(self) {
        provide_context(self);
    }

    /// Waits for both, and fills the page's list (the first time: after that
    /// the socket keeps it).
    pub async fn fill(self, list: RoomList) {
        let me = self.viewer.await.ok().flatten().map(|v| (v.username, v.display_name));
        let listed = self.listed.await.unwrap_or_default();
        list.load(me, listed);
    }
}

/// On the server: `view`, once the page's list is filled (its HTML drawn from
/// the list as it is, not from the empty list a render starts with).
#[cfg(feature = "ssr")]
pub fn when_filled<F>(view: F) -> impl IntoView
where
    F: Fn() -> AnyView + Clone + Send + Sync + 'static,
{
    let (source, list) = (expect_context::<ListSource>(), RoomList::expect());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let view = view.clone();
                Suspend::new(async move {
                    source.fill(list).await;
                    view()
                })
            }}
        </Suspense>
    }
}
