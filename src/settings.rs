//! The settings of one `loupe` run, resolved once: defaults, then the config file, then the
//! environment, then flags. A flag always wins; an environment variable wins over the file.
//!
//! Every environment variable the `loupe` command reads is read here (clap reads those that back a
//! flag, e.g. `LOUPE_PORT` for `--port`; [`Flags::from_cli`] tells the two apart). The library
//! crates get typed values: the index and model folders, the ONNX Runtime library, the store's
//! [`loupe_store::OpenOptions`], the [`ServerConfig`] with its `[answer]` section (the LLM worker
//! and the OpenAI-compatible server's key included). `loupe config show` prints the result and
//! where each value came from.
//!
//! Not for: choosing models (`config.rs`), or checking that a server configuration is safe
//! ([`ServerConfig::validate`], called by `loupe serve`).

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use loupe_answer::prompt::Style;
use loupe_server::ServerConfig;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The config file flag, on every command that reads the file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FileArgs {
    /// Config file (TOML: the server's keys and an [answer] section, see the README). Default:
    /// ~/.config/loupe/server.toml if present.
    #[arg(long, env = "LOUPE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Flags over the server's keys in the config file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerFlags {
    /// Port to listen on (0: any free port; the address is printed). Default 7878.
    #[arg(long, env = "LOUPE_PORT")]
    pub port: Option<u16>,
    /// Address to listen on. Default 127.0.0.1; anything else needs an API key (LOUPE_API_KEY).
    #[arg(long, env = "LOUPE_BIND")]
    pub bind: Option<IpAddr>,
    /// A folder `POST /v1/index` may add (repeatable), besides the index's own roots and the
    /// config file's `roots`.
    #[arg(long = "root")]
    pub roots: Vec<PathBuf>,
}

/// Flags over the `[answer]` section of the config file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AnswerFlags {
    /// extractive, local or openai (default: from the config file; else local when a local model
    /// is installed; else extractive).
    #[arg(long, env = "LOUPE_ANSWERER")]
    pub answerer: Option<String>,
    /// The local model (a model folder with role llm or vlm).
    #[arg(long, env = "LOUPE_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// An OpenAI-compatible server (base URL up to /v1); makes the `openai` answerer available.
    /// Any --openai-* flag applies to the config file's [answer.openai] server if there is one.
    #[arg(long, env = "LOUPE_OPENAI_URL")]
    pub openai_url: Option<String>,
    /// The model to ask on that server.
    #[arg(long, env = "LOUPE_OPENAI_MODEL")]
    pub openai_model: Option<String>,
    /// Do not send images to the OpenAI-compatible server (for text-only models).
    #[arg(long)]
    pub openai_text_only: bool,
    /// Prompt style for the OpenAI-compatible server: strict (default) or compact (small models).
    #[arg(
        long,
        value_parser = clap::builder::TypedValueParser::try_map(
            clap::builder::PossibleValuesParser::new(Style::ALL.map(Style::as_str)),
            |s| s.parse::<Style>(),
        )
    )]
    pub openai_prompt: Option<Style>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl Source {
    fn kind(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File(_) => "file",
            Source::Env(_) => "env",
            Source::Flag(_) => "flag",
        }
    }

    /// The file, variable or flag; None for a default.
    fn origin(&self) -> Option<String> {
        match self {
            Source::Default => None,
            Source::File(p) => Some(p.display().to_string()),
            Source::Env(v) | Source::Flag(v) => Some(v.clone()),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.origin() {
            Some(from) => write!(f, "{} {from}", self.kind()),
            None => f.write_str(self.kind()),
        }
    }
}

/// A value given on the command line or in the environment, and which of the two.
#[derive(Debug, Clone, PartialEq)]
pub struct Given<T> {
    pub value: T,
    pub source: Source,
}

/// What the command line (and the environment variables behind its flags) says.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub index: Option<Given<PathBuf>>,
    pub models: Option<Given<PathBuf>>,
    pub config: Option<Given<PathBuf>>,
    pub qdrant_url: Option<Given<String>>,
    pub qdrant_api_key: Option<Given<String>>,
    pub port: Option<Given<u16>>,
    pub bind: Option<Given<IpAddr>>,
    pub roots: Vec<PathBuf>,
    pub answerer: Option<Given<String>>,
    pub llm_model: Option<Given<String>>,
    pub openai_url: Option<Given<String>>,
    pub openai_model: Option<Given<String>>,
    pub openai_text_only: bool,
    pub openai_prompt: Option<Style>,
    /// Whether this command reads the whole config file (`serve`, `ask`, `config show`); the
    /// others read only its `[qdrant]` section.
    pub read_file: bool,
    /// Whether this command is `serve` (it logs each request at info).
    pub serve: bool,
}

impl Flags {
    /// The flags of this command line, each with its origin: the flag, or the environment
    /// variable clap read for it.
    pub fn from_cli(cli: &crate::Cli, matches: &clap::ArgMatches) -> Self {
        use clap::CommandFactory as _;
        let mut command = crate::Cli::command();
        command.build();
        // The innermost subcommand: its matches hold every argument given (globals included).
        let (mut cmd, mut m) = (&command, matches);
        while let Some((name, sub)) = m.subcommand() {
            match cmd.find_subcommand(name) {
                Some(c) => cmd = c,
                None => break,
            }
            m = sub;
        }
        let source = |id: &str| -> Source {
            let arg = cmd
                .get_arguments()
                .chain(command.get_arguments())
                .find(|a| a.get_id() == id);
            let long = arg.and_then(|a| a.get_long()).unwrap_or(id);
            match (m.value_source(id), arg.and_then(|a| a.get_env())) {
                (Some(ValueSource::EnvVariable), Some(env)) => {
                    Source::Env(env.to_string_lossy().into_owned())
                }
                _ => Source::Flag(format!("--{long}")),
            }
        };
        fn given<T: Clone>(v: &Option<T>, source: impl Fn(&str) -> Source, id: &str) -> Option<Given<T>> {
            v.as_ref().map(|value| Given {
                value: value.clone(),
                source: source(id),
            })
        }
        let mut f = Flags {
            index: given(&cli.index, source, "index"),
            models: given(&cli.models, source, "models"),
            qdrant_url: given(&cli.qdrant_url, source, "qdrant_url"),
            qdrant_api_key: given(&cli.qdrant_api_key, source, "qdrant_api_key"),
            serve: matches!(cli.command, crate::Command::Serve(_)),
            ..Flags::default()
        };
        let (file, server, answer) = match &cli.command {
            crate::Command::Serve(a) => (Some(&a.file), Some(&a.server), Some(&a.answer)),
            crate::Command::Ask(a) => (Some(&a.file), None, Some(&a.answer)),
            crate::Command::Config {
                command: crate::ConfigCommand::Show(a),
            } => (Some(&a.file), Some(&a.server), Some(&a.answer)),
            _ => (None, None, None),
        };
        if let Some(file) = file {
            f.read_file = true;
            f.config = given(&file.config, source, "config");
        }
        if let Some(s) = server {
            f.port = given(&s.port, source, "port");
            f.bind = given(&s.bind, source, "bind");
            f.roots = s.roots.clone();
        }
        if let Some(a) = answer {
            f.answerer = given(&a.answerer, source, "answerer");
            f.llm_model = given(&a.llm_model, source, "llm_model");
            f.openai_url = given(&a.openai_url, source, "openai_url");
            f.openai_model = given(&a.openai_model, source, "openai_model");
            f.openai_text_only = a.openai_text_only;
            f.openai_prompt = a.openai_prompt;
        }
        f
    }
}

/// The process's environment: variables and its own path. A trait so that resolution can be
/// tested without the real environment.
pub trait Environment {
    /// The variable's value; None when unset or empty.
    fn var(&self, name: &str) -> Option<OsString>;
    /// The running executable.
    fn current_exe(&self) -> Option<PathBuf>;
}

/// The real environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name).filter(|v| !v.is_empty())
    }

    fn current_exe(&self) -> Option<PathBuf> {
        std::env::current_exe().ok()
    }
}

/// How the command logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// A tracing filter (`LOUPE_LOG`, e.g. `debug` or `info,loupe_query=debug`).
    pub filter: String,
    /// The filter used when `filter` does not parse.
    pub default_filter: &'static str,
    /// One JSON object per line (`LOUPE_LOG_FORMAT=json`) instead of text.
    pub json: bool,
}

impl Log {
    /// The server logs each request at info; the other commands only warnings.
    pub fn resolve(env: &dyn Environment, serve: bool) -> Self {
        let default_filter = if serve {
            "info,qdrant_edge=error"
        } else {
            "warn,qdrant_edge=error"
        };
        Self {
            filter: env.var("LOUPE_LOG").map_or_else(
                || default_filter.to_string(),
                |v| v.to_string_lossy().into_owned(),
            ),
            default_filter,
            json: env.var("LOUPE_LOG_FORMAT").is_some_and(|f| f == "json"),
        }
    }
}

/// Every setting of this run, typed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    pub index: PathBuf,
    pub models: PathBuf,
    /// The ONNX Runtime library named by `ORT_DYLIB_PATH`; None: the one in the model folder.
    pub onnxruntime: Option<PathBuf>,
    /// How the index is opened (`LOUPE_MIN_FREE_MB`; the Qdrant server from `--qdrant-url`,
    /// `LOUPE_QDRANT_*` and the file's `[qdrant]` section).
    pub store: loupe_store::OpenOptions,
    pub log: Log,
    /// The server's settings and the `[answer]` section (also used by `loupe ask`).
    pub server: ServerConfig,
    /// Where each value that is not a default came from, by dotted key (as `config show` names it).
    sources: BTreeMap<String, Source>,
}

/// The config file when none is named: `$XDG_CONFIG_HOME/loupe/server.toml`, else
/// `~/.config/loupe/server.toml`, when it exists.
fn default_config_file(env: &dyn Environment) -> Option<PathBuf> {
    env.var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("loupe/server.toml"))
        .filter(|f| f.is_file())
}

/// `$XDG_DATA_HOME/loupe`, else `~/.local/share/loupe`.
fn data_dir(env: &dyn Environment) -> Result<PathBuf> {
    if let Some(d) = env.var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("loupe"));
    }
    let home = env
        .var("HOME")
        .context("HOME is not set; pass --index and --models")?;
    Ok(PathBuf::from(home).join(".local/share/loupe"))
}

/// Dotted keys of every value in a TOML table (`answer.openai.model`); arrays are values.
fn toml_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = format!("{prefix}{k}");
        match v {
            toml::Value::Table(t) => {
                out.push(key.clone());
                toml_keys(t, &format!("{key}."), out);
            }
            _ => out.push(key),
        }
    }
}

/// Dotted keys and values of a JSON object; objects are walked, everything else is a value.
fn flatten(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                flatten(v, &format!("{prefix}{k}."), out);
            }
        }
        other => out.push((prefix.trim_end_matches('.').to_string(), other.clone())),
    }
}

/// A secret as `config show` prints it: never in the clear.
fn mask(v: &Value) -> Value {
    match v.as_str() {
        Some(k) if k.chars().count() >= 16 => {
            let tail: String = k.chars().skip(k.chars().count() - 2).collect();
            Value::String(format!("****{tail}"))
        }
        Some(_) => Value::String("****".into()),
        None => v.clone(),
    }
}

impl Settings {
    /// Defaults, then the config file (when this command reads one), then the environment, then
    /// the flags.
    pub fn resolve(flags: &Flags, env: &dyn Environment) -> Result<Self> {
        let mut sources = BTreeMap::new();
        let mut set = |key: &str, source: &Source| {
            sources.insert(key.to_string(), source.clone());
        };

        let index = match &flags.index {
            Some(g) => {
                set("index", &g.source);
                g.value.clone()
            }
            None => data_dir(env)?.join("index"),
        };
        let models = match &flags.models {
            Some(g) => {
                set("models", &g.source);
                g.value.clone()
            }
            None => data_dir(env)?.join("models"),
        };
        let onnxruntime = env.var("ORT_DYLIB_PATH").map(PathBuf::from);
        if onnxruntime.is_some() {
            set("onnxruntime", &Source::Env("ORT_DYLIB_PATH".into()));
        }
        let mut store = loupe_store::OpenOptions::default();
        if let Some(v) = env.var("LOUPE_MIN_FREE_MB") {
            // As before: a value that is not a number leaves the default.
            if let Some(n) = v.to_str().and_then(|s| s.trim().parse().ok()) {
                store.min_free_mib = n;
                set("min_free_mb", &Source::Env("LOUPE_MIN_FREE_MB".into()));
            }
        }
        let log = Log::resolve(env, flags.serve);
        if env.var("LOUPE_LOG").is_some() {
            set("log", &Source::Env("LOUPE_LOG".into()));
        }
        if env.var("LOUPE_LOG_FORMAT").is_some() {
            set("log_format", &Source::Env("LOUPE_LOG_FORMAT".into()));
        }

        // The file: every command reads its [qdrant] section (the index's vectors may live on a
        // server); `serve`, `ask` and `config show` read the rest too.
        let config_file = match &flags.config {
            Some(g) => {
                set("config", &g.source);
                Some(g.value.clone())
            }
            None => match env.var("LOUPE_CONFIG") {
                Some(v) => {
                    set("config", &Source::Env("LOUPE_CONFIG".into()));
                    Some(PathBuf::from(v))
                }
                None => default_config_file(env),
            },
        };
        let (mut server, qdrant_file) = match &config_file {
            Some(f) => {
                let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
                let mut table: toml::Table =
                    toml::from_str(&text).with_context(|| format!("{}", f.display()))?;
                let qdrant = table.remove("qdrant");
                let mut keys = Vec::new();
                toml_keys(&table, "", &mut keys);
                let server = if flags.read_file {
                    for k in keys {
                        set(&k, &Source::File(f.clone()));
                    }
                    table
                        .try_into::<ServerConfig>()
                        .with_context(|| format!("{}", f.display()))?
                } else {
                    ServerConfig::default()
                };
                let qdrant = match qdrant {
                    Some(q) => {
                        let mut qkeys = Vec::new();
                        if let toml::Value::Table(t) = &q {
                            toml_keys(t, "qdrant.", &mut qkeys);
                        }
                        for k in qkeys {
                            set(&k, &Source::File(f.clone()));
                        }
                        Some(
                            q.try_into::<loupe_store::QdrantConfig>()
                                .with_context(|| format!("{}: [qdrant]", f.display()))?,
                        )
                    }
                    None => None,
                };
                (server, qdrant)
            }
            None => (ServerConfig::default(), None),
        };
        let mut qdrant = qdrant_file.unwrap_or_default();
        if let Some(g) = &flags.qdrant_url {
            qdrant.url = g.value.clone();
            set("qdrant.url", &g.source);
        }
        if let Some(g) = &flags.qdrant_api_key {
            qdrant.api_key = Some(g.value.clone());
            set("qdrant.api_key", &g.source);
        }
        store.qdrant = (!qdrant.url.trim().is_empty()).then_some(qdrant);

        // The environment and flags over it.
        if let Some(g) = &flags.port {
            server.port = g.value;
            set("port", &g.source);
        }
        if let Some(g) = &flags.bind {
            server.bind = g.value;
            set("bind", &g.source);
        }
        // The key comes from the environment (or the file), never from a flag that `ps` would show.
        if let Some(k) = env.var("LOUPE_API_KEY") {
            server.api_key = Some(k.to_string_lossy().into_owned());
            set("api_key", &Source::Env("LOUPE_API_KEY".into()));
        }
        for r in &flags.roots {
            server.roots.push(
                r.canonicalize()
                    .with_context(|| format!("--root {}", r.display()))?,
            );
        }
        if !flags.roots.is_empty() {
            set("roots", &Source::Flag("--root".into()));
        }

        let answer = &mut server.answer;
        if let Some(g) = &flags.answerer {
            answer.default = Some(g.value.clone());
            set("answer.default", &g.source);
        }
        if let Some(g) = &flags.llm_model {
            answer.local_model = Some(g.value.clone());
            set("answer.local_model", &g.source);
        }
        if let Some(w) = env.var("LOUPE_LLM_WORKER") {
            answer.local_worker = Some(PathBuf::from(w));
            set("answer.local_worker", &Source::Env("LOUPE_LLM_WORKER".into()));
        }
        if answer.local_worker.is_none() {
            // Beside this executable (where cargo builds it), else on PATH.
            answer.local_worker = Some(
                env.current_exe()
                    .and_then(|exe| loupe_answer::local::worker_beside(&exe))
                    .unwrap_or_else(|| PathBuf::from(loupe_answer::local::WORKER_NAME)),
            );
        }
        // Any --openai-* flag applies to the file's server, or to a default one (OpenAI's).
        if flags.openai_url.is_some()
            || flags.openai_model.is_some()
            || flags.openai_text_only
            || flags.openai_prompt.is_some()
        {
            let o = answer.openai.get_or_insert_with(Default::default);
            if let Some(g) = &flags.openai_url {
                o.base_url = g.value.clone();
                set("answer.openai.base_url", &g.source);
            }
            if let Some(g) = &flags.openai_model {
                o.model = g.value.clone();
                set("answer.openai.model", &g.source);
            }
            if flags.openai_text_only {
                o.vision = false;
                set("answer.openai.vision", &Source::Flag("--openai-text-only".into()));
            }
            if let Some(p) = flags.openai_prompt {
                o.prompt = p;
                set("answer.openai.prompt", &Source::Flag("--openai-prompt".into()));
            }
        }
        if let Some(o) = &mut answer.openai
            && o.api_key.as_deref().is_none_or(str::is_empty)
            && let Some(k) = env.var(&o.api_key_env)
        {
            o.api_key = Some(k.to_string_lossy().into_owned());
            set("answer.openai.api_key", &Source::Env(o.api_key_env.clone()));
        }

        Ok(Self {
            config_file,
            index,
            models,
            onnxruntime,
            store,
            log,
            server,
            sources,
        })
    }

    /// Every effective setting by dotted key, with its value (secrets masked) and origin.
    pub fn rows(&self) -> Vec<(String, Value, Source)> {
        let path = |p: &Path| Value::String(p.display().to_string());
        let mut values: Vec<(String, Value)> = vec![
            (
                "config".into(),
                self.config_file.as_deref().map_or(Value::Null, path),
            ),
            ("index".into(), path(&self.index)),
            ("models".into(), path(&self.models)),
            (
                "onnxruntime".into(),
                match &self.onnxruntime {
                    Some(p) => path(p),
                    None => loupe_models::Runtime::locate(&self.models).map_or(Value::Null, |p| path(&p)),
                },
            ),
            ("min_free_mb".into(), self.store.min_free_mib.into()),
            (
                "vectors".into(),
                if self.store.qdrant.is_some() {
                    "qdrant"
                } else {
                    "embedded"
                }
                .into(),
            ),
            ("log".into(), self.log.filter.clone().into()),
            (
                "log_format".into(),
                if self.log.json { "json" } else { "text" }.into(),
            ),
        ];
        flatten(
            &serde_json::to_value(&self.server).unwrap_or_default(),
            "",
            &mut values,
        );
        if let Some(q) = &self.store.qdrant {
            flatten(
                &serde_json::json!({ "qdrant": serde_json::to_value(q).unwrap_or_default() }),
                "",
                &mut values,
            );
        }
        values
            .into_iter()
            .map(|(k, v)| {
                let v = if k == "api_key" || k.ends_with(".api_key") {
                    mask(&v)
                } else if k == "qdrant.url" {
                    // A URL may carry user:password@; show it without.
                    v.as_str()
                        .map_or(v.clone(), |u| loupe_store::vectors::redact_url(u).into())
                } else {
                    v
                };
                let source = self.sources.get(&k).cloned().unwrap_or(Source::Default);
                (k, v, source)
            })
            .collect()
    }

    /// `loupe config show --json`: `{"settings": {KEY: {"value", "source", "from"?}}}`.
    pub fn to_json(&self) -> Value {
        let mut settings = Map::new();
        for (k, v, source) in self.rows() {
            let mut row = Map::new();
            row.insert("value".into(), v);
            row.insert("source".into(), source.kind().into());
            if let Some(from) = source.origin() {
                row.insert("from".into(), from.into());
            }
            settings.insert(k, Value::Object(row));
        }
        serde_json::json!({ "settings": settings })
    }

    /// `loupe config show`: one line per setting, with its origin.
    pub fn to_text(&self) -> String {
        let rows = self.rows();
        let width = rows.iter().map(|(k, ..)| k.len()).max().unwrap_or(0);
        let mut s = String::new();
        for (k, v, source) in rows {
            let v = match v {
                Value::String(s) => s,
                Value::Null => "-".into(),
                other => other.to_string(),
            };
            s.push_str(&format!("{k:<width$}  {v:<40}  {source}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<OsString> {
            self.0.get(name).filter(|v| !v.is_empty()).map(OsString::from)
        }

        fn current_exe(&self) -> Option<PathBuf> {
            None
        }
    }

    fn env(vars: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(vars.iter().copied().collect())
    }

    fn flag<T>(value: T, name: &str) -> Option<Given<T>> {
        Some(Given {
            value,
            source: Source::Flag(name.into()),
        })
    }

    fn source(s: &Settings, key: &str) -> Source {
        s.rows()
            .into_iter()
            .find(|(k, ..)| k == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .2
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("server.toml");
        std::fs::write(&f, text).unwrap();
        (dir, f)
    }

    #[test]
    fn defaults_come_from_home_and_xdg() {
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", "/h")])).unwrap();
        assert_eq!(s.index, Path::new("/h/.local/share/loupe/index"));
        assert_eq!(s.models, Path::new("/h/.local/share/loupe/models"));
        assert_eq!(s.store.min_free_mib, 64);
        assert_eq!(s.server, {
            let mut d = ServerConfig::default();
            d.answer.local_worker = Some("loupe-llm".into());
            d
        });
        assert_eq!(source(&s, "index"), Source::Default);
        let s = Settings::resolve(
            &Flags::default(),
            &env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]),
        )
        .unwrap();
        assert_eq!(s.index, Path::new("/x/loupe/index"));
        let err = Settings::resolve(&Flags::default(), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("HOME is not set"), "{err}");
        let flags = Flags {
            index: flag("/i".into(), "--index"),
            models: flag("/m".into(), "--models"),
            ..Flags::default()
        };
        assert!(Settings::resolve(&flags, &env(&[])).is_ok(), "no HOME needed");
    }

    #[test]
    fn file_then_env_then_flags() {
        let (_d, f) = file(
            "port = 9000\nbind = \"127.0.0.2\"\napi_key = \"from-the-file-0123456789\"\n\
             [answer]\nlocal_ctx = 2048\n[answer.openai]\nbase_url = \"http://file/v1\"\n\
             model = \"file-model\"\nprompt = \"compact\"\n",
        );
        let e = env(&[
            ("HOME", "/h"),
            ("LOUPE_API_KEY", "from-the-environment-xy"),
            ("OPENAI_API_KEY", "sk-from-env-0123456789"),
            ("LOUPE_MIN_FREE_MB", "7"),
        ]);
        let mut flags = Flags {
            read_file: true,
            config: flag(f.clone(), "--config"),
            ..Flags::default()
        };
        let s = Settings::resolve(&flags, &e).unwrap();
        assert_eq!(s.server.port, 9000);
        assert_eq!(source(&s, "port"), Source::File(f.clone()));
        assert_eq!(source(&s, "answer.local_ctx"), Source::File(f.clone()));
        assert_eq!(source(&s, "answer.local_threads"), Source::Default);
        assert_eq!(s.server.api_key.as_deref(), Some("from-the-environment-xy"));
        assert_eq!(source(&s, "api_key"), Source::Env("LOUPE_API_KEY".into()));
        assert_eq!(s.store.min_free_mib, 7);
        let o = s.server.answer.openai.as_ref().unwrap();
        assert_eq!(o.api_key.as_deref(), Some("sk-from-env-0123456789"));
        assert_eq!(o.prompt, Style::Compact);
        assert_eq!(
            source(&s, "answer.openai.api_key"),
            Source::Env("OPENAI_API_KEY".into())
        );

        // Flags (or their variables) over the file: the prompt and the model without a URL too.
        flags.port = Some(Given {
            value: 9100,
            source: Source::Env("LOUPE_PORT".into()),
        });
        flags.openai_model = flag("flag-model".into(), "--openai-model");
        flags.openai_prompt = Some(Style::Strict);
        flags.openai_text_only = true;
        let s = Settings::resolve(&flags, &e).unwrap();
        assert_eq!(s.server.port, 9100);
        assert_eq!(source(&s, "port"), Source::Env("LOUPE_PORT".into()));
        let o = s.server.answer.openai.as_ref().unwrap();
        assert_eq!(o.base_url, "http://file/v1");
        assert_eq!(o.model, "flag-model");
        assert_eq!(o.prompt, Style::Strict);
        assert!(!o.vision);
        assert_eq!(
            source(&s, "answer.openai.prompt"),
            Source::Flag("--openai-prompt".into())
        );
        assert_eq!(source(&s, "answer.openai.base_url"), Source::File(f.clone()));
    }

    #[test]
    fn openai_flags_without_a_file_make_a_server() {
        let flags = Flags {
            openai_model: flag("m".into(), "--openai-model"),
            ..Flags::default()
        };
        let s = Settings::resolve(&flags, &env(&[("HOME", "/h")])).unwrap();
        let o = s.server.answer.openai.as_ref().unwrap();
        assert_eq!(o.model, "m");
        assert_eq!(o.base_url, "https://api.openai.com/v1");
        assert_eq!(source(&s, "answer.openai.base_url"), Source::Default);
        // No flag, no file: no server.
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", "/h")])).unwrap();
        assert!(s.server.answer.openai.is_none());
    }

    #[test]
    fn a_file_is_only_read_by_commands_that_use_it() {
        let (_d, f) = file("port = \"not a number\"\n");
        let mut flags = Flags {
            config: flag(f, "--config"),
            ..Flags::default()
        };
        assert!(Settings::resolve(&flags, &env(&[("HOME", "/h")])).is_ok());
        flags.read_file = true;
        assert!(Settings::resolve(&flags, &env(&[("HOME", "/h")])).is_err());
    }

    #[test]
    fn qdrant_from_the_file_env_and_flags_for_every_command() {
        let (_d, f) = file(
            "port = 9000\n[qdrant]\nurl = \"http://file-qdrant:6334\"\ncollection = \"family\"\n\
             [qdrant.collection_settings]\nshard_number = 3\nreplication_factor = 2\n\
             quantization = { type = \"int8\" }\n[qdrant.search]\nhnsw_ef = 128\nconsistency = \"majority\"\n",
        );
        // `loupe index` reads only the [qdrant] section.
        let mut flags = Flags {
            config: flag(f.clone(), "--config"),
            ..Flags::default()
        };
        let s = Settings::resolve(&flags, &env(&[("HOME", "/h")])).unwrap();
        let q = s.store.qdrant.as_ref().unwrap();
        assert_eq!(q.url, "http://file-qdrant:6334");
        assert_eq!(q.collection.as_deref(), Some("family"));
        assert_eq!(q.collection_settings.shard_number, Some(3));
        assert_eq!(q.search.hnsw_ef, Some(128));
        assert_eq!(source(&s, "qdrant.url"), Source::File(f.clone()));
        assert_eq!(s.server.port, 7878, "the server keys are not this command's");
        // The variable behind --qdrant-url wins over the file; the key is never shown.
        flags.qdrant_url = Some(Given {
            value: "https://user:pw@cluster:6334".into(),
            source: Source::Env("LOUPE_QDRANT_URL".into()),
        });
        flags.qdrant_api_key = Some(Given {
            value: "qdrant-secret-key-0123456789".into(),
            source: Source::Env("LOUPE_QDRANT_API_KEY".into()),
        });
        let s = Settings::resolve(&flags, &env(&[("HOME", "/h")])).unwrap();
        let q = s.store.qdrant.as_ref().unwrap();
        assert_eq!(q.url, "https://user:pw@cluster:6334");
        assert_eq!(q.collection_settings.replication_factor, Some(2));
        assert_eq!(source(&s, "qdrant.url"), Source::Env("LOUPE_QDRANT_URL".into()));
        let text = s.to_text();
        let json = s.to_json().to_string();
        for out in [&text, &json] {
            assert!(!out.contains("qdrant-secret"), "{out}");
            assert!(!out.contains("user:pw"), "{out}");
        }
        assert!(text.contains("https://cluster:6334"), "{text}");
        // No URL anywhere: embedded.
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", "/h")])).unwrap();
        assert!(s.store.qdrant.is_none());
        // A [qdrant] key Loupe does not know is an error, not ignored.
        let (_d2, bad) = file("[qdrant]\nurl = \"http://q:6334\"\nshards = 3\n");
        let flags = Flags {
            config: flag(bad, "--config"),
            ..Flags::default()
        };
        assert!(Settings::resolve(&flags, &env(&[("HOME", "/h")])).is_err());
    }

    #[test]
    fn secrets_are_masked() {
        let (_d, f) =
            file("api_key = \"abcdefghijklmnopqrstuvwxyz\"\n[answer.openai]\napi_key = \"short\"\n");
        let flags = Flags {
            read_file: true,
            config: flag(f, "--config"),
            ..Flags::default()
        };
        let s = Settings::resolve(&flags, &env(&[("HOME", "/h")])).unwrap();
        let text = s.to_text();
        let json = s.to_json().to_string();
        for out in [&text, &json] {
            assert!(!out.contains("abcdefghij"), "{out}");
            assert!(!out.contains("short"), "{out}");
            assert!(out.contains("****yz"), "{out}");
        }
        assert_eq!(s.to_json()["settings"]["answer.openai.api_key"]["value"], "****");
    }

    #[test]
    fn log_settings() {
        let l = Log::resolve(&env(&[]), true);
        assert_eq!(l.filter, "info,qdrant_edge=error");
        assert!(!l.json);
        let l = Log::resolve(
            &env(&[("LOUPE_LOG", "debug"), ("LOUPE_LOG_FORMAT", "json")]),
            false,
        );
        assert_eq!(l.filter, "debug");
        assert!(l.json);
    }
}
