//! How a resource's value crosses from the server's render to the page: JSON,
//! read from bytes. Leptos's own JSON codec reads with `serde_json::from_str`,
//! while everything else the page reads (socket frames, server functions'
//! answers) is read with `from_slice`; two readers would compile every
//! decoder into the WASM twice (51 KB of code before optimisation). This
//! codec is that one reader, for the page's resources.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, decoded from the string's bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A resource whose value the server's render hands to the page as [`Json`].
pub type Loaded<T> = Resource<T, Json>;

/// [`Resource::new`], with [`Json`] (a blocking one: `Resource::new_with_options`).
#[track_caller]
pub fn load<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Loaded<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
