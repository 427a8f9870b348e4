//! HTTP GETs as the kubelet makes them: [`HttpGetRequest`], the request of an `httpGet`
//! action shared by probes and lifecycle hooks (the kubelet's `NewRequestForHTTPGetAction`,
//! `pkg/probe/http/request.go`), and the httpGet probe on top of it (`pkg/probe/http/http.go`):
//! one GET over a new connection, HTTP or HTTPS without certificate checks, same-host
//! redirects followed.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Container, HTTPGetAction};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use url::Url;

use super::{ProbeHandler, ProbeOutcome, ProbeTarget, USER_AGENT, io_text, join_host_port};
use crate::{Error, Result};

/// How much of the response body is read: 10 KiB (the kubelet's `maxRespBodyLength`, for
/// probes and lifecycle hooks alike).
pub const MAX_HTTP_BODY: usize = 10 * 1024;

/// Requests per GET, first one included: Go's client stops after 10
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

/// Why an HTTP GET did not get a response. The texts are those of Go's `http.Client`
/// (`Get "<url>": <reason>`), which the kubelet puts in probe outputs and hook messages.
///
/// No variant carries a header value: a value may be a secret (a bearer token from a
/// Secret), so an invalid one is named by its header name only, as Go does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpGetError {
    /// The URL could not be built from the host, the port and the path.
    #[error("parse {url:?}: {problem}")]
    InvalidUrl {
        /// The URL as far as it was built.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A request header's name is not an HTTP field name (a space, a colon, a CR or LF).
    #[error("Get {url:?}: net/http: invalid header field name {name:?}")]
    InvalidHeaderName {
        /// The URL requested.
        url: String,
        /// The header name, canonicalized as Go's `http.Header` does.
        name: String,
    },
    /// A request header's value holds a control character (CR, LF, NUL, ...), which would
    /// let it inject headers or split the request. The value itself is never shown.
    #[error("Get {url:?}: net/http: invalid header field value for {name:?}")]
    InvalidHeaderValue {
        /// The URL requested.
        url: String,
        /// The name of the header whose value is invalid, canonicalized as Go does.
        name: String,
    },
    /// An HTTPS request reached a server that answered in plain HTTP (Go's
    /// `http.ErrSchemeMismatch`; lifecycle hooks retry over HTTP on it).
    #[error("Get {url:?}: http: server gave HTTP response to HTTPS client")]
    HttpResponseToHttpsClient {
        /// The URL requested.
        url: String,
    },
    /// More than [`MAX_REDIRECTS`] requests were needed.
    #[error("Get {url:?}: stopped after 10 redirects")]
    TooManyRedirects {
        /// The redirect that was not followed.
        url: String,
    },
    /// Connecting, the TLS handshake, sending the request or reading the response failed
    /// (`dial tcp 10.88.0.2:80: connect: connection refused`, `EOF`).
    #[error("Get {url:?}: {problem}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What failed, worded as Go's net and http packages word it.
        problem: String,
    },
}

/// The last response of a GET, after same-host redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGetResponse {
    /// The URL of the last request.
    pub url: Url,
    /// Its status code. A 3xx is a redirect to another host that was not followed (or one
    /// without a `Location`).
    pub status: u16,
    /// Its body, read to the end or to [`MAX_HTTP_BODY`] bytes, whichever comes first.
    pub body: Vec<u8>,
}

/// The GET of an `httpGet` action: the kubelet's `NewRequestForHTTPGetAction` and the
/// client around it, shared by [`HttpGetProbe`] and lifecycle hooks.
///
/// - URL: `<scheme>://<host>:<port><path>`, host = the action's `host`, else the pod IP.
/// - Headers: the user's `httpHeaders` (names canonicalized as Go's `http.Header` does),
///   plus `User-Agent` ([`USER_AGENT`] unless [`with_user_agent`](Self::with_user_agent)
///   says otherwise) and `Accept: */*` unless the user set them (an empty user `Accept`
///   removes it); a user `Host` header becomes the request's host. `Connection: close`.
/// - Every header is checked before anything is sent: a name that is not an HTTP token, or
///   a value with a control character other than tab (a CR/LF would split the request),
///   fails with Go's message, which names the header and never shows the value.
/// - A new connection per request; HTTPS without certificate verification.
/// - Redirects to the same host name are followed, [`MAX_REDIRECTS`] requests at most; a
///   redirect to another host is not followed and is the response (the kubelet's
///   `RedirectChecker(false)`, which both its prober and its hook client use).
/// - The body of the last response is read, up to [`MAX_HTTP_BODY`] bytes.
///
/// There is no timeout here: a probe bounds the whole GET by its `timeoutSeconds`; the
/// kubelet's hook client has none (a preStop hook is bounded by the grace period).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use probes::handler::{HttpGetError, HttpGetRequest, HttpScheme};
///
/// let request = HttpGetRequest::new(HttpScheme::Http, 8080, "/hook")
///     .with_header("X-Token", "abc\r\nInjected: yes");
/// let err = request.send("127.0.0.1").await.unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Get \"http://127.0.0.1:8080/hook\": net/http: invalid header field value for \"X-Token\""
/// );
/// assert!(matches!(err, HttpGetError::InvalidHeaderValue { .. }));
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpGetRequest {
    scheme: HttpScheme,
    host: Option<String>,
    port: u16,
    path: String,
    headers: Vec<(String, String)>,
    user_agent: String,
}

impl fmt::Debug for HttpGetRequest {
    /// Header values are left out: they may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpGetRequest")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("header_names", &header_names)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl HttpGetRequest {
    /// A GET of `path` on `port` of the pod IP.
    pub fn new(scheme: HttpScheme, port: u16, path: impl Into<String>) -> Self {
        HttpGetRequest {
            scheme,
            host: None,
            port,
            path: path.into(),
            headers: Vec::new(),
            user_agent: USER_AGENT.to_string(),
        }
    }

    /// Request `host` instead of the pod IP (`httpGet.host`).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Add a request header (`httpGet.httpHeaders`); repeated names are all sent.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Drop every header called `name` (case-insensitive), as the kubelet drops
    /// `Authorization` before it retries an HTTPS hook over HTTP.
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The `User-Agent` sent when the user sets none: [`USER_AGENT`] (`kube-probe/1.37`) by
    /// default; lifecycle hooks send `kube-lifecycle/1.37`.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The same request over another scheme.
    pub fn with_scheme(mut self, scheme: HttpScheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The request of `action` in `container`: the port may name one of the container's
    /// ports; the path defaults to `/`, the scheme to HTTP.
    pub fn from_action(action: &HTTPGetAction, container: &Container) -> Result<Self, String> {
        let port = super::resolve_port(&action.port, container)?;
        let scheme = match action.scheme.as_deref() {
            None | Some("") => HttpScheme::Http,
            Some(s) if s.eq_ignore_ascii_case("http") => HttpScheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => HttpScheme::Https,
            Some(other) => return Err(format!("unsupported scheme {other:?}")),
        };
        let mut request =
            HttpGetRequest::new(scheme, port, action.path.clone().unwrap_or_default());
        if let Some(host) = action.host.as_deref().filter(|h| !h.is_empty()) {
            request = request.with_host(host);
        }
        for h in action.http_headers.iter().flatten() {
            request = request.with_header(h.name.clone(), h.value.clone());
        }
        Ok(request)
    }

    /// The scheme.
    pub fn scheme(&self) -> HttpScheme {
        self.scheme
    }

    /// The host, when the request names one (`None`: the pod IP).
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL requested when the pod IP is `pod_ip` (the kubelet's `formatURL`).
    pub fn url(&self, pod_ip: &str) -> Result<Url, HttpGetError> {
        let host = self.host.as_deref().unwrap_or(pod_ip);
        let base = format!(
            "{}://{}",
            self.scheme.as_str(),
            join_host_port(host, self.port)
        );
        let invalid = |problem: String| HttpGetError::InvalidUrl {
            url: format!("{base}{}", self.path),
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

    /// The request headers before the host is known: user headers, then the defaults. Every
    /// name and value is checked (Go's `validateHeaders`, before any connection).
    fn header_map(&self, url: &Url) -> Result<HeaderMap, HttpGetError> {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            let canonical = go_canonical_header_key(name);
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                HttpGetError::InvalidHeaderName {
                    url: url.to_string(),
                    name: canonical.clone(),
                }
            })?;
            // httpguts.ValidHeaderFieldValue: no control characters except tab. http's
            // `HeaderValue::from_str` applies the same rule.
            let header_value =
                HeaderValue::from_str(value).map_err(|_| HttpGetError::InvalidHeaderValue {
                    url: url.to_string(),
                    name: canonical,
                })?;
            map.append(header_name, header_value);
        }
        if !map.contains_key(header::USER_AGENT) {
            let agent = HeaderValue::from_str(&self.user_agent).map_err(|_| {
                HttpGetError::InvalidHeaderValue {
                    url: url.to_string(),
                    name: "User-Agent".into(),
                }
            })?;
            map.insert(header::USER_AGENT, agent);
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

    /// Send the GET to the host, or to `pod_ip` when the request names no host, following
    /// same-host redirects, and read the last response's body.
    pub async fn send(&self, pod_ip: &str) -> Result<HttpGetResponse, HttpGetError> {
        let url = self.url(pod_ip)?;
        let mut headers = self.header_map(&url)?;
        // The user's Host header is the request's host, not a header (Go's `req.Host`).
        let host_override = headers.remove(header::HOST);
        get(url, headers, host_override).await
    }
}

/// A header name as Go's `http.Header.Add` stores it (`textproto.CanonicalMIMEHeaderKey`):
/// `x-token` becomes `X-Token`; a name with a byte that is not a token character (a space,
/// a CR) is left as it is.
fn go_canonical_header_key(name: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return name.to_string();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// An HTTP GET probe (the kubelet's `httpProber`): an [`HttpGetRequest`] sent within the
/// probe's timeout, and its result judged.
///
/// - The request: see [`HttpGetRequest`] (User-Agent `kube-probe/1.37`).
/// - The whole run (redirects and body included) within the timeout.
/// - 200–399 is success, anything else failure `HTTP probe failed with statuscode: <n>`.
/// - A redirect to another host is not followed and counts as a
///   [`Warning`](super::ProbeStatus::Warning) ("Probe terminated redirects"); more than 10
///   requests fail (`stopped after 10 redirects`).
/// - A refused connection, a timeout or an invalid header is a failure carrying the error
///   text, worded as Go's client words it (`Get "http://10.88.0.2:80/": dial tcp
///   10.88.0.2:80: connect: connection refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGetProbe {
    request: HttpGetRequest,
}

impl HttpGetProbe {
    /// A GET of `path` on `port` of the pod IP.
    pub fn new(scheme: HttpScheme, port: u16, path: impl Into<String>) -> Self {
        HttpGetProbe {
            request: HttpGetRequest::new(scheme, port, path),
        }
    }

    /// Probe `host` instead of the pod IP (`httpGet.host`).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.request = self.request.with_host(host);
        self
    }

    /// Add a request header (`httpGet.httpHeaders`); repeated names are all sent.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request = self.request.with_header(name, value);
        self
    }

    /// The probe of `action` in `container`: the port may name one of the container's
    /// ports; the path defaults to `/`, the scheme to HTTP.
    pub fn from_action(action: &HTTPGetAction, container: &Container) -> Result<Self, String> {
        Ok(HttpGetProbe {
            request: HttpGetRequest::from_action(action, container)?,
        })
    }

    /// The request this probe sends.
    pub fn request(&self) -> &HttpGetRequest {
        &self.request
    }

    /// The URL probed when the pod IP is `pod_ip` (the kubelet's `formatURL`).
    pub fn url(&self, pod_ip: &str) -> Result<Url> {
        self.request.url(pod_ip).map_err(invalid_target)
    }
}

/// A URL that cannot be built is a prober error, as before the request is sent.
fn invalid_target(e: HttpGetError) -> Error {
    match e {
        HttpGetError::InvalidUrl { url, problem } => Error::InvalidTarget {
            probe: "http",
            target: url,
            problem,
        },
        other => Error::InvalidTarget {
            probe: "http",
            target: String::new(),
            problem: other.to_string(),
        },
    }
}

#[async_trait]
impl ProbeHandler for HttpGetProbe {
    async fn probe(&self, target: &ProbeTarget) -> Result<ProbeOutcome> {
        let pod_ip = match (self.request.host(), &target.pod_ip) {
            (Some(_), _) => "",
            (None, Some(ip)) if !ip.is_empty() => ip.as_str(),
            (None, _) => {
                return Err(Error::InvalidTarget {
                    probe: "http",
                    target: format!("port {}", self.request.port()),
                    problem: "the pod has no IP yet and the probe sets no host".into(),
                });
            }
        };
        let url = self.url(pod_ip)?;
        match tokio::time::timeout(target.timeout, self.request.send(pod_ip)).await {
            Ok(Ok(response)) => Ok(judge(&response)),
            Ok(Err(e @ HttpGetError::InvalidUrl { .. })) => Err(invalid_target(e)),
            // As the kubelet's `DoHTTPProbe`: a client error is a failure with its text.
            Ok(Err(e)) => Ok(ProbeOutcome::failure(e.to_string())),
            Err(_) => Ok(ProbeOutcome::failure(format!(
                "Get {:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                url.as_str()
            ))),
        }
    }
}

/// GET `first`, following same-host redirects, and read the last response.
async fn get(
    first: Url,
    headers: HeaderMap,
    host_override: Option<HeaderValue>,
) -> Result<HttpGetResponse, HttpGetError> {
    let mut url = first.clone();
    let mut host = host_override.clone();
    let mut requests = 0;
    loop {
        requests += 1;
        let (response, _connection) = request(&url, &headers, host.as_ref()).await?;
        let status = response.status().as_u16();
        if let Some(location) = redirect_location(&response) {
            let next = url.join(&location).map_err(|e| HttpGetError::Transport {
                url: url.to_string(),
                problem: format!("failed to parse Location header {location:?}: {e}"),
            })?;
            // `followNonLocalRedirects = false`: another host name ends the chain here and
            // this 3xx response is the result (`http.ErrUseLastResponse`).
            if next.host_str() == first.host_str() {
                if requests >= MAX_REDIRECTS {
                    return Err(HttpGetError::TooManyRedirects {
                        url: next.to_string(),
                    });
                }
                // Go keeps a custom Host only through relative redirects.
                let relative = Url::parse(&location).is_err();
                if !relative {
                    host = None;
                }
                tracing::debug!(from = %url, to = %next, "HTTP GET follows a redirect");
                url = next;
                continue;
            }
        }
        let body = read_body(response.into_body()).await;
        return Ok(HttpGetResponse { url, status, body });
    }
}

/// The kubelet's `DoHTTPProbe` verdict.
fn judge(response: &HttpGetResponse) -> ProbeOutcome {
    let code = response.status;
    let url = &response.url;
    let body = String::from_utf8_lossy(&response.body);
    if (200..400).contains(&code) {
        if code >= 300 {
            tracing::debug!(%url, code, "HTTP probe terminated redirects");
            return ProbeOutcome::warning(format!(
                "Probe terminated redirects, Response body: {body}"
            ));
        }
        return ProbeOutcome::success(body);
    }
    tracing::debug!(%url, code, %body, "HTTP probe failed");
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

/// The body, to its end or to [`MAX_HTTP_BODY`] bytes.
async fn read_body(mut body: Incoming) -> Vec<u8> {
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
    bytes
}

/// Aborts the connection task when the GET is done or timed out.
struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A stream that keeps the first five bytes read from it: the record header a TLS client
/// reads first. Go's client looks at it when a handshake fails, and calls a server whose
/// first bytes are `HTTP/` a plain HTTP server (`http.ErrSchemeMismatch`).
struct FirstBytes<S> {
    inner: S,
    first: Arc<Mutex<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Ok(mut first) = self.first.lock()
            && first.len() < 5
        {
            let new = &buf.filled()[before..];
            let take = new.len().min(5 - first.len());
            first.extend_from_slice(&new[..take]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One GET of `url` over a new connection.
async fn request(
    url: &Url,
    headers: &HeaderMap,
    host: Option<&HeaderValue>,
) -> Result<(Response<Incoming>, ConnectionTask), HttpGetError> {
    let transport = |problem: String| HttpGetError::Transport {
        url: url.to_string(),
        problem,
    };
    let host_name = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let address = join_host_port(host_name.trim_matches(['[', ']']), port);
    let tcp = TcpStream::connect(&address)
        .await
        .map_err(|e| transport(format!("dial tcp {address}: connect: {}", io_text(&e))))?;
    let _ = tcp.set_nodelay(true);
    match url.scheme() {
        "https" => {
            let connector = super::tls::insecure_connector().map_err(transport)?;
            let server_name = ServerName::try_from(host_name.trim_matches(['[', ']']).to_string())
                .map_err(|e| transport(format!("invalid TLS server name {host_name:?}: {e}")))?;
            // `connect` consumes the stream; the first bytes are kept in a shared cell so
            // that a failed handshake can still look at them.
            let seen = Arc::new(Mutex::new(Vec::with_capacity(5)));
            let stream = FirstBytes {
                inner: tcp,
                first: seen.clone(),
            };
            match connector.connect(server_name, stream).await {
                Ok(tls) => send(tls, url, headers, host).await,
                Err(e) => {
                    let first = seen.lock().map(|s| s.clone()).unwrap_or_default();
                    if first == b"HTTP/" {
                        Err(HttpGetError::HttpResponseToHttpsClient {
                            url: url.to_string(),
                        })
                    } else {
                        Err(transport(format!("tls: {e}")))
                    }
                }
            }
        }
        _ => send(tcp, url, headers, host).await,
    }
}

async fn send<S>(
    stream: S,
    url: &Url,
    headers: &HeaderMap,
    host: Option<&HeaderValue>,
) -> Result<(Response<Incoming>, ConnectionTask), HttpGetError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let transport = |problem: String| HttpGetError::Transport {
        url: url.to_string(),
        problem,
    };
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| transport(e.to_string()))?;
    let task = ConnectionTask(tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::trace!(error = %e, "HTTP GET connection ended");
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
            HeaderValue::from_str(&a).map_err(|e| transport(e.to_string()))?
        }
    };
    let mut request = Request::get(path)
        .body(Empty::<Bytes>::new())
        .map_err(|e| transport(e.to_string()))?;
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
                true => transport("EOF".to_string()),
                false => transport(e.to_string()),
            })?;
    // The caller keeps the connection task alive while it reads the body.
    Ok((response, task))
}

impl fmt::Debug for ConnectionTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionTask")
    }
}
