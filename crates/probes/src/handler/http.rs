//! The httpGet probe: one GET over a new connection, HTTP or HTTPS without certificate
//! checks, same-host redirects followed (`pkg/probe/http/http.go`, `request.go`).

use std::fmt;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Container, HTTPGetAction};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

use super::{ProbeHandler, ProbeOutcome, ProbeTarget, USER_AGENT, io_text, join_host_port};
use crate::{Error, Result};

/// How much of the response body is read: 10 KiB (the kubelet's `maxRespBodyLength`).
pub const MAX_HTTP_BODY: usize = 10 * 1024;

/// Requests per probe, first one included: Go's client stops after 10
/// ("stopped after 10 redirects").
pub const MAX_REDIRECTS: usize = 10;

/// `httpGet.scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpScheme {
    /// Plain HTTP (the default).
    #[default]
    Http,
    /// HTTPS; the server's certificate is not verified.
    Https,
}

impl HttpScheme {
    fn as_str(self) -> &'static str {
        match self {
            HttpScheme::Http => "http",
            HttpScheme::Https => "https",
        }
    }
}

/// An HTTP GET probe (the kubelet's `httpProber`).
///
/// - URL: `<scheme>://<host>:<port><path>`, host = the probe's `host`, else the pod IP.
/// - Headers: the user's `httpHeaders`, plus `User-Agent: kube-probe/1.37` and
///   `Accept: */*` unless the user set them (an empty user `Accept` removes it); a user
///   `Host` header becomes the request's host. `Connection: close`, no compression.
/// - A new connection per probe; HTTPS without certificate verification; the whole run
///   (redirects and body included) within the timeout.
/// - 200–399 is success, anything else failure `HTTP probe failed with statuscode: <n>`.
/// - Redirects to the same host name are followed (10 requests at most, then failure
///   `stopped after 10 redirects`); a redirect to another host is not followed and counts as
///   a [`Warning`](super::ProbeStatus::Warning) ("Probe terminated redirects").
/// - A refused connection or a timeout is a failure carrying the error text, worded as
///   Go's client words it (`Get "http://10.88.0.2:80/": dial tcp 10.88.0.2:80: connect:
///   connection refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGetProbe {
    scheme: HttpScheme,
    host: Option<String>,
    port: u16,
    path: String,
    headers: Vec<(String, String)>,
}

impl HttpGetProbe {
    /// A GET of `path` on `port` of the pod IP.
    pub fn new(scheme: HttpScheme, port: u16, path: impl Into<String>) -> Self {
        HttpGetProbe {
            scheme,
            host: None,
            port,
            path: path.into(),
            headers: Vec::new(),
        }
    }

    /// Probe `host` instead of the pod IP (`httpGet.host`).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Add a request header (`httpGet.httpHeaders`); repeated names are all sent.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The probe of `action` in `container`: the port may name one of the container's
    /// ports; the path defaults to `/`, the scheme to HTTP.
    pub fn from_action(action: &HTTPGetAction, container: &Container) -> Result<Self, String> {
        let port = super::resolve_port(&action.port, container)?;
        let scheme = match action.scheme.as_deref() {
            None | Some("") => HttpScheme::Http,
            Some(s) if s.eq_ignore_ascii_case("http") => HttpScheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => HttpScheme::Https,
            Some(other) => return Err(format!("unsupported scheme {other:?}")),
        };
        let mut probe = HttpGetProbe::new(scheme, port, action.path.clone().unwrap_or_default());
        if let Some(host) = action.host.as_deref().filter(|h| !h.is_empty()) {
            probe = probe.with_host(host);
        }
        for h in action.http_headers.iter().flatten() {
            probe = probe.with_header(h.name.clone(), h.value.clone());
        }
        Ok(probe)
    }

    /// The URL probed when the pod IP is `pod_ip` (the kubelet's `formatURL`).
    pub fn url(&self, pod_ip: &str) -> Result<Url> {
        let host = self.host.as_deref().unwrap_or(pod_ip);
        let base = format!(
            "{}://{}",
            self.scheme.as_str(),
            join_host_port(host, self.port)
        );
        let invalid = |problem: String| Error::InvalidTarget {
            probe: "http",
            target: format!("{base}{}", self.path),
            problem,
        };
        let mut url = Url::parse(&base).map_err(|e| invalid(e.to_string()))?;
        let (path, fragment) = match self.path.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (self.path.as_str(), None),
        };
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        url.set_path(if path.is_empty() { "/" } else { path });
        url.set_query(query);
        url.set_fragment(fragment);
        Ok(url)
    }

    /// The request headers before the host is known: user headers, then the defaults.
    fn headers(&self) -> Result<HeaderMap> {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            let invalid = |problem: String| Error::InvalidTarget {
                probe: "http",
                target: format!("header {name}: {value}"),
                problem,
            };
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let value = HeaderValue::from_str(value).map_err(|e| invalid(e.to_string()))?;
            map.append(name, value);
        }
        if !map.contains_key(header::USER_AGENT) {
            map.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        match map.get(header::ACCEPT) {
            None => {
                map.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
            }
            Some(v) if v.is_empty() => {
                map.remove(header::ACCEPT);
            }
            Some(_) => {}
        }
        Ok(map)
    }
}

#[async_trait]
impl ProbeHandler for HttpGetProbe {
    async fn probe(&self, target: &ProbeTarget) -> Result<ProbeOutcome> {
        let pod_ip = match (&self.host, &target.pod_ip) {
            (Some(_), _) => "",
            (None, Some(ip)) if !ip.is_empty() => ip.as_str(),
            (None, _) => {
                return Err(Error::InvalidTarget {
                    probe: "http",
                    target: format!("port {}", self.port),
                    problem: "the pod has no IP yet and the probe sets no host".into(),
                });
            }
        };
        let url = self.url(pod_ip)?;
        let mut headers = self.headers()?;
        // The user's Host header is the request's host, not a header (Go's `req.Host`).
        let host_override = headers.remove(header::HOST);
        match tokio::time::timeout(target.timeout, get(url.clone(), headers, host_override)).await {
            Ok(outcome) => Ok(outcome),
            Err(_) => Ok(ProbeOutcome::failure(format!(
                "Get {:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                url.as_str()
            ))),
        }
    }
}

/// GET `first`, following same-host redirects, and judge the last response.
async fn get(first: Url, headers: HeaderMap, host_override: Option<HeaderValue>) -> ProbeOutcome {
    let mut url = first.clone();
    let mut host = host_override.clone();
    let mut requests = 0;
    loop {
        requests += 1;
        let (response, _connection) = match request(&url, &headers, host.as_ref()).await {
            Ok(r) => r,
            Err(e) => return ProbeOutcome::failure(format!("Get {:?}: {e}", url.as_str())),
        };
        let status = response.status();
        if let Some(location) = redirect_location(&response) {
            let next = match url.join(&location) {
                Ok(next) => next,
                Err(e) => {
                    return ProbeOutcome::failure(format!(
                        "Get {:?}: failed to parse Location header {location:?}: {e}",
                        url.as_str()
                    ));
                }
            };
            // `followNonLocalRedirects = false`: another host name ends the chain here and
            // this 3xx response is the result (`http.ErrUseLastResponse`).
            if next.host_str() == first.host_str() {
                if requests >= MAX_REDIRECTS {
                    return ProbeOutcome::failure(format!(
                        "Get {:?}: stopped after {MAX_REDIRECTS} redirects",
                        next.as_str()
                    ));
                }
                // Go keeps a custom Host only through relative redirects.
                let relative = Url::parse(&location).is_err();
                if !relative {
                    host = None;
                }
                tracing::debug!(from = %url, to = %next, "HTTP probe follows a redirect");
                url = next;
                continue;
            }
        }
        let body = read_body(response.into_body()).await;
        return judge(status, &body, &url);
    }
}

/// The kubelet's `DoHTTPProbe` verdict.
fn judge(status: StatusCode, body: &str, url: &Url) -> ProbeOutcome {
    let code = status.as_u16();
    if (200..400).contains(&code) {
        if code >= 300 {
            tracing::debug!(%url, code, "HTTP probe terminated redirects");
            return ProbeOutcome::warning(format!(
                "Probe terminated redirects, Response body: {body}"
            ));
        }
        return ProbeOutcome::success(body);
    }
    tracing::debug!(%url, code, body, "HTTP probe failed");
    // As the kubelet: the user-facing message never carries the body (issue 99425).
    ProbeOutcome::failure(format!("HTTP probe failed with statuscode: {code}"))
}

/// The `Location` of a response Go's client would follow (301, 302, 303, 307, 308).
fn redirect_location(response: &Response<Incoming>) -> Option<String> {
    let follows = matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308);
    if !follows {
        return None;
    }
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn read_body(mut body: Incoming) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_HTTP_BODY {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            // A body cut short is read as far as it went (the kubelet keeps what it read
            // and judges the status code).
            Some(Err(_)) | None => break,
        }
    }
    bytes.truncate(MAX_HTTP_BODY);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Aborts the connection task when the probe is done or timed out.
struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One GET of `url` over a new connection.
async fn request(
    url: &Url,
    headers: &HeaderMap,
    host: Option<&HeaderValue>,
) -> Result<(Response<Incoming>, ConnectionTask), String> {
    let host_name = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let address = join_host_port(host_name.trim_matches(['[', ']']), port);
    let tcp = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("dial tcp {address}: connect: {}", io_text(&e)))?;
    let _ = tcp.set_nodelay(true);
    match url.scheme() {
        "https" => {
            let connector = super::tls::insecure_connector()?;
            let server_name = ServerName::try_from(host_name.trim_matches(['[', ']']).to_string())
                .map_err(|e| format!("invalid TLS server name {host_name:?}: {e}"))?;
            let tls = connector
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("tls: {e}"))?;
            send(tls, url, headers, host).await
        }
        _ => send(tcp, url, headers, host).await,
    }
}

async fn send<S>(
    stream: S,
    url: &Url,
    headers: &HeaderMap,
    host: Option<&HeaderValue>,
) -> Result<(Response<Incoming>, ConnectionTask), String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let task = ConnectionTask(tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::trace!(error = %e, "HTTP probe connection ended");
        }
    }));
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let authority = match host {
        Some(h) => h.clone(),
        None => {
            let a = match url.port() {
                Some(p) => join_host_port(url.host_str().unwrap_or_default(), p),
                None => url.host_str().unwrap_or_default().to_string(),
            };
            HeaderValue::from_str(&a).map_err(|e| e.to_string())?
        }
    };
    let mut request = Request::get(path)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let h = request.headers_mut();
    h.insert(header::HOST, authority);
    for (name, value) in headers {
        h.append(name, value.clone());
    }
    // `DisableKeepAlives`: the server closes the connection after the response.
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    let response =
        sender
            .send_request(request)
            .await
            .map_err(|e| match e.is_incomplete_message() {
                true => "EOF".to_string(),
                false => e.to_string(),
            })?;
    // The caller keeps the connection task alive while it reads the body.
    Ok((response, task))
}

impl fmt::Debug for ConnectionTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionTask")
    }
}
