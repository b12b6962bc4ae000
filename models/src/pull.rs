//! `loupe models pull`: install a known model from its publisher or from a local folder.
//!
//! Files are written to a staging folder, checked, then moved into place in one rename, so an
//! interrupted pull never leaves a half model that looks installed. Integrity: a file with a pinned
//! sha256 must match it; otherwise, for files stored in Git LFS, the hub's `X-Linked-Etag` header (the
//! LFS object's sha256) must match. Small config files that have neither are hashed into the manifest.

use crate::store::{ModelStore, write_manifest};
use crate::{Error, Result};
use loupe_schemas::{ModelManifest, ModelRole};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One file of a known model.
#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    /// Hugging Face repository, e.g. `Qdrant/clip-ViT-B-32-vision`.
    pub repo: &'static str,
    /// Path inside the repository.
    pub path: &'static str,
    /// Path inside the model folder.
    pub dest: &'static str,
    /// Pinned sha256 where known.
    pub sha256: Option<&'static str>,
}

/// A model `loupe models pull` knows how to fetch.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    pub name: &'static str,
    pub role: ModelRole,
    pub licence: &'static str,
    pub dim: usize,
    /// Git revision of every repository the files come from.
    pub revision: &'static str,
    pub files: &'static [RemoteFile],
    pub about: &'static str,
}

const CLIP_VIT_B_32: &[RemoteFile] = &[
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-vision",
        path: "model.onnx",
        dest: "vision/model.onnx",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-vision",
        path: "preprocessor_config.json",
        dest: "vision/preprocessor_config.json",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-vision",
        path: "config.json",
        dest: "vision/config.json",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-text",
        path: "model.onnx",
        dest: "text/model.onnx",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-text",
        path: "tokenizer.json",
        dest: "text/tokenizer.json",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-text",
        path: "tokenizer_config.json",
        dest: "text/tokenizer_config.json",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-text",
        path: "special_tokens_map.json",
        dest: "text/special_tokens_map.json",
        sha256: None,
    },
    RemoteFile {
        repo: "Qdrant/clip-ViT-B-32-text",
        path: "config.json",
        dest: "text/config.json",
        sha256: None,
    },
];

const SMOLVLM_500M: &[RemoteFile] = &[
    RemoteFile {
        repo: "ggml-org/SmolVLM-500M-Instruct-GGUF",
        path: "SmolVLM-500M-Instruct-Q8_0.gguf",
        dest: "model.gguf",
        sha256: None,
    },
    RemoteFile {
        repo: "ggml-org/SmolVLM-500M-Instruct-GGUF",
        path: "mmproj-SmolVLM-500M-Instruct-Q8_0.gguf",
        dest: "mmproj.gguf",
        sha256: None,
    },
];

const QWEN25_05B: &[RemoteFile] = &[RemoteFile {
    repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
    path: "qwen2.5-0.5b-instruct-q4_k_m.gguf",
    dest: "model.gguf",
    sha256: None,
}];

/// The models `pull` knows.
pub const KNOWN: &[KnownModel] = &[
    KnownModel {
        name: "clip-vit-b-32",
        role: ModelRole::Clip,
        licence: "MIT (OpenAI CLIP)",
        dim: 512,
        revision: "main",
        files: CLIP_VIT_B_32,
        about: "OpenAI CLIP ViT-B/32 as ONNX (Qdrant's fastembed export), 512-d, cosine",
    },
    KnownModel {
        name: "smolvlm-500m-instruct",
        role: ModelRole::Vlm,
        licence: "Apache-2.0",
        dim: 0,
        revision: "main",
        files: SMOLVLM_500M,
        about: "SmolVLM-500M-Instruct GGUF Q8_0 with its vision projector (llama.cpp), for the local answerer",
    },
    KnownModel {
        name: "qwen2.5-0.5b-instruct",
        role: ModelRole::Llm,
        licence: "Apache-2.0",
        dim: 0,
        revision: "main",
        files: QWEN25_05B,
        about: "Qwen2.5-0.5B-Instruct GGUF Q4_K_M (text only, llama.cpp), for the local answerer",
    },
];

pub fn known(name: &str) -> Result<&'static KnownModel> {
    KNOWN
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::ModelMissing {
            name: name.to_string(),
            dir: PathBuf::from("(pull catalogue)"),
            installed: KNOWN.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
            hint: "pull knows only the models listed".into(),
        })
}

/// Progress callback: (file, bytes so far, total if known).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, Option<u64>);

/// Fetches a known model over HTTP from `endpoint` (default `https://huggingface.co`).
pub fn pull_http(
    store: &ModelStore,
    model: &KnownModel,
    endpoint: &str,
    revision: Option<&str>,
    progress: Progress<'_>,
) -> Result<ModelManifest> {
    let revision = revision.unwrap_or(model.revision);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .build()
        .into();
    let staging = staging_dir(store, model.name)?;
    for f in model.files {
        let url = format!(
            "{}/{}/resolve/{}/{}",
            endpoint.trim_end_matches('/'),
            f.repo,
            revision,
            f.path
        );
        let dest = staging.join(f.dest);
        download(&agent, &url, &dest, f.sha256, progress)?;
    }
    let source = format!("{} @ {revision} via {endpoint}", unique_repos(model).join(" + "));
    finish(store, model, &staging, source)
}

/// Installs a known model from a local folder (air-gapped sites). The folder may hold the model
/// folder layout (`vision/model.onnx`, ...) or one sub-folder per repository
/// (`clip-ViT-B-32-vision/model.onnx`, ...), as a `git clone` of each repository gives.
pub fn install_from_dir(store: &ModelStore, model: &KnownModel, src: &Path) -> Result<ModelManifest> {
    let staging = staging_dir(store, model.name)?;
    for f in model.files {
        let repo_dir = f.repo.rsplit('/').next().unwrap_or(f.repo);
        let candidates = [src.join(f.dest), src.join(repo_dir).join(f.path)];
        let from = candidates
            .iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::BadModel {
                path: src.to_path_buf(),
                reason: format!(
                    "missing {} (looked for {} and {})",
                    f.dest,
                    candidates[0].display(),
                    candidates[1].display()
                ),
            })?;
        let dest = staging.join(f.dest);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        std::fs::copy(from, &dest).map_err(|e| Error::io(format!("copying {}", from.display()), e))?;
        if let Some(expected) = f.sha256 {
            check(&dest, expected, &crate::sha256_file(&dest)?)?;
        }
    }
    finish(
        store,
        model,
        &staging,
        format!("{} (from {})", unique_repos(model).join(" + "), src.display()),
    )
}

fn unique_repos(model: &KnownModel) -> Vec<&'static str> {
    let mut repos: Vec<&str> = model.files.iter().map(|f| f.repo).collect();
    repos.dedup();
    repos
}

fn staging_dir(store: &ModelStore, name: &str) -> Result<PathBuf> {
    let staging = store.root().join(format!(".partial-{name}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .map_err(|e| Error::io(format!("clearing {}", staging.display()), e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(format!("creating {}", staging.display()), e))?;
    Ok(staging)
}

fn finish(store: &ModelStore, model: &KnownModel, staging: &Path, source: String) -> Result<ModelManifest> {
    let files: Vec<String> = model.files.iter().map(|f| f.dest.to_string()).collect();
    let manifest = write_manifest(
        staging,
        ModelManifest {
            name: model.name.to_string(),
            role: model.role,
            source,
            licence: model.licence.to_string(),
            dim: model.dim,
            test_only: false,
            files: vec![],
        },
        &files,
    )?;
    let dest = store.model_dir(model.name);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(|e| Error::io(format!("replacing {}", dest.display()), e))?;
    }
    std::fs::rename(staging, &dest).map_err(|e| Error::io(format!("installing {}", dest.display()), e))?;
    Ok(manifest)
}

fn check(path: &Path, expected: &str, actual: &str) -> Result<()> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(Error::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// Joins a `Location` header onto the URL it came from.
fn resolve_location(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        format!("{}{}", &base[..host_end], location)
    } else {
        let dir_end = base.rfind('/').filter(|&i| i >= host_end).unwrap_or(host_end);
        format!("{}/{}", &base[..dir_end], location)
    }
}

fn lfs_sha(resp: &ureq::http::Response<ureq::Body>) -> Option<String> {
    let v = resp.headers().get("x-linked-etag")?.to_str().ok()?;
    let v = v.trim().trim_start_matches("W/").trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

fn download(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    pinned: Option<&str>,
    progress: Progress<'_>,
) -> Result<()> {
    let dl_err = |reason: String| Error::Download {
        url: url.to_string(),
        reason,
    };
    let mut current = url.to_string();
    let mut linked: Option<String> = None;
    let mut resp = None;
    for _ in 0..10 {
        let r = agent.get(&current).call().map_err(|e| dl_err(e.to_string()))?;
        let status = r.status().as_u16();
        if linked.is_none() {
            linked = lfs_sha(&r);
        }
        if (300..400).contains(&status) {
            let loc = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| dl_err(format!("HTTP {status} without Location")))?;
            current = resolve_location(&current, loc);
            continue;
        }
        if status != 200 {
            return Err(dl_err(format!("HTTP {status}")));
        }
        resp = Some(r);
        break;
    }
    let mut resp = resp.ok_or_else(|| dl_err("too many redirects".into()))?;
    let total = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    }
    let mut out =
        std::fs::File::create(dest).map_err(|e| Error::io(format!("creating {}", dest.display()), e))?;
    let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_string();
    loop {
        let n = reader.read(&mut buf).map_err(|e| dl_err(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(format!("writing {}", dest.display()), e))?;
        done += n as u64;
        progress(&name, done, total);
    }
    out.sync_all()
        .map_err(|e| Error::io(format!("syncing {}", dest.display()), e))?;
    if let Some(t) = total.filter(|&t| t != done) {
        return Err(dl_err(format!("truncated: got {done} of {t} bytes")));
    }
    let actual = hex::encode(hasher.finalize());
    if let Some(expected) = pinned.map(str::to_string).or(linked) {
        check(dest, &expected, &actual)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve() {
        assert_eq!(resolve_location("http://h:1/a/b/c", "/x/y"), "http://h:1/x/y");
        assert_eq!(resolve_location("http://h:1/a/b/c", "d"), "http://h:1/a/b/d");
        assert_eq!(resolve_location("http://h/a", "https://cdn/z"), "https://cdn/z");
    }

    #[test]
    fn unknown_model_is_clear() {
        let e = known("nope").unwrap_err().to_string();
        assert!(e.contains("clip-vit-b-32"), "{e}");
    }

    #[test]
    fn from_dir_reports_missing_files_and_installs_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ModelStore::new(tmp.path().join("models"));
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("vision")).unwrap();
        std::fs::write(src.join("vision/model.onnx"), b"x").unwrap();
        let err = install_from_dir(&store, known("clip-vit-b-32").unwrap(), &src).unwrap_err();
        assert!(err.to_string().contains("preprocessor_config.json"), "{err}");
        assert!(store.list().unwrap().is_empty());
    }
}
