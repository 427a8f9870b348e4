//! The upgrade-aware proxy between a client and the runtime's streaming server, as the
//! kubelet's `proxy.NewUpgradeAwareHandler(url, nil, false, true, &responder{})`.
//!
//! The client's upgrade request is sent to the URL the runtime returned (its method and
//! headers, the `Connection`/`Upgrade`, `X-Stream-Protocol-Version` and `Sec-WebSocket-*`
//! negotiation among them, with `X-Forwarded-For` appended); the runtime's answer comes
//! back as it is; after a `101 Switching Protocols` both connections are upgraded and
//! bytes are copied both ways until either side ends, then both are closed. The proxy never
//! looks inside the stream, so SPDY/3.1 and WebSocket (`v4.channel.k8s.io`,
//! `v5.channel.k8s.io`, `portforward.k8s.io`) pass alike, negotiated between the client
//! and the runtime.
//!
//! As the kubelet's proxy, a request that is not an upgrade is refused before anything is
//! dialed, an upstream answer other than 101 under 400 is an error, and an upstream error
//! (400 and above) is relayed to the client. The kubelet's `responder` answers its own
//! errors with 500 and the error text.
//!
//! Departures: the `Authorization` and `Proxy-Authorization` headers are not forwarded
//! (they were the kubelet's credentials; the runtime's URL carries its own one-time
//! token), `Host` is the runtime's, and only `http` URLs are dialed (the kubelet's dialer
//! would also try TLS with the system roots, which a runtime's self-signed streaming
//! certificate does not pass).

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, PROXY_AUTHORIZATION, TRANSFER_ENCODING,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::Empty;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::options::is_upgrade_request;

/// `X-Forwarded-For`.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Why proxying failed before the connection was handed over. Each is answered as the
/// kubelet's `responder` answers: 500 and the text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The client did not ask for an upgrade (`errors.NewBadRequest` in the kubelet).
    #[error("Upgrade request required")]
    UpgradeRequired,
    /// The runtime's URL is not an `http` URL with a host.
    #[error("invalid streaming URL {url:?} from the runtime: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server this runs in cannot hand over the client's connection (it does not serve
    /// HTTP/1 upgrades).
    #[error("request connection cannot be hijacked")]
    NoUpgrade,
    /// The runtime's streaming server could not be reached or asked.
    #[error("error dialing backend: {0}")]
    Dial(String),
    /// The runtime's streaming server answered with neither a 101 nor an error.
    #[error("invalid upgrade response: status code {0}")]
    InvalidResponse(u16),
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        tracing::warn!(error = %self, "error while proxying a streaming request");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [
                (CONTENT_TYPE, "text/plain; charset=utf-8"),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// Proxies the upgrade request `request` to the runtime's streaming `location`: answers
/// with the runtime's `101` and splices the connections once both are upgraded, or with
/// the runtime's error answer, or with a [`ProxyError`].
pub(crate) async fn proxy_upgrade(location: &str, request: Request) -> Response {
    match try_proxy(location, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn try_proxy(location: &str, mut request: Request) -> Result<Response, ProxyError> {
    if !is_upgrade_request(request.headers()) {
        return Err(ProxyError::UpgradeRequired);
    }
    let target = Target::parse(location)?;
    let client_upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(ProxyError::NoUpgrade)?;
    let upstream_request = target.request(&request)?;

    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| ProxyError::Dial(e.to_string()))?;
    // A Nagle delay would hold back every keystroke of an interactive session.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ProxyError::Dial(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "streaming backend connection ended");
        }
    });
    let mut upstream = sender
        .send_request(upstream_request)
        .await
        .map_err(|e| ProxyError::Dial(format!("error sending request: {e}")))?;

    let status = upstream.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        if status.as_u16() < 400 {
            return Err(ProxyError::InvalidResponse(status.as_u16()));
        }
        // The runtime refused: its answer goes to the client as it is.
        let (mut parts, body) = upstream.into_parts();
        parts.headers.remove(TRANSFER_ENCODING);
        parts.headers.remove(axum::http::header::CONNECTION);
        return Ok(Response::from_parts(parts, Body::new(body)));
    }

    let upstream_upgrade = hyper::upgrade::on(&mut upstream);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *response.headers_mut() = upstream.headers().clone();
    tokio::spawn(async move {
        match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok((client, backend)) => splice(client, backend).await,
            Err(e) => tracing::warn!(error = %e, "upgrading a streaming connection failed"),
        }
    });
    Ok(response)
}

/// Copies bytes both ways until either direction ends (its reader reached the end or
/// failed), then closes both connections, as the kubelet's proxy does.
async fn splice(client: Upgraded, backend: Upgraded) {
    let (mut client_read, mut client_write) = tokio::io::split(TokioIo::new(client));
    let (mut backend_read, mut backend_write) = tokio::io::split(TokioIo::new(backend));
    let to_backend = async {
        let copied = tokio::io::copy(&mut client_read, &mut backend_write).await;
        let _ = backend_write.shutdown().await;
        copied
    };
    let to_client = async {
        let copied = tokio::io::copy(&mut backend_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
        copied
    };
    let (direction, copied) = tokio::select! {
        copied = to_backend => ("client to backend", copied),
        copied = to_client => ("backend to client", copied),
    };
    match copied {
        Ok(bytes) => tracing::debug!(direction, bytes, "streaming connection ended"),
        Err(e) => tracing::debug!(direction, error = %e, "streaming connection failed"),
    }
}

/// Where the runtime's streaming server is.
#[derive(Debug)]
struct Target {
    /// The host to dial (an IPv6 address without its brackets).
    host: String,
    /// The port to dial.
    port: u16,
    /// The `Host` header: the URL's authority.
    authority: String,
    /// The request target: the URL's path and query.
    path_and_query: String,
}

impl Target {
    fn parse(location: &str) -> Result<Target, ProxyError> {
        let invalid = |reason: &str| ProxyError::InvalidUrl {
            url: location.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = location.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http streaming URLs are supported"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Ok(Target {
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_string(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        })
    }

    /// The request for the runtime: the client's method and headers (less its credentials
    /// and body framing), to this target, with the client's address appended to
    /// `X-Forwarded-For`.
    fn request(&self, client: &Request) -> Result<hyper::Request<Empty<Bytes>>, ProxyError> {
        let mut upstream = hyper::Request::builder()
            .method(client.method().clone())
            .uri(self.path_and_query.as_str())
            .body(Empty::new())
            .map_err(|e| ProxyError::InvalidUrl {
                url: self.path_and_query.clone(),
                reason: e.to_string(),
            })?;
        let headers = upstream.headers_mut();
        for (name, value) in client.headers() {
            if [
                HOST,
                AUTHORIZATION,
                PROXY_AUTHORIZATION,
                CONTENT_LENGTH,
                TRANSFER_ENCODING,
            ]
            .contains(name)
            {
                continue;
            }
            headers.append(name.clone(), value.clone());
        }
        if let Ok(host) = HeaderValue::from_str(&self.authority) {
            headers.insert(HOST, host);
        }
        if let Some(ConnectInfo(peer)) = client.extensions().get::<ConnectInfo<SocketAddr>>() {
            append_forwarded_for(headers, peer.ip());
        }
        Ok(upstream)
    }
}

/// `utilnet.AppendForwardedForHeader`: the client's address after any earlier ones.
fn append_forwarded_for(headers: &mut axum::http::HeaderMap, ip: std::net::IpAddr) {
    let prior: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let value = if prior.is_empty() {
        ip.to_string()
    } else {
        format!("{}, {ip}", prior.join(", "))
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let target = Target::parse("http://127.0.0.1:10010/exec/AbCd?x=1").unwrap();
        assert_eq!(
            (target.host.as_str(), target.port, target.authority.as_str()),
            ("127.0.0.1", 10010, "127.0.0.1:10010")
        );
        assert_eq!(target.path_and_query, "/exec/AbCd?x=1");
        let target = Target::parse("http://[::1]:4000/attach/x").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 4000));
        let target = Target::parse("http://runtime/portforward/x").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("runtime", 80));
        for bad in ["https://127.0.0.1/exec/x", "/exec/x", "not a url"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut headers = axum::http::HeaderMap::new();
        append_forwarded_for(&mut headers, [10, 0, 0, 1].into());
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1");
        append_forwarded_for(&mut headers, [10, 0, 0, 2].into());
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1, 10.0.0.2");
    }
}
