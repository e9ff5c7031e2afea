//! Who a request comes from: the TCP peer, or behind a trusted reverse proxy the
//! address the proxy reports. Every per-address limit counts this.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ::http::request::Parts;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The address a request came from (unspecified when the server was not started
/// with connection info, as in some tests).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The address the request came from (the peer, or what the proxy reported).
pub fn client_ip(request: &Parts) -> IpAddr {
    request.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// Behind a trusted reverse proxy, the client is the address the proxy appended
/// last to `X-Forwarded-For`; everything after this sees it as the peer.
pub async fn forwarded_client(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if state.trust_proxy {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            request.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip, 0)));
        }
    }
    next.run(request).await
}
