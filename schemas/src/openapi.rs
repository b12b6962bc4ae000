//! The OpenAPI 3.1 document of the HTTP API, generated from the types in this crate, so the file
//! `schemas/openapi.json` cannot say anything the code does not do (a test fails when it drifts).

use crate::answer::{AskRequest, AskResponse, Citation};
use crate::api::{AssetDetail, IndexJobRequest, Job, ServerStatus};
use crate::{ErrorBody, ErrorCode, SearchRequest, SearchResponse};
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

/// Every error status the API uses, with the JSON error body and the codes that answer with it.
fn error_responses(statuses: &[u16], error_ref: &Value) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for &status in statuses {
        let what = match status {
            400 => "Bad request",
            401 => "Missing or wrong API key",
            403 => "The file is outside the indexed roots",
            404 => "No such asset, segment, thumbnail or job",
            409 => "The index is being written by another process",
            413 => "Upload too large",
            416 => "Range not satisfiable",
            502 => "The answerer failed: local model worker or remote server",
            503 => "Overloaded, shutting down, or no index",
            504 => "Took longer than the request timeout",
            _ => "Error",
        };
        let codes: Vec<String> = ErrorCode::ALL
            .iter()
            .filter(|c| c.http_status() == status)
            .map(|c| format!("`{c}`"))
            .collect();
        let description = if codes.is_empty() {
            what.to_string()
        } else {
            format!("{what} (code {})", codes.join(", "))
        };
        m.insert(
            status.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": error_ref}}}),
        );
    }
    m
}

/// Adds each code's HTTP status and exit status (`x-http-status`, `x-exit-code`) to the generated
/// `ErrorCode` schema, whose variants carry their descriptions.
fn annotate_error_codes(schemas: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(variants)) = schemas.get_mut("ErrorCode").and_then(|s| s.get_mut("oneOf")) else {
        return;
    };
    for v in variants {
        let code = v
            .get("const")
            .and_then(Value::as_str)
            .and_then(|c| ErrorCode::ALL.iter().find(|e| e.as_str() == c).copied());
        if let (Some(code), Some(obj)) = (code, v.as_object_mut()) {
            obj.insert("x-http-status".into(), json!(code.http_status()));
            obj.insert("x-exit-code".into(), json!(code.exit_code()));
        }
    }
}

fn with_errors(ok: Value, codes: &[u16], error_ref: &Value) -> Value {
    let mut m = error_responses(codes, error_ref);
    m.insert("200".into(), ok);
    Value::Object(m)
}

/// Builds the document.
pub fn document() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
    });
    let mut generator = settings.into_generator();
    let r = |v: schemars::Schema| v.to_value();
    let search_req = r(generator.subschema_for::<SearchRequest>());
    let search_resp = r(generator.subschema_for::<SearchResponse>());
    let asset = r(generator.subschema_for::<AssetDetail>());
    let job_req = r(generator.subschema_for::<IndexJobRequest>());
    let job = r(generator.subschema_for::<Job>());
    let status = r(generator.subschema_for::<ServerStatus>());
    let error = r(generator.subschema_for::<ErrorBody>());
    let ask_req = r(generator.subschema_for::<AskRequest>());
    let ask_resp = r(generator.subschema_for::<AskResponse>());
    let citations = r(generator.subschema_for::<Vec<Citation>>());
    let mut schemas = generator.take_definitions(true);
    annotate_error_codes(&mut schemas);
    let json_ok = |desc: &str, schema: &Value| json!({"description": desc, "content": {"application/json": {"schema": schema}}});
    let id_param = json!({"name": "id", "in": "path", "required": true,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "description": "Asset id (BLAKE3 of the file's bytes)"});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Loupe",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multimodal search over photos, videos, recordings and documents. \
                Errors are one JSON shape (`ErrorBody`) with a stable `code` (`ErrorCode` lists them, \
                each with its HTTP status and the command line's exit status). When the server has an API \
                key, every /v1 route needs `Authorization: Bearer KEY`.",
            "license": {"name": "Apache-2.0"}
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/v1/search": {"post": {
                "operationId": "search",
                "summary": "Hybrid search by text, by example image, or both",
                "description": "Send JSON, or multipart/form-data with a `request` part (the JSON) and an \
                    `image` part (the file). Signals (visual, lexical, text_dense) run concurrently and \
                    are fused by RRF or a weighted sum.",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": search_req},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "request": search_req,
                        "image": {"type": "string", "contentMediaType": "application/octet-stream"}
                    }}}
                }},
                "responses": with_errors(json_ok("Ranked hits", &search_resp), &[400, 401, 413, 503, 504], &error)
            }},
            "/v1/ask": {"post": {
                "operationId": "ask",
                "summary": "Answer a question from what the search finds, with numbered citations",
                "description": "Searches (same filters as /v1/search), gives the best hits' text (and, for \
                    vision models, their images) to an answerer (`extractive`, `local`, `openai`) as untrusted \
                    data, and returns the answer with citations. With `stream: true` the response is \
                    server-sent events: `citations` (the numbered sources), `token` (`{\"text\"}`, as \
                    generated), then `done` (the whole AskResponse) or `error` (an ErrorBody). When the \
                    sources do not hold the answer, `found` is false and the answer says so.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": ask_req}}},
                "responses": with_errors(json!({"description": "The answer (JSON), or a stream of events",
                    "content": {"application/json": {"schema": ask_resp},
                                "text/event-stream": {"schema": {"type": "string"},
                                    "x-events": {"citations": citations, "token": {"type": "object", "properties": {"text": {"type": "string"}}},
                                                 "done": ask_resp, "error": error}}}}),
                    &[400, 401, 502, 503, 504], &error)
            }},
            "/v1/chat/completions": {"post": {
                "operationId": "chatCompletions",
                "summary": "OpenAI-compatible chat completions (streaming with SSE, ending with [DONE])",
                "description": "`model` picks what answers: `loupe` (retrieval + the default answerer), \
                    `loupe-extractive`, `loupe-local`, `loupe-openai` (retrieval + that answerer; earlier \
                    user turns are searched again so follow-ups keep their context), or `local` / `openai` \
                    (the bare model, no retrieval). Messages may carry images as `data:` URLs (an image in the \
                    last user message is also searched by). Retrieval answers append a Sources list to the \
                    content and carry a `citations` array (non-standard). Errors use OpenAI's shape.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["messages"],
                    "properties": {
                        "model": {"type": "string", "default": "loupe"},
                        "messages": {"type": "array", "items": {"type": "object", "required": ["role"], "properties": {
                            "role": {"enum": ["system", "developer", "user", "assistant"]},
                            "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}}}},
                        "stream": {"type": "boolean", "default": false},
                        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
                        "max_tokens": {"type": "integer", "minimum": 1},
                        "max_completion_tokens": {"type": "integer", "minimum": 1},
                        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                        "filters": {"$ref": "#/components/schemas/Filters"}
                    }}}}},
                "responses": {
                    "200": {"description": "`chat.completion`, or `chat.completion.chunk` events then `[DONE]`",
                        "content": {"application/json": {}, "text/event-stream": {}}},
                    "400": {"description": "Bad request (OpenAI error shape)", "content": {"application/json": {}}},
                    "401": {"description": "Missing or wrong API key", "content": {"application/json": {"schema": error}}},
                    "404": {"description": "No such model (OpenAI error shape)", "content": {"application/json": {}}},
                    "503": {"description": "Overloaded", "content": {"application/json": {}}}
                }
            }},
            "/v1/models": {"get": {
                "operationId": "listModels",
                "summary": "OpenAI-compatible model list (what /v1/chat/completions accepts)",
                "responses": with_errors(json!({"description": "`{object: list, data: [{id, object: model}]}`",
                    "content": {"application/json": {}}}), &[401], &error)
            }},
            "/v1/assets/{id}": {"get": {
                "operationId": "getAsset",
                "summary": "An asset with its segments",
                "parameters": [id_param],
                "responses": with_errors(json_ok("The asset", &asset), &[400, 401, 404], &error)
            }},
            "/v1/assets/{id}/thumbnail": {"get": {
                "operationId": "getThumbnail",
                "summary": "A small JPEG of the asset or of one of its segments",
                "parameters": [id_param, {"name": "segment", "in": "query", "required": false,
                    "schema": {"type": "string", "format": "uuid"}, "description": "A segment of the asset (keyframe, page)"}],
                "responses": with_errors(json!({"description": "JPEG", "content": {"image/jpeg": {}}}), &[400, 401, 404], &error)
            }},
            "/v1/assets/{id}/media": {"get": {
                "operationId": "getMedia",
                "summary": "The file itself, with HTTP Range for seeking",
                "parameters": [id_param, {"name": "Range", "in": "header", "required": false, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The whole file"},
                    "206": {"description": "The requested byte range"},
                    "401": {"description": "Missing or wrong API key", "content": {"application/json": {"schema": error}}},
                    "403": {"description": "The file is outside the indexed roots", "content": {"application/json": {"schema": error}}},
                    "404": {"description": "No such asset, or its file is gone", "content": {"application/json": {"schema": error}}},
                    "416": {"description": "Range not satisfiable"}
                }
            }},
            "/v1/index": {"post": {
                "operationId": "startIndexJob",
                "summary": "Add or refresh a path under an indexed root (runs in the background)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": job_req}}},
                "responses": {
                    "202": json_ok("The job, queued", &job),
                    "400": {"description": "Bad path", "content": {"application/json": {"schema": error}}},
                    "401": {"description": "Missing or wrong API key", "content": {"application/json": {"schema": error}}},
                    "403": {"description": "Outside the indexed roots", "content": {"application/json": {"schema": error}}},
                    "409": {"description": "Read-only server (another process writes the index)", "content": {"application/json": {"schema": error}}}
                }
            }},
            "/v1/jobs/{id}": {"get": {
                "operationId": "getJob",
                "summary": "Progress and result of an index job",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_errors(json_ok("The job", &job), &[401, 404], &error)
            }},
            "/v1/status": {"get": {
                "operationId": "getStatus",
                "summary": "Models, counts and roots of the index",
                "responses": with_errors(json_ok("Status", &status), &[401], &error)
            }},
            "/healthz": {"get": {"operationId": "health", "summary": "Liveness",
                "security": [{}],
                "responses": {"200": {"description": "The process is up", "content": {"text/plain": {}}}}}},
            "/readyz": {"get": {"operationId": "ready", "summary": "Readiness: models loaded, index open",
                "security": [{}],
                "responses": {"200": json_ok("Ready", &status), "503": json_ok("Not ready", &status)}}},
            "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics",
                "security": [{}],
                "responses": {"200": {"description": "Prometheus text format 0.0.4", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                "security": [{}],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}}
        }
    })
}

/// The document as the checked-in file holds it (pretty, with a final newline).
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn checked_in_openapi_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        // Compared as JSON values: key order depends on serde_json's features in the build.
        let have: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default();
        assert!(
            have == super::document(),
            "schemas/openapi.json is out of date with the types; run \
             `cargo run -- openapi > schemas/openapi.json` and commit the file"
        );
    }

    #[test]
    fn every_error_code_is_documented_with_its_statuses() {
        let doc = super::document();
        let variants = doc["components"]["schemas"]["ErrorCode"]["oneOf"]
            .as_array()
            .expect("ErrorCode is a oneOf of documented constants");
        assert_eq!(variants.len(), crate::ErrorCode::ALL.len());
        for &code in crate::ErrorCode::ALL {
            let v = variants
                .iter()
                .find(|v| v["const"] == code.as_str())
                .unwrap_or_else(|| panic!("{code} is not in the OpenAPI document"));
            let described = v["description"].as_str().unwrap_or_default();
            assert!(!described.is_empty(), "{code} has no description");
            assert_eq!(v["x-http-status"], code.http_status(), "{code}");
            assert_eq!(v["x-exit-code"], code.exit_code(), "{code}");
        }
        let body = &doc["components"]["schemas"]["ErrorBody"]["properties"]["code"];
        assert_eq!(body["$ref"], "#/components/schemas/ErrorCode", "{body}");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = super::document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }
}
