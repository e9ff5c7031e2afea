//! Who is looking at the page: the viewer every page shares (the account bar,
//! the room's composer or its sign-in prompt), and links to the account forms
//! that bring the person back where they were. Its own module so that pages and
//! the room both use it without one reaching into the other.

use leptos::prelude::*;

use crate::account::{AccountError, Viewer};
use crate::codec::Loaded;

/// Who is signed in on this browser, loaded once per page (on the server for the
/// first render) and shared as context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Loaded<Result<Option<Viewer>, AccountError>>);

impl ViewerResource {
    pub fn provide() {
        // Blocking: the account bar is part of every page's first HTML, even on a
        // page that streams the rest.
        provide_context(ViewerResource(Resource::new_with_options(|| (), |_| crate::account::current_viewer(), true)));
    }

    pub fn expect() -> Loaded<Result<Option<Viewer>, AccountError>> {
        expect_context::<ViewerResource>().0
    }
}

/// A link to a form page that brings the person back to `next` afterwards.
pub fn form_link(page: &str, next: &str) -> String {
    format!("{page}?next={}", crate::url::encode(next))
}
