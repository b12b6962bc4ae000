//! `loupe migrate --to URL | --from URL`: moves an index's vectors between the embedded store and a
//! Qdrant server (the store crate does the copying, resuming and checking; this draws the bar).

use crate::config::Config;
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loupe_store::{Access, Index, MigrateTarget, QdrantConfig};

pub struct MigrateArgs {
    pub to: Option<String>,
    pub from: Option<String>,
    pub batch: usize,
    pub quiet: bool,
}

/// The Qdrant settings with this URL (the rest from the config file and environment).
fn with_url(config: &Config, url: &str) -> QdrantConfig {
    let mut q = config.store.qdrant.clone().unwrap_or_default();
    q.url = url.to_string();
    q
}

pub fn run(config: &Config, args: MigrateArgs, json: bool) -> Result<()> {
    let mut options = config.store.clone();
    let target = match (&args.to, &args.from) {
        (Some(to), None) => {
            // The index is embedded now: open it without a server.
            options.qdrant = None;
            MigrateTarget::Qdrant(Box::new(with_url(config, to)))
        }
        (None, Some(from)) => {
            options.qdrant = Some(with_url(config, from));
            MigrateTarget::Embedded
        }
        _ => bail!("give one of --to URL (embedded -> server) or --from URL (server -> embedded)"),
    };
    let index = Index::open_with(&config.index, Access::Write, &options)?;
    let bar = (!args.quiet && !json).then(|| {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} points  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    });
    let report = index.migrate(target, args.batch, &mut |done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("from      {}", report.from);
        println!("to        {}", report.to);
        println!(
            "points    {} ({} copied by this run{})",
            report.points,
            report.copied,
            if report.resumed { ", resumed" } else { "" }
        );
        println!(
            "verified  counts match; {} sampled points identical",
            report.verified
        );
        println!("the index now uses {}", report.to);
    }
    Ok(())
}
