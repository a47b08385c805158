//! Any node answers: a request for a session another node of the fleet runs, or a create this
//! node has no room for, is forwarded to the node that serves it and answered as if it had
//! come there. Bodies stream both ways (downloads too), and a WebSocket upgrade (the CDP
//! relay) is spliced byte for byte once the serving node accepts it. The caller's API key is
//! not forwarded: the checked key's record is, signed with the cluster key ([`super::cluster`]).
//!
//! The engine says where a request goes ([`tapedeck_engine::NodeRoute`]); this module only
//! carries it there. A forwarded request is served where it lands, never forwarded again.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{OriginalUri, RawPathParams, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tapedeck_core::ApiKeyRecord;
use tapedeck_engine::{Engine, EngineError, NodeRoute};
use time::OffsetDateTime;

use super::auth::Caller;
use super::cluster::{self, ClusterAuth};
use super::error::CommonError;
use crate::ApiState;

/// How long connecting to another node may take: they share a network, so a node that does
/// not accept within this is down or unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for the serving node's response head. Its slowest calls (a create that starts
/// a browser, a stop that finalizes a long recording) answer well within it; the body then
/// streams for as long as it takes.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers that describe one hop, not the request; the upgrade pair is put back for upgrades.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Marks a request another node forwarded here: it is served here whatever the fleet says.
#[derive(Debug, Clone, Copy)]
pub struct Forwarded;

/// Carries requests to other nodes of the fleet.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
    cluster: Option<ClusterAuth>,
    /// Counts what is forwarded, for `/metrics`.
    engine: Engine,
}

impl Forwarder {
    /// A forwarder for `engine`'s node, signing with `cluster`; without one (a single node)
    /// it forwards nothing and refuses forwarded requests.
    pub fn new(engine: Engine, cluster: Option<ClusterAuth>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            cluster,
            engine,
        }
    }

    /// The cluster key forwarded requests are checked with.
    pub fn cluster(&self) -> Option<&ClusterAuth> {
        self.cluster.as_ref()
    }

    /// Sends `request` to `route` as `caller` (or, for a CDP relay whose token is its own
    /// credential, as nobody) and answers with what that node answered.
    ///
    /// Errors: `Unavailable` when this node has no cluster secret, or the other node does not
    /// connect or answer within [`RESPONSE_TIMEOUT`].
    pub async fn forward(
        &self,
        route: &NodeRoute,
        caller: Option<&ApiKeyRecord>,
        mut request: Request,
    ) -> Result<Response, CommonError> {
        let Some(cluster) = &self.cluster else {
            return Err(unavailable(
                route,
                "it runs on another node, and this node has no --cluster-secret to reach it",
            ));
        };
        let path_and_query = request
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| request.uri().clone(), |original| original.0.clone())
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let uri: Uri = format!("{}{path_and_query}", route.internal_url)
            .parse()
            .map_err(|e| unavailable(route, &format!("its internal URL is not usable: {e}")))?;
        let upgrade = is_websocket_upgrade(&request).then(|| hyper::upgrade::on(&mut request));

        let (mut parts, body) = request.into_parts();
        parts.uri = uri;
        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        for name in [
            header::HOST,
            header::AUTHORIZATION,
            HeaderName::from_static("x-wallarmapi-token"),
            HeaderName::from_static(cluster::CALLER_HEADER),
            HeaderName::from_static(cluster::AT_HEADER),
            HeaderName::from_static(cluster::SIGNATURE_HEADER),
        ] {
            headers.remove(name);
        }
        if let Some(caller) = caller {
            let now = OffsetDateTime::now_utc();
            for (name, value) in cluster.sign(caller, &parts.method, &path_and_query, now) {
                headers.insert(name, value);
            }
        }
        if upgrade.is_some() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }

        let started = Instant::now();
        let sent = self.client.request(Request::from_parts(parts, body));
        let mut response = match tokio::time::timeout(RESPONSE_TIMEOUT, sent).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(unavailable(route, &format!("it did not answer: {e}"))),
            Err(_) => {
                return Err(unavailable(
                    route,
                    &format!("it did not answer within {RESPONSE_TIMEOUT:?}"),
                ))
            }
        };
        self.engine.observe_forwarded(started.elapsed());
        tracing::debug!(node = %route.node, status = %response.status(), ms = started.elapsed().as_millis(), "forwarded");

        if let Some(client_side) =
            upgrade.filter(|_| response.status() == StatusCode::SWITCHING_PROTOCOLS)
        {
            let node_side = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                match tokio::try_join!(client_side, node_side) {
                    Ok((client, node)) => {
                        let (mut client, mut node) = (TokioIo::new(client), TokioIo::new(node));
                        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut node).await
                        {
                            tracing::debug!(error = %e, "forwarded WebSocket closed with an error");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "forwarded WebSocket upgrade failed"),
                }
            });
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

/// Which node serves the requests a [`to_serving_node`] middleware sees.
#[derive(Debug, Clone, Copy)]
pub enum Serving {
    /// The node running the session in the path's `{id}`.
    Session,
    /// The node running the session of the recording in the path's `{id}`.
    Recording,
    /// This node while it has room, else the fleet's node with most room (creates).
    NewSession,
}

/// The state of [`to_serving_node`].
#[derive(Clone)]
pub struct Routing {
    state: ApiState,
    serving: Serving,
}

impl Routing {
    /// Routes the requests of `serving` with `state`'s engine and forwarder.
    pub fn new(state: &ApiState, serving: Serving) -> Self {
        Self {
            state: state.clone(),
            serving,
        }
    }
}

/// Middleware, mounted inside a dialect's API-key check, that forwards a request to the node
/// serving it (see [`Serving`]) and otherwise lets it through; errors render in the dialect's
/// format `E`.
pub async fn to_serving_node<E>(
    State(routing): State<Routing>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Result<Response, E>
where
    E: From<CommonError> + IntoResponse,
{
    let caller = request.extensions().get::<Caller>().cloned();
    let (Some(caller), None) = (caller, request.extensions().get::<Forwarded>()) else {
        return Ok(next.run(request).await);
    };
    let id = || {
        params
            .iter()
            .flat_map(|p| p.iter())
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default()
    };
    let engine = &routing.state.engine;
    let route = match routing.serving {
        Serving::Session => engine.route_session(caller.project(), &id()).await,
        Serving::Recording => engine.route_recording(caller.project(), &id()).await,
        Serving::NewSession => engine.place_session().await,
    }
    .map_err(|e| E::from(CommonError::Engine(e)))?;
    match route {
        None => Ok(next.run(request).await),
        Some(route) => Ok(routing
            .state
            .forwarder
            .forward(&route, Some(&caller.0), request)
            .await?),
    }
}

fn is_websocket_upgrade(request: &Request) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn strip_hop_by_hop(headers: &mut axum::http::HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn unavailable(route: &NodeRoute, why: &str) -> CommonError {
    CommonError::Engine(EngineError::Unavailable(format!(
        "node {} ({}) serves this request, but {why}",
        route.node, route.internal_url
    )))
}
