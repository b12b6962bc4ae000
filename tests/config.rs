//! End to end: `loupe config show` reports each setting's value and origin, with the precedence
//! default < config file < environment < flag, and never prints an API key. Needs no models.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Variables the settings read; removed so the developer's own environment does not leak in.
const SETTINGS_VARS: &[&str] = &[
    "LOUPE_INDEX",
    "LOUPE_MODELS",
    "LOUPE_CONFIG",
    "LOUPE_PORT",
    "LOUPE_BIND",
    "LOUPE_API_KEY",
    "LOUPE_ANSWERER",
    "LOUPE_LLM_MODEL",
    "LOUPE_LLM_WORKER",
    "LOUPE_OPENAI_URL",
    "LOUPE_OPENAI_MODEL",
    "LOUPE_MIN_FREE_MB",
    "LOUPE_LOG",
    "LOUPE_LOG_FORMAT",
    "ORT_DYLIB_PATH",
    "OPENAI_API_KEY",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
];

fn loupe(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loupe"));
    for v in SETTINGS_VARS {
        cmd.env_remove(v);
    }
    cmd.env("HOME", home).envs(env.iter().copied()).args(args);
    cmd.output().unwrap()
}

fn show(home: &Path, env: &[(&str, &str)], args: &[&str]) -> (Value, String) {
    let mut all = vec!["--json", "config", "show"];
    all.extend_from_slice(args);
    let out = loupe(home, env, &all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_str(&stdout).unwrap(), stdout)
}

/// (value, source, from) of one setting.
fn setting(v: &Value, key: &str) -> (Value, String, String) {
    let s = &v["settings"][key];
    assert!(s.is_object(), "no {key} in {v:#}");
    (
        s["value"].clone(),
        s["source"].as_str().unwrap_or_default().to_string(),
        s["from"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn precedence_is_default_then_file_then_env_then_flag() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // Defaults: no file, no variables, no flags.
    let (v, _) = show(h, &[], &[]);
    assert_eq!(
        setting(&v, "port"),
        (7878.into(), "default".into(), String::new())
    );
    assert_eq!(setting(&v, "config").0, Value::Null);
    let index = h.join(".local/share/loupe/index");
    assert_eq!(setting(&v, "index").0, index.to_str().unwrap());
    assert_eq!(setting(&v, "min_free_mb").0, 64);
    assert_eq!(setting(&v, "answer.openai").0, Value::Null);

    // The file (found in its default place).
    let file = h.join(".config/loupe/server.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "port = 9000\napi_key = \"file-key-abcdefghijklmnop\"\n[answer]\ndefault = \"extractive\"\n\
         [answer.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"file-model\"\n\
         prompt = \"compact\"\napi_key = \"sk-file-secret-0123456789\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap().to_string();
    let (v, text) = show(h, &[], &[]);
    assert_eq!(
        setting(&v, "config"),
        (f.clone().into(), "default".into(), String::new())
    );
    assert_eq!(setting(&v, "port"), (9000.into(), "file".into(), f.clone()));
    assert_eq!(
        setting(&v, "answer.openai.prompt"),
        ("compact".into(), "file".into(), f.clone())
    );
    assert_eq!(
        setting(&v, "answer.openai.vision"),
        (true.into(), "default".into(), String::new())
    );
    // Secrets: masked, in JSON and in the table alike.
    assert_eq!(setting(&v, "api_key").0, "****op");
    assert_eq!(setting(&v, "answer.openai.api_key").0, "****89");
    let table = loupe(h, &[], &["config", "show"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    for out in [&text, &table] {
        assert!(
            !out.contains("file-key-abc") && !out.contains("sk-file-secret"),
            "{out}"
        );
    }
    assert!(table.contains(&format!("file {f}")), "{table}");

    // The environment over the file.
    let env = [
        ("LOUPE_PORT", "9100"),
        ("LOUPE_API_KEY", "env-key-abcdefghijklmnopqrstu"),
        ("LOUPE_OPENAI_MODEL", "env-model"),
        ("LOUPE_MIN_FREE_MB", "5"),
        ("LOUPE_INDEX", "/tmp/env-index"),
    ];
    let (v, text) = show(h, &env, &[]);
    assert_eq!(
        setting(&v, "port"),
        (9100.into(), "env".into(), "LOUPE_PORT".into())
    );
    assert_eq!(
        setting(&v, "api_key"),
        ("****tu".into(), "env".into(), "LOUPE_API_KEY".into())
    );
    assert!(!text.contains("env-key-abc"), "{text}");
    assert_eq!(
        setting(&v, "answer.openai.model"),
        ("env-model".into(), "env".into(), "LOUPE_OPENAI_MODEL".into())
    );
    assert_eq!(
        setting(&v, "min_free_mb"),
        (5.into(), "env".into(), "LOUPE_MIN_FREE_MB".into())
    );
    assert_eq!(
        setting(&v, "index"),
        ("/tmp/env-index".into(), "env".into(), "LOUPE_INDEX".into())
    );

    // Flags over both: a strict prompt over the file's compact one, and a model without a URL.
    let (v, _) = show(
        h,
        &env,
        &[
            "--port",
            "9200",
            "--openai-model",
            "flag-model",
            "--openai-prompt",
            "strict",
            "--answerer",
            "openai",
            "--index",
            "/tmp/flag-index",
        ],
    );
    assert_eq!(setting(&v, "port"), (9200.into(), "flag".into(), "--port".into()));
    assert_eq!(
        setting(&v, "answer.openai.model"),
        ("flag-model".into(), "flag".into(), "--openai-model".into())
    );
    assert_eq!(
        setting(&v, "answer.openai.prompt"),
        ("strict".into(), "flag".into(), "--openai-prompt".into())
    );
    assert_eq!(
        setting(&v, "answer.openai.base_url"),
        ("http://127.0.0.1:9/v1".into(), "file".into(), f.clone())
    );
    assert_eq!(
        setting(&v, "answer.default"),
        ("openai".into(), "flag".into(), "--answerer".into())
    );
    assert_eq!(
        setting(&v, "index"),
        ("/tmp/flag-index".into(), "flag".into(), "--index".into())
    );

    // A config file named by the environment, then by a flag.
    let other = h.join("other.toml");
    std::fs::write(&other, "port = 9300\n").unwrap();
    let o = other.to_str().unwrap().to_string();
    let (v, _) = show(h, &[("LOUPE_CONFIG", &o)], &[]);
    assert_eq!(
        setting(&v, "config"),
        (o.clone().into(), "env".into(), "LOUPE_CONFIG".into())
    );
    assert_eq!(setting(&v, "port"), (9300.into(), "file".into(), o.clone()));
    let (v, _) = show(h, &[("LOUPE_CONFIG", "/dev/null")], &["--config", &o]);
    assert_eq!(
        setting(&v, "config"),
        (o.clone().into(), "flag".into(), "--config".into())
    );
}

#[test]
fn closed_choices_are_checked_by_the_parser() {
    let home = tempfile::tempdir().unwrap();
    let out = loupe(home.path(), &[], &["search", "x", "--fusion", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rrf") && err.contains("weighted"), "{err}");
    let out = loupe(home.path(), &[], &["config", "show", "--openai-prompt", "loose"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("strict") && err.contains("compact"), "{err}");
}
