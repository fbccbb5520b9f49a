//! A small client of the Chrome DevTools protocol: headless Chromium started on a
//! temp profile, one page driven over its websocket (navigate, evaluate, screenshot).
//!
//! Why this and not a crate that wraps the protocol (`chromiumoxide`,
//! `headless_chrome`): the console test needs four commands; a websocket
//! (`tungstenite`, synchronous) and JSON do them in a page of code, with no async
//! runtime and nothing that downloads a browser (docs/decisions/operator-console.md).
//!
//! The browser is Debian's `chromium` (installed by `.ci/run`), found as
//! `$SWITCHYARD_CHROMIUM`, else `chromium` or `chromium-browser` on `PATH`. A test
//! that cannot find it fails: it never passes by skipping.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long the browser may take to start and each command to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium executable, or a panic saying how to get one.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SWITCHYARD_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no Chromium found (the console's browser test needs it): `apt-get install chromium` \
         (.ci/run does), or set SWITCHYARD_CHROMIUM to its path"
    )
}

/// The browser's processes, killed as a group when dropped: also when a test panics
/// while it starts (renderers and helpers are in the group too).
struct Processes(Child);

impl Drop for Processes {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium and one page of it; killed on drop.
pub struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// After `ws`: the socket closes before the browser is killed.
    _processes: Processes,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

impl Browser {
    /// Start Chromium with a `width` x `height` window and attach to its first page.
    pub fn start(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chromium())
            .args([
                "--headless",
                // As root (CI), Chromium refuses to start sandboxed.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
                &format!("--window-size={width},{height}"),
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
        let mut processes = Processes(child);
        let port = devtools_port(&mut processes.0);
        let page_ws = page_websocket(port);
        let (ws, _) = tungstenite::connect(page_ws.as_str()).expect("connect to the page");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(TIMEOUT)).unwrap();
        }
        Browser {
            ws,
            _processes: processes,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Send `method` with `params`; its `result` (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("send a DevTools command");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer");
            let answer = match self.ws.read().expect("read from DevTools") {
                Message::Text(t) => serde_json::from_str::<Value>(t.as_str()).unwrap(),
                _ => continue,
            };
            if answer["id"] != id {
                continue;
            }
            if let Some(err) = answer.get("error") {
                panic!("{method}: {err}");
            }
            return answer["result"].clone();
        }
    }

    /// Open `url` in the page.
    pub fn navigate(&mut self, url: &str) {
        let r = self.call("Page.navigate", json!({ "url": url }));
        assert!(r.get("errorText").is_none(), "navigate {url}: {r}");
    }

    /// The value of JavaScript `expression` (awaited if a promise), as JSON.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The rendered text of the element matched by CSS `selector` ("" if none).
    pub fn text(&mut self, selector: &str) -> String {
        let expr = format!(
            "(document.querySelector({}) || {{innerText: ''}}).innerText",
            Value::from(selector)
        );
        self.eval(&expr).as_str().unwrap_or("").to_owned()
    }

    /// Poll `probe` every 100 ms until it gives `Some`, for at most `timeout`.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut(&mut Browser) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen in {timeout:?}; the page says:\n{}",
                self.text("body")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the whole page, written to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            r["data"].as_str().expect("screenshot data"),
        )
        .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Then the fields drop: `_processes` kills the whole browser.
        let _ = self.ws.close(None);
    }
}

/// The port of `DevTools listening on ws://127.0.0.1:PORT/...`, read from stderr.
fn devtools_port(child: &mut Child) -> u16 {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                let port = rest.split('/').next().and_then(|p| p.parse::<u16>().ok());
                let _ = tx.send(port.ok_or(line.clone()));
            }
            seen.push(line);
        }
        let _ = tx.send(Err(seen.join("\n")));
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(Ok(port)) => port,
        Ok(Err(text)) => panic!("Chromium did not say where DevTools listen:\n{text}"),
        Err(_) => panic!("Chromium did not start in {TIMEOUT:?}"),
    }
}

/// The websocket URL of the browser's first page (`/json/list`).
fn page_websocket(port: u16) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let answer = crate::admin_http::get(addr, "/json/list");
        if answer.status == 200 {
            let list = answer.json();
            let page = list
                .as_array()
                .and_then(|l| l.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str());
            if let Some(url) = page {
                return url.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no page target: {}", answer.body);
        std::thread::sleep(Duration::from_millis(100));
    }
}
