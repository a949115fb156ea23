//! `GET /api/v1/openapi.json`: an OpenAPI 3.0 document of every route the router serves.
//!
//! Paths and methods come from [`crate::router::routes`], the very list the router is built
//! from; request and answer schemas are the JSON Schemas of `gryt_core::api`'s wire types
//! (`schemars`, which reads the same serde attributes that shape the wire), so the document
//! follows both the routes and the types. schemars plus this table rather than utoipa:
//! utoipa describes each route with a macro on its handler, a second list of routes beside
//! the router's; here there is one.

use crate::router::routes;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gryt_core::api::routes as r;
use gryt_core::api::*;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What the document says of one route.
struct Op {
    summary: &'static str,
    /// Needs credentials (Basic or HMAC).
    auth: bool,
    /// Query parameters (all optional).
    query: &'static [&'static str],
    /// The JSON request body, when the route takes one (`optional`: it may be empty).
    body: Option<(SchemaFn, bool)>,
    /// The success status and its JSON answer (`None`: not JSON, or a shape the wire types
    /// do not name).
    ok: (u16, Option<SchemaFn>),
}

const fn op(summary: &'static str, ok: (u16, Option<SchemaFn>)) -> Op {
    Op {
        summary,
        auth: true,
        query: &[],
        body: None,
        ok,
    }
}

/// The description of every route; `None` for a route this table does not know (the drift
/// test fails on it).
fn describe(method: &Method, pattern: &str) -> Option<Op> {
    let m = method.as_str();
    Some(match (m, pattern) {
        ("GET", r::HEALTHZ) => Op {
            auth: false,
            ..op("Database health", (200, None))
        },
        ("GET", r::LIVEZ) => Op {
            auth: false,
            ..op("The process serves", (200, None))
        },
        ("GET", r::READYZ) => Op {
            auth: false,
            ..op(
                "The database answers and its schema is current",
                (200, None),
            )
        },
        ("GET", r::METRICS) => Op {
            auth: false,
            ..op(
                "Prometheus text (loopback peers only by default)",
                (200, None),
            )
        },
        ("GET", r::OPENAPI) => Op {
            auth: false,
            ..op("This document", (200, None))
        },
        ("GET", r::GENERATIONS) => Op {
            query: &["team_id", "project", "version"],
            ..op("List generations", (200, Some(s::<Data<GenerationList>>)))
        },
        ("POST", r::GENERATIONS) => Op {
            body: Some((s::<GenerationCreate>, false)),
            ..op("Create a generation", (201, Some(s::<Data<Generation>>)))
        },
        ("GET", r::GENERATION) => op("Read a generation", (200, Some(s::<Data<Generation>>))),
        ("PATCH", r::GENERATION) => Op {
            body: Some((s::<GenerationPatch>, false)),
            ..op(
                "Edit a draft generation",
                (200, Some(s::<Data<Generation>>)),
            )
        },
        ("DELETE", r::GENERATION) => op(
            "Delete a draft generation",
            (200, Some(s::<Data<Generation>>)),
        ),
        ("POST", r::GENERATION_PROMOTE) => Op {
            body: Some((s::<PromoteRequest>, true)),
            ..op(
                "Promote a generation (first wins)",
                (200, Some(s::<Data<Generation>>)),
            )
        },
        ("GET", r::EVOLUTIONS) => Op {
            query: &["generation_id", "team_id", "project"],
            ..op("List evolutions", (200, Some(s::<Data<EvolutionList>>)))
        },
        ("POST", r::EVOLUTIONS) => Op {
            body: Some((s::<EvolutionCreate>, false)),
            ..op("Start an evolution", (201, Some(s::<Data<Evolution>>)))
        },
        ("GET", r::EVOLUTION) => op("Read an evolution", (200, Some(s::<Data<Evolution>>))),
        ("PATCH", r::EVOLUTION) => Op {
            body: Some((s::<EvolutionPatch>, false)),
            ..op(
                "Edit or complete an evolution",
                (200, Some(s::<Data<Evolution>>)),
            )
        },
        ("DELETE", r::EVOLUTION) => op("Delete an evolution", (200, Some(s::<Data<Evolution>>))),
        ("POST", r::PIPELINE_RUNS) => Op {
            body: Some((s::<PipelineRunPush>, false)),
            ..op(
                "Store a pipeline run",
                (201, Some(s::<Data<PipelineRunStored>>)),
            )
        },
        ("GET", r::PIPELINE_RUN) => op("Read a pipeline run", (200, None)),
        ("POST", r::ACCOUNT_CREATE) => Op {
            auth: false,
            body: Some((s::<SignupRequest>, false)),
            ..op(
                "Sign up (when the server allows it)",
                (201, Some(s::<Said<AccountCreated>>)),
            )
        },
        ("POST", r::ACCOUNT_CHANGE_PASSWORD) => Op {
            body: Some((s::<ChangePasswordRequest>, false)),
            ..op("Change your password", (200, Some(s::<Said<Username>>)))
        },
        ("GET", r::ACCOUNT_ME) => op(
            "Who the credentials belong to",
            (200, Some(s::<Data<Username>>)),
        ),
        ("GET", r::API_KEYS) => op("List your API keys", (200, Some(s::<Data<ApiKeyList>>))),
        ("POST", r::API_KEYS) => Op {
            body: Some((s::<ApiKeyCreate>, false)),
            ..op(
                "Create an API key (the secret is shown once)",
                (201, Some(s::<Data<ApiKeyCreated>>)),
            )
        },
        ("DELETE", r::API_KEY) => op("Revoke an API key", (200, Some(s::<Said<ApiKeyRevoked>>))),
        ("GET", r::TEAMS) => op("List your teams", (200, Some(s::<Data<TeamList>>))),
        ("POST", r::TEAMS) => Op {
            body: Some((s::<TeamCreate>, false)),
            ..op("Create a team", (201, Some(s::<TeamCreated>)))
        },
        ("GET", r::TEAM) => op("Read a team", (200, Some(s::<Data<Team>>))),
        ("DELETE", r::TEAM) => op("Delete a team", (200, Some(s::<Said<TeamDeleted>>))),
        ("GET", r::TEAM_MEMBERS) => op("List a team's members", (200, Some(s::<Data<MemberList>>))),
        ("POST", r::TEAM_MEMBERS) => Op {
            body: Some((s::<MemberAdd>, false)),
            ..op("Add a member", (201, Some(s::<Said<MemberAdded>>)))
        },
        ("DELETE", r::TEAM_MEMBER) => op("Remove a member", (200, Some(s::<Said<MemberRemoved>>))),
        ("GET", r::SYNC_HEAD) => Op {
            query: &["team_id"],
            ..op("The scope's feed head", (200, Some(s::<Data<SyncHead>>)))
        },
        ("GET", r::SYNC_CHANGES) => Op {
            query: &["since", "limit", "team_id", "project"],
            ..op(
                "One page of the change feed",
                (200, Some(s::<Data<SyncChanges>>)),
            )
        },
        ("POST", r::SYNC_BATCH) => Op {
            body: Some((s::<BatchRequest>, false)),
            ..op(
                "Several writes in one transaction",
                (200, Some(s::<Data<BatchResponse>>)),
            )
        },
        _ => return None,
    })
}

/// The document, or the routes the table does not describe.
pub fn document() -> Result<Value, Vec<String>> {
    let mut g = schemars::generate::SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator();
    let problem = s::<ErrorBody>(&mut g);
    let mut paths = Map::new();
    let mut unknown = Vec::new();
    for (method, pattern) in routes().served() {
        let Some(op) = describe(method, pattern) else {
            unknown.push(format!("{method} {pattern}"));
            continue;
        };
        let mut params: Vec<Value> = pattern
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": {"type": "string"}})
            })
            .collect();
        params.extend(op.query.iter().map(|name| {
            json!({"name": name, "in": "query", "required": false,
                   "schema": {"type": "string"}})
        }));
        let mut o = Map::new();
        let id = format!(
            "{}{}",
            method.as_str().to_ascii_lowercase(),
            pattern
                .split(['/', '{', '}', '-', '.'])
                .filter(|p| !p.is_empty())
                .map(|p| format!("_{p}"))
                .collect::<String>()
        );
        o.insert("operationId".into(), json!(id));
        o.insert("summary".into(), json!(op.summary));
        if !params.is_empty() {
            o.insert("parameters".into(), Value::Array(params));
        }
        if op.auth {
            o.insert("security".into(), json!([{"basic": []}, {"hmac": []}]));
        }
        if let Some((schema, optional)) = op.body {
            o.insert(
                "requestBody".into(),
                json!({"required": !optional, "content": {
                    "application/json": {"schema": schema(&mut g)},
                }}),
            );
        }
        let (status, answer) = op.ok;
        let mut ok = json!({"description": "Done"});
        if let Some(schema) = answer {
            ok["content"] = json!({"application/json": {"schema": schema(&mut g)}});
        }
        o.insert(
            "responses".into(),
            json!({
                status.to_string(): ok,
                "default": {
                    "description": "A refusal (problem+json; `code` says which)",
                    "content": {"application/problem+json": {"schema": problem.clone()}},
                },
            }),
        );
        let entry = paths
            .entry(pattern.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(e) = entry {
            e.insert(method.as_str().to_ascii_lowercase(), Value::Object(o));
        }
    }
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "gryt server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Gryt Cloud API v1 and gryt's extensions; see docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "hmac": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "HMAC key_id:timestamp:signature, the signature an HMAC-SHA256 over METHOD, path and query, timestamp and the body as sent (docs/api.md)",
                },
            },
        },
    }))
}

pub(crate) async fn openapi() -> Response {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    let doc = DOC.get_or_init(|| match document() {
        Ok(v) => serde_json::to_string(&v).map_err(|e| e.to_string()),
        Err(unknown) => Err(format!("undescribed routes: {}", unknown.join(", "))),
    });
    match doc {
        Ok(body) => {
            let mut r = (StatusCode::OK, body.clone()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => {
            crate::error::ApiError::internal(format!("no OpenAPI document: {e}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The document names exactly the routes the router serves (method and pattern), each
    /// answer and body schema resolves in `components.schemas`, and an undescribed route
    /// fails here rather than going missing from the document.
    #[test]
    fn the_document_and_the_router_agree() {
        let doc = document().unwrap_or_else(|u| panic!("routes not described: {u:?}"));
        let served: BTreeSet<(String, String)> = routes()
            .served()
            .iter()
            .map(|(m, p)| (m.as_str().to_ascii_lowercase(), p.to_string()))
            .collect();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), p.clone()))
            })
            .collect();
        assert_eq!(served, documented);
        assert_eq!(
            served.len(),
            routes().served().len(),
            "a route registered twice"
        );
        // Every $ref points at a schema that is there.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("\"$ref\":\"").skip(1) {
            let target = part.split('"').next().unwrap();
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("ref outside the components: {target}"));
            assert!(schemas.contains_key(name), "missing schema {name}");
        }
        for name in ["ErrorBody", "GenerationCreate", "BatchRequest"] {
            assert!(
                schemas.keys().any(|k| k.starts_with(name)),
                "{name} not in {:?}",
                schemas.keys()
            );
        }
        // Every route pattern of gryt-core is served.
        for p in [r::HEALTHZ, r::OPENAPI, r::SYNC_BATCH, r::TEAM_MEMBER] {
            assert!(served.iter().any(|(_, s)| s == p), "{p}");
        }
    }

    #[test]
    fn a_route_the_table_does_not_know_is_reported() {
        assert!(describe(&Method::PUT, r::GENERATION).is_none());
        assert!(describe(&Method::GET, "/api/v1/nowhere").is_none());
    }
}
