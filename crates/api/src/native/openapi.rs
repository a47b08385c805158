//! The OpenAPI document of the native API, served at `/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    events, exchanges, keys, live_view, metrics, nodes, proxy_ca, recordings, records, runs,
    sessions, vulnerabilities, wire,
};
use crate::common::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tapedeck native API",
         description = "Sessions and their screen recordings; test records of proxied traffic."),
    paths(sessions::create, sessions::list, sessions::retrieve, sessions::delete,
          sessions::thumbnail,
          recordings::start, recordings::list, recordings::list_all, recordings::retrieve,
          recordings::stop,
          recordings::download_url, recordings::delete, records::list, records::retrieve,
          records::export_har, records::delete, exchanges::list, exchanges::list_project, exchanges::retrieve,
          events::list, runs::list, vulnerabilities::list, vulnerabilities::har,
          vulnerabilities::sarif,
          proxy_ca::ca_certificate, metrics::metrics, keys::create, keys::list, keys::revoke,
          nodes::list, live_view::create, live_view::revoke),
    components(schemas(wire::CreateSession, wire::ViewportJson, wire::SessionJson, wire::SessionPage,
                       wire::StartRecording, wire::RecordingJson, wire::RecordingList,
                       wire::ListedRecording, wire::RecordingPage, wire::TestRunJson,
                       wire::FailureJson, wire::TestRunPage, wire::ExchangeJson, wire::ExchangePage,
                       wire::DownloadUrl, wire::TestRecordSummary, wire::TestRecordPage, keys::CreateKey, keys::KeyJson, keys::CreatedKey,
                       keys::KeyList, nodes::NodeJson, nodes::NodeList, live_view::CreateLiveView,
                       live_view::LiveViewJson, events::EventJson, events::EventPage,
                       vulnerabilities::VulnerabilityJson, vulnerabilities::VulnerabilityList,
                       ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct NativeApi;

/// Adds the bearer API-key scheme, and the answers every authenticated route may give: 400 for
/// a malformed query or body, 401 without a valid key, 404 for an id that names nothing the
/// caller's project holds, 503 (with `Retry-After`) while the metadata database does not answer.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error = || {
            ResponseBuilder::new().content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_an_id = path.contains('{');
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| {
                    error()
                        .description("a malformed or out-of-range query or body; the message says which field")
                        .build()
                        .into()
                });
                if names_an_id {
                    responses.entry("404".into()).or_insert_with(|| {
                        error()
                            .description("no such id in the caller's project")
                            .build()
                            .into()
                    });
                }
                responses.entry("401".into()).or_insert_with(|| {
                    error()
                        .description("missing or invalid API key")
                        .build()
                        .into()
                });
                responses.entry("503".into()).or_insert_with(|| {
                    error()
                        .description("the database is not answering (or the server is full); retry after Retry-After")
                        .build()
                        .into()
                });
            }
        }
    }
}

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(NativeApi::openapi())
}
