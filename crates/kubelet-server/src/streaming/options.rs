//! The options of a streaming request, read as the kubelet reads them: remotecommand's
//! `NewOptions` for `/exec` and `/attach`, portforward's `NewV4Options` for
//! `/portForward`, and the request-kind tests of `k8s.io/streaming` (`IsUpgradeRequest`,
//! `IsWebSocketRequest`, `IsWebSocketRequestWithTunnelingProtocol`).

use axum::http::HeaderMap;
use axum::http::header::{CONNECTION, SEC_WEBSOCKET_PROTOCOL, UPGRADE};

/// A query as `url.Values`: every pair in order, keys repeated as they came.
pub(crate) type QueryPairs = Vec<(String, String)>;

/// The first value of `key` (Go's `url.Values.Get`, `Request.FormValue`).
pub(crate) fn first<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every value of `key`, in order (Go's `url.Values[key]`).
pub(crate) fn all(query: &[(String, String)], key: &str) -> Vec<String> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// The streams an exec or attach session asks for: remotecommand's `Options`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamOptions {
    /// `input=1`.
    pub stdin: bool,
    /// `output=1`.
    pub stdout: bool,
    /// `error=1`; always false with a TTY.
    pub stderr: bool,
    /// `tty=1`.
    pub tty: bool,
}

impl StreamOptions {
    /// remotecommand's `NewOptions`: each of `input`, `output`, `error` and `tty` is set
    /// only by the value `1`; with `tty` the `error` stream is dropped (a terminal merges it
    /// into `output`), and at least one stream must remain.
    pub(crate) fn parse(query: &[(String, String)]) -> Result<StreamOptions, String> {
        let set = |key| first(query, key) == Some("1");
        let tty = set("tty");
        let options = StreamOptions {
            stdin: set("input"),
            stdout: set("output"),
            // The kubelet bypasses stderr with a TTY rather than refusing the request.
            stderr: set("error") && !tty,
            tty,
        };
        if !(options.stdin || options.stdout || options.stderr) {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        Ok(options)
    }
}

/// portforward's `NewV4Options`: the ports of a WebSocket port-forward, from the `port`
/// parameters (each may list several, comma-separated). A SPDY port-forward names its
/// ports in stream headers, so it has none here, and a WebSocket tunneling SPDY
/// (`SPDY/3.1+portforward.k8s.io`) neither.
pub(crate) fn port_forward_ports(
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<Vec<i32>, String> {
    if !is_websocket_request(headers) || is_websocket_tunneling_request(headers) {
        return Ok(Vec::new());
    }
    let values = all(query, "port");
    if values.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    let mut ports = Vec::new();
    for value in &values {
        if value.is_empty() {
            return Err("query parameter \"port\" cannot be empty".into());
        }
        for part in value.split(',') {
            let port = parse_port(part)
                .map_err(|why| format!("unable to parse {value:?} as a port: {why}"))?;
            if port < 1 {
                return Err(format!("port {value:?} must be > 0"));
            }
            ports.push(i32::from(port));
        }
    }
    Ok(ports)
}

/// A port as Go's `strconv.ParseUint(p, 10, 16)` reads it, with its error texts.
fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseUint: parsing {text:?}: invalid syntax"
        ));
    }
    text.parse()
        .map_err(|_| format!("strconv.ParseUint: parsing {text:?}: value out of range"))
}

/// `httpstream.IsUpgradeRequest`: a `Connection` header that mentions `upgrade`.
pub(crate) fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("upgrade"))
    })
}

/// `wsstream.IsWebSocketRequest`: an upgrade to `websocket`.
pub(crate) fn is_websocket_request(headers: &HeaderMap) -> bool {
    headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && is_upgrade_request(headers)
}

/// `wsstream.IsWebSocketRequestWithTunnelingProtocol`: a WebSocket that offers a
/// `SPDY/3.1+<name>.k8s.io` subprotocol (SPDY tunneled through WebSocket frames).
pub(crate) fn is_websocket_tunneling_request(headers: &HeaderMap) -> bool {
    is_websocket_request(headers)
        && headers
            .get(SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|protocols| {
                protocols.split(',').map(str::trim).any(|protocol| {
                    protocol.starts_with("SPDY/3.1+") && protocol.ends_with(".k8s.io")
                })
            })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn q(pairs: &[(&str, &str)]) -> QueryPairs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn streams_are_set_by_1_only() {
        let options =
            StreamOptions::parse(&q(&[("input", "1"), ("output", "true"), ("error", "1")]))
                .unwrap();
        assert_eq!(
            options,
            StreamOptions {
                stdin: true,
                stdout: false,
                stderr: true,
                tty: false
            }
        );
    }

    #[test]
    fn at_least_one_stream_is_required() {
        for query in [
            q(&[]),
            q(&[("tty", "1")]),
            q(&[("output", "true"), ("input", "0")]),
            // With a TTY, stderr is dropped, so it does not count.
            q(&[("tty", "1"), ("error", "1")]),
        ] {
            assert_eq!(
                StreamOptions::parse(&query).unwrap_err(),
                "you must specify at least 1 of stdin, stdout, stderr",
                "{query:?}"
            );
        }
    }

    #[test]
    fn tty_drops_stderr() {
        let options =
            StreamOptions::parse(&q(&[("tty", "1"), ("output", "1"), ("error", "1")])).unwrap();
        assert!(options.tty && options.stdout && !options.stderr);
    }

    #[test]
    fn request_kinds() {
        let spdy = headers(&[("connection", "Upgrade"), ("upgrade", "SPDY/3.1")]);
        assert!(is_upgrade_request(&spdy));
        assert!(!is_websocket_request(&spdy));
        let ws = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            (
                "sec-websocket-protocol",
                "v5.channel.k8s.io, v4.channel.k8s.io",
            ),
        ]);
        assert!(is_websocket_request(&ws));
        assert!(!is_websocket_tunneling_request(&ws));
        let tunnel = headers(&[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-protocol", "SPDY/3.1+portforward.k8s.io"),
        ]);
        assert!(is_websocket_tunneling_request(&tunnel));
        assert!(!is_upgrade_request(&headers(&[("upgrade", "websocket")])));
    }

    #[test]
    fn websocket_port_forward_needs_ports() {
        let ws = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert_eq!(
            port_forward_ports(&ws, &q(&[("port", "80,8080"), ("port", "9090")])).unwrap(),
            [80, 8080, 9090]
        );
        assert_eq!(
            port_forward_ports(&ws, &q(&[])).unwrap_err(),
            "query parameter \"port\" is required"
        );
        assert_eq!(
            port_forward_ports(&ws, &q(&[("port", "")])).unwrap_err(),
            "query parameter \"port\" cannot be empty"
        );
        assert_eq!(
            port_forward_ports(&ws, &q(&[("port", "80,http")])).unwrap_err(),
            "unable to parse \"80,http\" as a port: strconv.ParseUint: parsing \"http\": \
             invalid syntax"
        );
        assert_eq!(
            port_forward_ports(&ws, &q(&[("port", "70000")])).unwrap_err(),
            "unable to parse \"70000\" as a port: strconv.ParseUint: parsing \"70000\": value \
             out of range"
        );
        assert_eq!(
            port_forward_ports(&ws, &q(&[("port", "0")])).unwrap_err(),
            "port \"0\" must be > 0"
        );
    }

    #[test]
    fn spdy_port_forward_has_no_query_ports() {
        let spdy = headers(&[("connection", "Upgrade"), ("upgrade", "SPDY/3.1")]);
        assert_eq!(
            port_forward_ports(&spdy, &q(&[("port", "x")])).unwrap(),
            Vec::<i32>::new()
        );
        let tunnel = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-protocol", "SPDY/3.1+portforward.k8s.io"),
        ]);
        assert_eq!(
            port_forward_ports(&tunnel, &q(&[])).unwrap(),
            Vec::<i32>::new()
        );
    }
}
