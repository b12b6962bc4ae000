//! The HTTP API against the real server (`loupe serve` on an ephemeral loopback port) over a real
//! index of photos, a PDF with a text layer and a video, with the installed models. The client is
//! a plain HTTP client (ureq); nothing is mocked.

mod common;

use common::*;
use image::ImageFormat;
use serde_json::{Value, json};
use std::path::Path;

struct Resp {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.expect("HTTP request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .expect("body");
    Resp {
        status,
        headers,
        body,
    }
}

fn get(s: &LoupeServer, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = http_agent().get(s.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    finish(req.call())
}

fn post_json(s: &LoupeServer, path: &str, body: &Value) -> Resp {
    finish(
        http_agent()
            .post(s.url(path))
            .header("Content-Type", "application/json")
            .send(body.to_string()),
    )
}

fn search(s: &LoupeServer, body: Value) -> Value {
    let r = post_json(s, "/v1/search", &body);
    assert_eq!(r.status, 200, "{body}: {}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn names(resp: &Value) -> Vec<String> {
    hit_paths(resp).iter().map(|p| file_name(p).to_string()).collect()
}

/// multipart/form-data with a `request` part and an `image` part.
fn multipart(request: &Value, image: &[u8]) -> (String, Vec<u8>) {
    let boundary = "loupe-test-boundary-7d3f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"request\"\r\n\
             Content-Type: application/json\r\n\r\n{request}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(image);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `POST /v1/search` with a multipart body (see [`multipart`]) and extra headers.
fn post_multipart(s: &LoupeServer, request: &Value, image: &[u8], headers: &[(&str, &str)]) -> Resp {
    let (ctype, body) = multipart(request, image);
    let mut req = http_agent()
        .post(s.url("/v1/search"))
        .header("Content-Type", &ctype);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    finish(req.send(&body[..]))
}

/// Photos, a PDF with a text layer, a video with known cuts, and a link to a file outside the
/// library.
fn make_library(root: &Path) {
    write(
        &root.join("lib/photos/red_apple.jpg"),
        &encode(&disc(320, 240, RED, WHITE), ImageFormat::Jpeg),
    );
    write(
        &root.join("lib/photos/blue_sky.png"),
        &encode(&solid(200, 120, BLUE), ImageFormat::Png),
    );
    write(
        &root.join("lib/photos/lime.png"),
        &encode(&disc(160, 160, GREEN, WHITE), ImageFormat::Png),
    );
    write(
        &root.join("lib/docs/invoice.pdf"),
        &simple_pdf(&[
            "ACME Hardware Ltd",
            "Invoice 2231",
            "Invoice total 518 EUR",
            "Payment due in 30 days",
        ]),
    );
    make_video(
        &root.join("lib/videos/colours.mp4"),
        &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    );
    write(
        &root.join("outside/secret.png"),
        &encode(&solid(90, 90, YELLOW), ImageFormat::Png),
    );
    std::os::unix::fs::symlink(root.join("outside/secret.png"), root.join("lib/photos/link.png")).unwrap();
}

#[test]
fn api_searches_serves_media_and_runs_index_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, index) = (tmp.path().to_path_buf(), tmp.path().join("index"));
    make_library(&root);
    let lib = root.join("lib").canonicalize().unwrap();
    let report = loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");
    let s = LoupeServer::start(&index, &[], &[]);

    // Operational routes.
    let h = get(&s, "/healthz", &[]);
    assert_eq!((h.status, h.body.as_slice()), (200, &b"ok\n"[..]));
    let ready = get(&s, "/readyz", &[]).json();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["roots"], json!([lib.to_str().unwrap()]), "{ready}");
    assert!(ready["points"].as_u64().unwrap() > 5, "{ready}");

    // Text search: the colour model ranks the red photo first; hits carry URLs and signals run.
    let red = search(
        &s,
        json!({"text": "red", "limit": 3, "filters": {"kinds": ["image"]}}),
    );
    assert_eq!(names(&red)[0], "red_apple.jpg", "{red}");
    let hit = &red["hits"][0];
    let id = hit["asset"]["id"].as_str().unwrap().to_string();
    assert_eq!(hit["media_url"], format!("/v1/assets/{id}/media"));
    assert_eq!(hit["thumbnail_url"], format!("/v1/assets/{id}/thumbnail"));
    assert!(hit.get("signals").is_none(), "signals only with explain: {hit}");
    assert!(red["took_ms"].as_f64().unwrap() > 0.0);
    let ran: Vec<&str> = red["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signal"].as_str().unwrap())
        .collect();
    assert!(ran.contains(&"visual") && ran.contains(&"lexical"), "{ran:?}");
    let explained = search(
        &s,
        json!({"text": "red", "limit": 3, "explain": true, "filters": {"kinds": ["image"]}}),
    );
    assert_eq!(
        explained["hits"][0]["signals"][0]["signal"], "visual",
        "{explained}"
    );
    assert_eq!(explained["hits"][0]["signals"][0]["rank"], 1);

    // A page of a document: found by its words, with the words' boxes and a #page link.
    let inv = search(
        &s,
        json!({"text": "invoice total 518", "filters": {"kinds": ["document"]}}),
    );
    assert_eq!(names(&inv), vec!["invoice.pdf"], "{inv}");
    let page = &inv["hits"][0];
    assert_eq!(page["segment"]["locator"]["page"], 1);
    assert!(
        page["media_url"].as_str().unwrap().ends_with("/media#page=1"),
        "{page}"
    );
    let boxed: Vec<&str> = page["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert!(boxed.contains(&"518"), "{boxed:?}");
    let snippet = &page["snippet"];
    let (a, b) = (
        snippet["highlights"][0][0].as_u64().unwrap() as usize,
        snippet["highlights"][0][1].as_u64().unwrap() as usize,
    );
    assert!(
        ["invoice", "total", "518"]
            .contains(&snippet["text"].as_str().unwrap()[a..b].to_lowercase().as_str()),
        "{snippet}"
    );

    // Filters: duration keeps only the 8-second video; a path prefix only the photos.
    let long = search(
        &s,
        json!({"text": "red", "filters": {"duration_min_s": 5.0}, "group_by": "asset"}),
    );
    assert_eq!(names(&long), vec!["colours.mp4"], "{long}");
    let short = search(&s, json!({"text": "red", "filters": {"duration_max_s": 5.0}}));
    assert!(short["hits"].as_array().unwrap().is_empty(), "{short}");
    let photos = search(
        &s,
        json!({"text": "red", "filters": {"path_prefix": lib.join("photos")}, "limit": 50}),
    );
    assert!(
        hit_paths(&photos).iter().all(|p| p.contains("/photos/")),
        "{photos}"
    );

    // Cursor paging: two pages that do not overlap; a cursor is tied to its search.
    let first = search(&s, json!({"text": "blue", "limit": 2, "group_by": "asset"}));
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let second = search(
        &s,
        json!({"text": "blue", "limit": 2, "group_by": "asset", "cursor": cursor}),
    );
    let (p1, p2) = (names(&first), names(&second));
    assert!(
        !p2.is_empty() && p1.iter().all(|n| !p2.contains(n)),
        "{p1:?} {p2:?}"
    );
    let wrong = post_json(&s, "/v1/search", &json!({"text": "green", "cursor": cursor}));
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["code"], "bad_request");

    // Search by image: multipart upload, base64, and "find similar" on an indexed asset.
    let probe = encode(&disc(64, 64, RED, WHITE), ImageFormat::Png);
    let up = post_multipart(
        &s,
        &json!({"limit": 2, "filters": {"kinds": ["image"]}}),
        &probe,
        &[],
    );
    assert_eq!(up.status, 200, "{}", String::from_utf8_lossy(&up.body));
    assert_eq!(names(&up.json())[0], "red_apple.jpg");
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(encode(&solid(64, 64, BLUE), ImageFormat::Png))
    };
    let by_b64 = search(
        &s,
        json!({"image": {"type": "base64", "data": b64}, "limit": 1, "filters": {"kinds": ["image"]}}),
    );
    assert_eq!(names(&by_b64), vec!["blue_sky.png"]);
    let similar = search(&s, json!({"image": {"type": "asset", "id": id}, "limit": 1}));
    assert_eq!(names(&similar), vec!["red_apple.jpg"]);
    let not_image = post_json(
        &s,
        "/v1/search",
        &json!({"image": {"type": "base64", "data": "aGVsbG8="}}),
    );
    assert_eq!(
        (not_image.status, not_image.json()["code"].as_str()),
        (400, Some("bad_image"))
    );
    let by_path = post_json(
        &s,
        "/v1/search",
        &json!({"image": {"type": "path", "path": "/etc/passwd"}}),
    );
    assert_eq!(by_path.status, 400, "server-side paths are refused");

    // Bad requests get the one JSON error shape.
    for (body, code) in [
        (json!({"text": "red", "limit": 0}), "bad_request"),
        (
            json!({"text": "red", "filters": {"date_from": 10, "date_to": 5}}),
            "bad_request",
        ),
        (json!({}), "bad_request"),
        (json!({"text": 5}), "bad_request"),
    ] {
        let r = post_json(&s, "/v1/search", &body);
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some(code)), "{body}");
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let nf = get(&s, "/v1/nope", &[]);
    assert_eq!((nf.status, nf.json()["code"].as_str()), (404, Some("not_found")));

    // Assets, thumbnails, media with ranges.
    let detail = get(&s, &format!("/v1/assets/{id}"), &[]).json();
    assert_eq!(detail["asset"]["kind"], "image");
    assert_eq!(detail["media_url"], format!("/v1/assets/{id}/media"));
    let thumb = get(&s, &format!("/v1/assets/{id}/thumbnail"), &[]);
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type").as_deref(), Some("image/jpeg"));
    let t = image::load_from_memory(&thumb.body).unwrap();
    assert!(t.width() <= 320 && t.height() <= 320);
    let video = search(
        &s,
        json!({"text": "green", "filters": {"kinds": ["video"]}, "limit": 1}),
    );
    let vhit = &video["hits"][0];
    let vthumb = vhit["thumbnail_url"].as_str().unwrap();
    assert!(vthumb.contains("?segment="), "{vhit}");
    assert_eq!(get(&s, vthumb, &[]).status, 200);
    let vid = vhit["asset"]["id"].as_str().unwrap();
    let vdetail = get(&s, &format!("/v1/assets/{vid}"), &[]).json();
    assert!(vdetail["segments"].as_array().unwrap().len() >= 3, "{vdetail}");
    let size = vhit["asset"]["size"].as_u64().unwrap();
    let whole = get(&s, &format!("/v1/assets/{vid}/media"), &[]);
    assert_eq!((whole.status, whole.body.len() as u64), (200, size));
    assert_eq!(whole.header("content-type").as_deref(), Some("video/mp4"));
    let part = get(
        &s,
        &format!("/v1/assets/{vid}/media"),
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, whole.body[100..200]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{size}"))
    );
    let beyond = get(
        &s,
        &format!("/v1/assets/{vid}/media"),
        &[("Range", &format!("bytes={}-", size + 10))],
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(get(&s, "/v1/assets/xyz", &[]).status, 400);
    assert_eq!(
        get(&s, &format!("/v1/assets/{}", "0".repeat(64)), &[]).status,
        404
    );

    // A symbolic link that leads out of the library is indexed but never served.
    let yellow = search(
        &s,
        json!({"text": "yellow", "limit": 1, "filters": {"kinds": ["image"]}}),
    );
    assert_eq!(names(&yellow), vec!["link.png"], "{yellow}");
    let yid = yellow["hits"][0]["asset"]["id"].as_str().unwrap();
    let escaped = get(&s, &format!("/v1/assets/{yid}/media"), &[]);
    assert_eq!(
        (escaped.status, escaped.json()["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(get(&s, &format!("/v1/assets/{yid}/thumbnail"), &[]).status, 403);

    // Index jobs: a path outside the roots is refused; a new file inside is indexed while the
    // server keeps answering.
    let outside = post_json(&s, "/v1/index", &json!({"path": root.join("outside")}));
    assert_eq!(
        (outside.status, outside.json()["code"].as_str()),
        (403, Some("forbidden"))
    );
    let relative = post_json(&s, "/v1/index", &json!({"path": "lib"}));
    assert_eq!(relative.status, 400);
    write(
        &lib.join("new/black_cat.png"),
        &encode(&disc(100, 100, BLACK, WHITE), ImageFormat::Png),
    );
    let job = post_json(&s, "/v1/index", &json!({"path": lib}));
    assert_eq!(job.status, 202, "{}", String::from_utf8_lossy(&job.body));
    let job_id = job.json()["id"].as_str().unwrap().to_string();
    let mut state = Value::Null;
    for _ in 0..600 {
        state = get(&s, &format!("/v1/jobs/{job_id}"), &[]).json();
        // Searches keep working during the job.
        search(&s, json!({"text": "red", "limit": 1}));
        if state["state"] == "done" || state["state"] == "failed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["report"]["indexed"], 1, "{state}");
    let black = search(
        &s,
        json!({"text": "black", "limit": 1, "filters": {"kinds": ["image"]}}),
    );
    assert_eq!(names(&black), vec!["black_cat.png"]);
    assert_eq!(get(&s, "/v1/jobs/job-999", &[]).status, 404);

    // Metrics per route and per signal; the OpenAPI document is the checked-in one.
    let m = String::from_utf8(get(&s, "/metrics", &[]).body).unwrap();
    assert!(
        m.contains("loupe_http_requests_total{route=\"/v1/search\",method=\"POST\",status=\"200\"}"),
        "{m}"
    );
    assert!(m.contains("loupe_search_signal_duration_seconds_bucket{signal=\"visual\",le=\"+Inf\"}"));
    assert!(m.contains("loupe_process_resident_bytes"));
    let doc = get(&s, "/openapi.json", &[]);
    let checked_in: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json")).unwrap(),
    )
    .unwrap();
    assert!(
        doc.json() == checked_in,
        "GET /openapi.json differs from schemas/openapi.json"
    );
    // CORS is off by default.
    let page = get(&s, "/", &[("Origin", "http://evil.example")]);
    assert_eq!(page.status, 200);
    assert!(page.header("access-control-allow-origin").is_none());
    assert!(String::from_utf8_lossy(&page.body).contains("<title>Loupe</title>"));
}

#[test]
fn api_key_limits_and_bind_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, index) = (tmp.path().join("lib"), tmp.path().join("index"));
    write(
        &lib.join("red.png"),
        &encode(&disc(100, 100, RED, WHITE), ImageFormat::Png),
    );
    loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );

    // A non-loopback bind without a key is refused before anything listens.
    let refused = loupe(&index, &["serve", "--port", "0", "--bind", "0.0.0.0"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needs an API key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let config = tmp.path().join("server.toml");
    std::fs::write(
        &config,
        "max_upload_bytes = 100000\ncors_origins = [\"http://app.example\"]\n",
    )
    .unwrap();
    let key = "test-key-0123456789abcdef";
    let s = LoupeServer::start(
        &index,
        &["--config", config.to_str().unwrap()],
        &[("LOUPE_API_KEY", key), ("LOUPE_LOG_FORMAT", "json")],
    );
    let bearer = format!("Bearer {key}");
    let no = get(&s, "/v1/status", &[]);
    assert_eq!(
        (no.status, no.json()["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(no.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(
        get(
            &s,
            "/v1/status",
            &[("Authorization", "Bearer wrong-key-0123456789ab")]
        )
        .status,
        401
    );
    assert_eq!(get(&s, "/v1/status", &[("Authorization", &bearer)]).status, 200);
    assert_eq!(
        get(&s, &format!("/v1/status?access_token={key}"), &[]).status,
        200
    );
    assert_eq!(get(&s, "/metrics", &[]).status, 401);
    assert_eq!(get(&s, "/healthz", &[]).status, 200);
    assert_eq!(get(&s, "/readyz", &[]).status, 200);

    // Uploads above the configured limit: 413 with the JSON error shape.
    let big = vec![b'x'; 200_000];
    let r = post_multipart(&s, &json!({"limit": 1}), &big, &[("Authorization", &bearer)]);
    assert_eq!((r.status, r.json()["code"].as_str()), (413, Some("too_large")));
    // A decompression bomb within the byte limit is refused by the decoder's pixel limit.
    let bomb = png_bomb(30_000, 30_000);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let r = post_multipart(&s, &json!({"limit": 1}), &bomb, &[("Authorization", &bearer)]);
    assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("bad_image")));

    // CORS only for the listed origin.
    let allowed = get(
        &s,
        "/v1/status",
        &[("Origin", "http://app.example"), ("Authorization", &bearer)],
    );
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("http://app.example")
    );
    let other = get(
        &s,
        "/v1/status",
        &[("Origin", "http://evil.example"), ("Authorization", &bearer)],
    );
    assert!(other.header("access-control-allow-origin").is_none());

    // Structured logs: one JSON object per request, with the route template and the status.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let logged: Vec<Value> = s
        .log_tail()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .collect();
    assert!(
        logged
            .iter()
            .any(|v| v["fields"]["route"] == "/v1/status" && v["fields"]["status"] == 401),
        "{}",
        s.log_tail()
    );
}

/// `clients` threads each sending `rounds` text searches; counts (answered, refused as
/// overloaded, anything else).
fn burst(s: &LoupeServer, clients: usize, rounds: usize) -> (usize, usize, usize) {
    let words = [
        "red",
        "green",
        "blue",
        "yellow",
        "black",
        "white",
        "red flower",
        "sky",
    ];
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let url = s.url("/v1/search");
            std::thread::spawn(move || {
                let (mut ok, mut busy, mut other) = (0, 0, 0);
                for i in 0..rounds {
                    let body = json!({"text": words[(t + i) % words.len()], "limit": 5});
                    let r = finish(
                        http_agent()
                            .post(&url)
                            .header("Content-Type", "application/json")
                            .send(body.to_string()),
                    );
                    match r.status {
                        200 => ok += 1,
                        503 if r.json()["code"] == "overloaded" => busy += 1,
                        _ => other += 1,
                    }
                }
                (ok, busy, other)
            })
        })
        .collect();
    handles.into_iter().fold((0, 0, 0), |acc, h| {
        let (a, b, c) = h.join().unwrap();
        (acc.0 + a, acc.1 + b, acc.2 + c)
    })
}

fn metric(s: &LoupeServer, name: &str) -> f64 {
    let m = String::from_utf8(get(s, "/metrics", &[]).body).unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

#[test]
fn load_is_bounded_and_shutdown_is_graceful() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, index) = (tmp.path().join("lib"), tmp.path().join("index"));
    for (i, c) in [RED, GREEN, BLUE, YELLOW, BLACK, WHITE].iter().enumerate() {
        write(
            &lib.join(format!("p{i}.png")),
            &encode(&disc(120, 90, *c, WHITE), ImageFormat::Png),
        );
    }
    loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );

    // Default settings, eight clients in a closed loop: every request answered, memory flat.
    let s = LoupeServer::start(&index, &[], &[]);
    let (ok, busy, other) = burst(&s, 8, 25);
    assert_eq!((ok, busy, other), (200, 0, 0), "warm-up");
    let before = metric(&s, "loupe_process_resident_bytes");
    let started = std::time::Instant::now();
    let (ok, busy, other) = burst(&s, 8, 100);
    let secs = started.elapsed().as_secs_f64();
    let after = metric(&s, "loupe_process_resident_bytes");
    eprintln!(
        "load: {ok} answered in {secs:.1} s ({:.0} requests/s, debug build); RSS {:.1} -> {:.1} MiB",
        ok as f64 / secs,
        before / 1048576.0,
        after / 1048576.0
    );
    assert_eq!((ok, busy, other), (800, 0, 0), "no errors under steady load");
    assert!(
        after < before + 64.0 * 1024.0 * 1024.0,
        "memory grew under steady load: {before} -> {after}"
    );
    assert_eq!(metric(&s, "loupe_search_rejected_total"), 0.0);

    // One search at a time and none waiting: a burst is refused cleanly (503 overloaded), counted,
    // and the server answers normally afterwards.
    let config = tmp.path().join("tight.toml");
    std::fs::write(&config, "model_concurrency = 1\nmax_queued = 0\n").unwrap();
    drop(s);
    let tight = LoupeServer::start(&index, &["--config", config.to_str().unwrap()], &[]);
    let (ok, busy, other) = burst(&tight, 8, 10);
    eprintln!("overload: {ok} answered, {busy} refused");
    assert_eq!(other, 0, "only answers and clean 503s: {}", tight.log_tail());
    assert!(ok > 0 && busy > 0, "{ok} {busy}");
    assert_eq!(metric(&tight, "loupe_search_rejected_total") as usize, busy);
    assert_eq!(burst(&tight, 1, 5), (5, 0, 0));

    // SIGTERM: the server stops accepting and exits cleanly.
    let mut s = tight;
    let pid = s.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut code = None;
    for _ in 0..300 {
        if let Some(st) = s.child.try_wait().unwrap() {
            code = Some(st);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let code = code.expect("the server exits after SIGTERM");
    assert!(code.success(), "{code:?}: {}", s.log_tail());
}
