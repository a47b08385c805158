//! The OpenAPI document of the native API, served at `/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{keys, metrics, proxy_ca, recordings, records, sessions, wire};
use crate::common::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tapedeck native API",
         description = "Sessions and their screen recordings; test records of proxied traffic."),
    paths(sessions::create, sessions::list, sessions::retrieve, sessions::delete,
          recordings::start, recordings::list, recordings::retrieve, recordings::stop,
          recordings::download_url, recordings::delete, records::retrieve, records::export_har,
          records::delete,
          proxy_ca::ca_certificate, metrics::metrics, keys::create, keys::list, keys::revoke),
    components(schemas(wire::CreateSession, wire::ViewportJson, wire::SessionJson, wire::SessionPage,
                       wire::StartRecording, wire::RecordingJson, wire::RecordingList,
                       wire::DownloadUrl, keys::CreateKey, keys::KeyJson, keys::CreatedKey,
                       keys::KeyList, ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct NativeApi;

/// Adds the bearer API-key scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(NativeApi::openapi())
}
