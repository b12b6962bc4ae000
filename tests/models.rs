//! End to end: `loupe models list / pull / verify`, and an index refusing a different model.
//! `pull` runs against a real HTTP server on loopback that answers like the Hugging Face hub
//! (302 to a CDN path, `X-Linked-Etag` with the LFS sha256), serving the generated test model's
//! files under the real repository names.

mod common;

use common::*;
use image::ImageFormat;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

const FILES: &[(&str, &str, &str)] = &[
    ("Qdrant/clip-ViT-B-32-vision", "model.onnx", "vision/model.onnx"),
    (
        "Qdrant/clip-ViT-B-32-vision",
        "preprocessor_config.json",
        "vision/preprocessor_config.json",
    ),
    ("Qdrant/clip-ViT-B-32-vision", "config.json", "vision/config.json"),
    ("Qdrant/clip-ViT-B-32-text", "model.onnx", "text/model.onnx"),
    (
        "Qdrant/clip-ViT-B-32-text",
        "tokenizer.json",
        "text/tokenizer.json",
    ),
    (
        "Qdrant/clip-ViT-B-32-text",
        "tokenizer_config.json",
        "text/tokenizer_config.json",
    ),
    (
        "Qdrant/clip-ViT-B-32-text",
        "special_tokens_map.json",
        "text/special_tokens_map.json",
    ),
    ("Qdrant/clip-ViT-B-32-text", "config.json", "text/config.json"),
];

fn sha256_hex(bytes: &[u8]) -> String {
    // Shell out to coreutils so the test does not trust the code under test.
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), bytes).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(tmp.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A hub look-alike. `corrupt_etag` makes it announce a wrong sha256 for the vision model.
fn serve_hub(src: PathBuf, corrupt_etag: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let response: Vec<u8> = if let Some(rest) = path.strip_prefix("/cdn/") {
                match FILES.iter().find(|(_, _, dest)| rest == dest.replace('/', "_")) {
                    Some((_, _, dest)) => {
                        let body = std::fs::read(src.join(dest)).unwrap();
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                    }
                }
            } else {
                match FILES
                    .iter()
                    .find(|(repo, file, _)| path == format!("/{repo}/resolve/main/{file}"))
                {
                    Some((_, file, dest)) => {
                        let body = std::fs::read(src.join(dest)).unwrap();
                        // Like the hub: only LFS files (the ONNX weights) carry X-Linked-Etag.
                        let etag = if file.ends_with(".onnx") {
                            let sha = if corrupt_etag && dest.starts_with("vision") {
                                "0".repeat(64)
                            } else {
                                sha256_hex(&body)
                            };
                            format!("X-Linked-Etag: \"{sha}\"\r\n")
                        } else {
                            String::new()
                        };
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: /cdn/{}\r\n{etag}Content-Length: 0\r\nConnection: close\r\n\r\n",
                            dest.replace('/', "_")
                        )
                        .into_bytes()
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                    }
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{addr}")
}

fn loupe_models(models: &Path, args: &[&str]) -> std::process::Output {
    loupe_with_models(Path::new("/nonexistent-index"), models, args)
}

#[test]
fn pull_over_http_checks_sha256_and_installs_atomically() {
    let src = models_dir().join("tiny-clip-colour");
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");

    // A hub that lies about a file's sha256: refused, nothing installed.
    let bad = serve_hub(src.clone(), true);
    let out = loupe_models(&models, &["models", "pull", "clip-vit-b-32", "--endpoint", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!models.join("clip-vit-b-32").exists());

    let good = serve_hub(src.clone(), false);
    let out = loupe_models(
        &models,
        &["--json", "models", "pull", "clip-vit-b-32", "--endpoint", &good],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["name"], "clip-vit-b-32");
    assert_eq!(manifest["files"].as_array().unwrap().len(), FILES.len());
    let onnx = std::fs::read(src.join("vision/model.onnx")).unwrap();
    let entry = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "vision/model.onnx")
        .unwrap();
    assert_eq!(entry["sha256"], sha256_hex(&onnx));

    let out = loupe_models(&models, &["models", "verify", "clip-vit-b-32"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A file changed on disk afterwards is caught.
    std::fs::write(models.join("clip-vit-b-32/text/config.json"), b"{}").unwrap();
    let out = loupe_models(&models, &["models", "verify", "clip-vit-b-32"]);
    assert!(!out.status.success());
}

#[test]
fn pull_from_a_local_folder_and_list() {
    let src = models_dir().join("tiny-clip-colour");
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    // Lay the files out as two repository clones, as an air-gapped site would copy them.
    let offline = tmp.path().join("offline");
    for (repo, file, dest) in FILES {
        let repo_dir = repo.rsplit('/').next().unwrap();
        write(
            &offline.join(repo_dir).join(file),
            &std::fs::read(src.join(dest)).unwrap(),
        );
    }
    let out = loupe_models(
        &models,
        &[
            "models",
            "pull",
            "clip-vit-b-32",
            "--from",
            offline.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = loupe_models(&models, &["--json", "models", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> = v["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["clip-vit-b-32"]);
    assert_eq!(v["installed"][0]["licence"], "MIT (OpenAI CLIP)");

    let out = loupe_models(
        &models,
        &[
            "models",
            "pull",
            "no-such-model",
            "--from",
            offline.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
}

#[test]
fn setup_manifest_verifies_and_list_shows_the_test_model() {
    let out = loupe_models(&models_dir(), &["models", "verify", "tiny-clip-colour"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = loupe_models(&models_dir(), &["models", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tiny-clip-colour") && text.contains("generated test model"),
        "{text}"
    );
    assert!(text.contains("libonnxruntime"), "{text}");
}

#[test]
fn an_index_refuses_a_different_model() {
    let tmp = tempfile::tempdir().unwrap();
    // Two models with the same files but one config changed: different fingerprints.
    let models = tmp.path().join("models");
    let src = models_dir().join("tiny-clip-colour");
    let copy = tmp.path().join("copy");
    for (_, _, dest) in FILES {
        write(&copy.join(dest), &std::fs::read(src.join(dest)).unwrap());
    }
    std::fs::create_dir_all(models.join("runtime")).unwrap();
    for e in std::fs::read_dir(models_dir().join("runtime")).unwrap() {
        let p = e.unwrap().path();
        std::os::unix::fs::symlink(&p, models.join("runtime").join(p.file_name().unwrap())).unwrap();
    }
    let add = |name: &str| {
        let out = loupe_models(
            &models,
            &[
                "models",
                "add",
                copy.to_str().unwrap(),
                "--name",
                name,
                "--source",
                "test",
                "--licence",
                "test",
                "--dim",
                "512",
            ],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    add("model-a");
    std::fs::write(copy.join("vision/config.json"), b"{\"changed\": true}").unwrap();
    add("model-b");

    let lib = tmp.path().join("lib");
    write(&lib.join("r.png"), &encode(&solid(16, 16, RED), ImageFormat::Png));
    let idx = tmp.path().join("index");
    let ok = loupe_with_models(
        &idx,
        &models,
        &["index", lib.to_str().unwrap(), "--model", "model-a"],
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let out = loupe_with_models(
        &idx,
        &models,
        &["--json", "index", lib.to_str().unwrap(), "--model", "model-b"],
    );
    assert!(!out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["code"], "model_mismatch", "{body}");

    // The model that built the index changes under it (re-pulled, edited): queries are refused.
    add("model-a");
    let out = loupe_with_models(&idx, &models, &["--json", "search", "red"]);
    assert!(!out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["code"], "model_mismatch", "{body}");
}

/// The tokenizer scripts/setup builds from the real CLIP merges gives CLIP's ids. (Moved here from
/// loupe-models' unit tests: it needs the installed test model, and library crates read no
/// environment to find it.)
#[test]
fn clip_tokenizer_matches_openai_ids() {
    use loupe_models::ClipTokenizer;
    use loupe_models::clip::CONTEXT_LENGTH;
    let dir = models_dir().join("tiny-clip-colour/text");
    let t = ClipTokenizer::load(&dir).unwrap();
    assert_eq!(
        t.encode("a photo of a cat").unwrap(),
        vec![49406, 320, 1125, 539, 320, 2368, 49407]
    );
    assert_eq!(t.encode("Red CAR!!").unwrap(), vec![49406, 736, 1615, 748, 49407]);
    let long = "word ".repeat(200);
    let ids = t.encode(&long).unwrap();
    assert_eq!(ids.len(), CONTEXT_LENGTH);
    assert_eq!(ids[0], 49406);
    assert_eq!(ids[CONTEXT_LENGTH - 1], 49407);
    let (ids, mask) = t.batch(&["red", "a photo of a cat"]).unwrap();
    assert_eq!(ids.shape(), &[2, 7]);
    assert_eq!(mask.row(0).sum(), 3);
    assert_eq!(ids[[0, 5]], 49407, "padding is the end token");
}
