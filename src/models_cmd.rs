//! `loupe models ...`

use crate::config::Config;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use loupe_models::pull;
use loupe_schemas::{ModelManifest, ModelRole};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Installed models with source, licence and size.
    List,
    /// Install a known model from Hugging Face (sha256-checked) or from a local folder.
    Pull {
        /// Model name (see `loupe models list` for what pull knows).
        name: String,
        /// Install from this folder instead of the network (air-gapped sites).
        #[arg(long)]
        from: Option<PathBuf>,
        /// Hub address.
        #[arg(long, env = "HF_ENDPOINT", default_value = "https://huggingface.co")]
        endpoint: String,
        /// Repository revision (default: the one Loupe pins).
        #[arg(long)]
        revision: Option<String>,
    },
    /// Re-hash a model's files against its manifest.
    Verify { name: String },
    /// Add a CLIP pair you exported yourself (a folder with `vision/` and `text/` in the layout of
    /// Qdrant's clip-ViT-B-32 ONNX repositories).
    Add {
        dir: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        source: String,
        #[arg(long)]
        licence: String,
        #[arg(long)]
        dim: usize,
        /// Mark it as a generated test model.
        #[arg(long)]
        test_only: bool,
    },
}

pub fn run(config: &Config, cmd: ModelsCommand, json: bool) -> Result<()> {
    match cmd {
        ModelsCommand::List => list(config, json),
        ModelsCommand::Pull {
            name,
            from,
            endpoint,
            revision,
        } => {
            let model = pull::known(&name)?;
            std::fs::create_dir_all(config.models_dir())
                .with_context(|| format!("creating {}", config.models_dir().display()))?;
            let manifest = match from {
                Some(dir) => pull::install_from_dir(&config.models, model, &dir)?,
                None => {
                    let bar = indicatif::ProgressBar::new(0);
                    if json {
                        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
                    }
                    let mut progress = |file: &str, done: u64, total: Option<u64>| {
                        if let Some(t) = total {
                            bar.set_length(t);
                        }
                        bar.set_position(done);
                        bar.set_message(file.to_string());
                    };
                    let m = pull::pull_http(
                        &config.models,
                        model,
                        &endpoint,
                        revision.as_deref(),
                        &mut progress,
                    )?;
                    bar.finish_and_clear();
                    m
                }
            };
            print_manifest(&manifest, json)
        }
        ModelsCommand::Verify { name } => {
            let m = config.models.verify(&name)?;
            if json {
                println!("{}", serde_json::to_string(&m)?);
            } else {
                println!("{}: {} files match their sha256", m.name, m.files.len());
            }
            Ok(())
        }
        ModelsCommand::Add {
            dir,
            name,
            source,
            licence,
            dim,
            test_only,
        } => {
            let files = collect_files(&dir)?;
            if files.is_empty() {
                bail!("{} holds no files", dir.display());
            }
            let dest = config.models.model_dir(&name);
            if dest != dir {
                if dest.exists() {
                    std::fs::remove_dir_all(&dest)
                        .with_context(|| format!("replacing {}", dest.display()))?;
                }
                copy_dir(&dir, &dest)?;
            }
            let manifest = loupe_models::write_manifest(
                &dest,
                ModelManifest {
                    name,
                    role: ModelRole::Clip,
                    source,
                    licence,
                    dim,
                    test_only,
                    files: vec![],
                },
                &files,
            )?;
            print_manifest(&manifest, json)
        }
    }
}

fn print_manifest(m: &ModelManifest, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(m)?);
    } else {
        println!(
            "installed {} ({} files, {:.1} MB, fingerprint {}) from {}",
            m.name,
            m.files.len(),
            m.total_bytes() as f64 / 1e6,
            m.fingerprint(),
            m.source
        );
    }
    Ok(())
}

fn list(config: &Config, json: bool) -> Result<()> {
    let installed = config.models.list()?;
    let runtime = config.onnxruntime_library().ok();
    if json {
        let v = serde_json::json!({
            "models_dir": config.models_dir(),
            "onnxruntime": runtime,
            "installed": installed.iter().map(|(_, m)| m).collect::<Vec<_>>(),
            "pullable": pull::KNOWN.iter().map(|k| serde_json::json!({"name": k.name, "about": k.about, "licence": k.licence})).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!("model folder  {}", config.models_dir().display());
    match &runtime {
        Some(p) => println!("onnxruntime   {}", p.display()),
        None => println!("onnxruntime   not installed (run scripts/setup)"),
    }
    println!();
    println!(
        "{:<18} {:<12} {:>5} {:>9}  {:<18} source",
        "installed", "role", "dim", "MB", "licence"
    );
    for (_, m) in &installed {
        let role = m.role.as_str();
        println!(
            "{:<18} {:<12} {:>5} {:>9.1}  {:<18} {}{}",
            m.name,
            role,
            m.dim,
            m.total_bytes() as f64 / 1e6,
            m.licence,
            m.source,
            if m.test_only {
                "  [generated test model]"
            } else {
                ""
            }
        );
    }
    if installed.is_empty() {
        println!("(none)");
    }
    println!();
    for k in pull::KNOWN {
        let have = installed.iter().any(|(_, m)| m.name == k.name);
        println!(
            "{} {:<16} {}{}",
            if have { "*" } else { " " },
            k.name,
            k.about,
            if have {
                ""
            } else {
                "  (loupe models pull to install)"
            }
        );
    }
    Ok(())
}

fn collect_files(dir: &std::path::Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != loupe_models::MANIFEST_FILE) {
                let rel = p.strip_prefix(dir)?.to_string_lossy().into_owned();
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    for rel in collect_files(from)? {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from.join(&rel), &dest).with_context(|| format!("copying {rel}"))?;
    }
    Ok(())
}
