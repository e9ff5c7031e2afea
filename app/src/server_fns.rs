//! What the app's server functions share: how an error type of theirs reads a
//! failure that is not one of its own, and how a function finds the server's
//! service and the request it answers.

/// `FromServerFnError` for an error type with `Unavailable` (the server
/// answered, but not with one of ours: it is not itself) and `Unreachable`
/// (no network, or no answer) variants.
macro_rules! server_fn_error {
    ($error:ident) => {
        impl leptos::server_fn::error::FromServerFnError for $error {
            type Encoder = leptos::server_fn::codec::JsonEncoding;

            fn from_server_fn_error(error: leptos::server_fn::error::ServerFnErrorErr) -> Self {
                use leptos::server_fn::error::ServerFnErrorErr;
                match error {
                    ServerFnErrorErr::ServerError(_) | ServerFnErrorErr::MiddlewareError(_) => $error::Unavailable,
                    _ => $error::Unreachable,
                }
            }
        }
    };
}
pub(crate) use server_fn_error;

/// The service `S` the server handed Leptos, and the request being answered;
/// `unavailable` when either is missing.
#[cfg(feature = "ssr")]
pub fn context<S: Clone + Send + Sync + 'static, E>(unavailable: E) -> Result<(S, http::request::Parts), E> {
    use leptos::prelude::use_context;
    match (use_context::<S>(), use_context::<http::request::Parts>()) {
        (Some(service), Some(parts)) => Ok((service, parts)),
        _ => Err(unavailable),
    }
}

/// Whether a request is a plain form post (no script): it asks for HTML, and
/// is answered with a redirect to a page instead of data.
#[cfg(feature = "ssr")]
pub fn is_plain_form(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}
