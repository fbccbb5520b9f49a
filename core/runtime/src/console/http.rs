//! The admin listener served by actix-web: `/metrics` and `/health` (answered as
//! before), the console's page (`/`), its JSON (`/api/status`), its event stream
//! (`/api/events`) and its actions (`POST /api/reload`,
//! `POST /api/sessions/{handler}/{id}/cancel`).
//!
//! One worker thread: an operator or two and a scraper, never a hot path; the
//! handlers' threads are not touched except to be asked for their sessions. Signals
//! are the host's (`disable_signals`): a SIGTERM drains the host, which closes this.
//! See docs/decisions/operator-console.md for why actix-web.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use slog::{Logger, info, warn};

use super::access::Refusal;
use super::state::Console;
use crate::metrics::exposition;

/// The page, its CSS and its script: one file, in the binary (no CDN, no fetch).
const PAGE: &str = include_str!("page.html");
/// How often the event stream looks for a change (the page is live within 1 s).
const EVENT_PERIOD: Duration = Duration::from_millis(500);
/// A comment line on an idle stream, so proxies and browsers keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What every request handler shares.
#[derive(Debug, Clone)]
struct AdminState {
    console: Arc<Console>,
    log: Logger,
}

/// Serve the admin listener on `listener` (already bound, non-blocking) until the
/// returned server is stopped.
pub fn serve(
    listener: std::net::TcpListener,
    console: Arc<Console>,
    log: Logger,
) -> std::io::Result<actix_web::dev::Server> {
    let state = AdminState { console, log };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/metrics", web::get().to(metrics))
            .route("/health", web::get().to(health))
            .route("/healthz", web::get().to(health))
            .route("/", web::get().to(page))
            .route("/api/status", web::get().to(status))
            .route("/api/events", web::get().to(events))
            .route("/api/reload", web::post().to(reload))
            .route(
                "/api/sessions/{handler}/{id}/cancel",
                web::post().to(cancel),
            )
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok(server)
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refused(refusal: Refusal) -> HttpResponse {
    let mut answer = match refusal {
        Refusal::Unauthorized => {
            let mut a = HttpResponse::Unauthorized();
            a.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"switchyard\""));
            a
        }
        Refusal::NoTokenConfigured | Refusal::ForeignOrigin => HttpResponse::Forbidden(),
    };
    answer.content_type("text/plain").body(refusal.text())
}

/// The read check of a request, as a refusal to answer with.
fn read_refusal(req: &HttpRequest, state: &AdminState) -> Option<HttpResponse> {
    let authorization = header(req.headers(), header::AUTHORIZATION);
    state
        .console
        .access()
        .check_read(authorization)
        .err()
        .map(refused)
}

/// The action check; a refusal is logged (someone tried).
fn action_refusal(req: &HttpRequest, state: &AdminState, action: &str) -> Option<HttpResponse> {
    let h = req.headers();
    let verdict = state.console.access().check_action(
        header(h, header::AUTHORIZATION),
        header(h, header::ORIGIN),
        header(h, header::HOST),
    );
    let refusal = verdict.err()?;
    let peer = req.peer_addr().map(|p| p.to_string()).unwrap_or_default();
    warn!(state.log, "console action refused"; "action" => action, "peer" => peer,
        "reason" => refusal.text().trim_end());
    Some(refused(refusal))
}

async fn metrics(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(refusal) = read_refusal(&req, &state) {
        return refusal;
    }
    // `wants_openmetrics` reads a request head: give it the Accept lines.
    let accept: String = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .map(|v| format!("Accept: {v}\r\n"))
        .collect();
    let m = state.console.metrics();
    if exposition::wants_openmetrics(&accept) {
        text(
            StatusCode::OK,
            exposition::OPENMETRICS_TEXT,
            m.encode_openmetrics(),
        )
    } else {
        text(StatusCode::OK, exposition::PROMETHEUS_TEXT, m.encode())
    }
}

/// A plain answer, its header names written `Content-Type` as the hand-written
/// responder did (names are case-insensitive, but scripts grep for them).
fn text(status: StatusCode, ctype: &'static str, body: String) -> HttpResponse {
    let mut answer = HttpResponse::build(status).content_type(ctype).body(body);
    answer.head_mut().set_camel_case_headers(true);
    answer
}

/// `ok`, or `503` naming each handler down: a load balancer's check, never behind the
/// token.
async fn health(state: web::Data<AdminState>) -> HttpResponse {
    match state.console.metrics().down_handlers() {
        down if down.is_empty() => text(StatusCode::OK, "text/plain", "ok\n".to_owned()),
        down => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            down.iter()
                .map(|(name, why)| {
                    format!("degraded: handler `{name}` down: {why}; a reload restarts it\n")
                })
                .collect(),
        ),
    }
}

async fn not_found() -> HttpResponse {
    text(
        StatusCode::NOT_FOUND,
        "text/plain",
        "not found: try /, /api/status, /metrics or /health\n".to_owned(),
    )
}

async fn page(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(refusal) = read_refusal(&req, &state) {
        return refusal;
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; connect-src 'self'; img-src 'self' data:; \
             style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(PAGE)
}

async fn status(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(refusal) = read_refusal(&req, &state) {
        return refusal;
    }
    let status = state.console.snapshot().await;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(status)
}

/// Server-sent events: `event: status` with the whole status as `data`, at once and
/// then whenever it changes (looked at every [`EVENT_PERIOD`]).
async fn events(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(refusal) = read_refusal(&req, &state) {
        return refusal;
    }
    let console = Arc::clone(&state.console);
    let stream = futures_util::stream::unfold(
        (console, String::new(), true),
        |(console, last, first)| async move {
            let mut idle = Duration::ZERO;
            if !first {
                tokio::time::sleep(EVENT_PERIOD).await;
            }
            loop {
                let status = console.recent_snapshot(EVENT_PERIOD / 2).await;
                let json = serde_json::to_string(&status).unwrap_or_default();
                if json != last {
                    let frame = Bytes::from(format!("event: status\ndata: {json}\n\n"));
                    return Some((Ok::<_, actix_web::Error>(frame), (console, json, false)));
                }
                if idle >= KEEPALIVE {
                    let frame = Bytes::from_static(b": keepalive\n\n");
                    return Some((Ok(frame), (console, last, false)));
                }
                tokio::time::sleep(EVENT_PERIOD).await;
                idle += EVENT_PERIOD;
            }
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream)
}

async fn reload(req: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(refusal) = action_refusal(&req, &state, "reload") {
        return refusal;
    }
    let peer = req.peer_addr().map(|p| p.to_string()).unwrap_or_default();
    info!(state.log, "console action"; "action" => "reload", "peer" => peer);
    match state.console.request_reload().await {
        Some(record) => {
            let code = match record.outcome {
                super::model::ReloadOutcome::Refused => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::OK,
            };
            HttpResponse::build(code).json(record)
        }
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "this host cannot reload from the console now\n".to_owned(),
        ),
    }
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AdminState>,
) -> HttpResponse {
    if let Some(refusal) = action_refusal(&req, &state, "cancel") {
        return refusal;
    }
    let (handler, id) = path.into_inner();
    let peer = req.peer_addr().map(|p| p.to_string()).unwrap_or_default();
    info!(state.log, "console action"; "action" => "cancel", "handler" => &handler,
        "session" => &id, "peer" => peer);
    if state.console.cancel(&handler, &id).await {
        HttpResponse::Ok().json(serde_json::json!({ "cancelled": true }))
    } else {
        text(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("no session `{id}` in handler `{handler}` (ended already?)\n"),
        )
    }
}
