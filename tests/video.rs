//! End to end: videos and recordings. Fixture videos are made here with the system ffmpeg (lavfi
//! colour sources with known cut times), in several containers and codecs.

mod common;

use common::*;
use std::ffi::OsString;
use std::path::Path;

fn shots_of(index: &Path, query: &str) -> Vec<serde_json::Value> {
    let r = loupe_json(
        index,
        &["search", query, "--group-by", "segment", "--limit", "50"],
    );
    r["hits"].as_array().unwrap().clone()
}

#[test]
fn shots_are_found_at_the_right_seconds_in_every_container() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let variants: &[(&str, &[&str])] = &[
        (
            "clip.mp4",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        ),
        (
            "clip.mov",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        ),
        ("clip.mkv", &["-c:v", "mpeg4", "-q:v", "4", "-c:a", "libvorbis"]),
        (
            "clip.webm",
            &["-c:v", "libvpx", "-b:v", "300k", "-c:a", "libvorbis"],
        ),
        ("clip.avi", &["-c:v", "mjpeg", "-q:v", "4", "-c:a", "pcm_s16le"]),
    ];
    for (name, codec) in variants {
        make_video(&lib.join(name), codec);
    }
    let index = tmp.path().join("index");
    let report = loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );
    assert_eq!(report["indexed"], 5, "{report}");

    for (query, start, end) in [("red", 1.0, 3.0), ("blue", 3.0, 6.0), ("green", 6.0, 8.0)] {
        let hits = shots_of(&index, query);
        for (name, _) in variants {
            // The best shot of each file for this colour.
            let h = hits
                .iter()
                .find(|h| h["asset"]["path"].as_str().unwrap().ends_with(name))
                .unwrap_or_else(|| panic!("{name} not found for {query}"));
            let loc = &h["segment"]["locator"];
            assert_eq!(loc["type"], "shot");
            let (s, e) = (loc["t_start"].as_f64().unwrap(), loc["t_end"].as_f64().unwrap());
            assert!(
                (s - start).abs() <= 0.5 && (e - end).abs() <= 0.5,
                "{name} {query}: {s}-{e}"
            );
            let k = loc["keyframe"].as_f64().unwrap();
            assert!(k >= s && k <= e);
            let link = h["deep_link"].as_str().unwrap();
            assert!(link.ends_with(&format!("#t={:.1}", s)), "{link}");
            assert_eq!(h["asset"]["kind"], "video");
            assert!((h["asset"]["duration_s"].as_f64().unwrap() - 8.0).abs() < 0.3);
        }
    }
    // The black opening is not a segment of its own.
    let black = shots_of(&index, "black");
    assert!(
        black
            .iter()
            .all(|h| h["segment"]["locator"]["t_start"].as_f64().unwrap() >= 0.5)
    );
    // Grouping by asset gives one hit per file; thumbnails exist for the shots.
    let per_file = loupe_json(&index, &["search", "blue", "--group-by", "asset"]);
    assert_eq!(per_file["hits"].as_array().unwrap().len(), 5);
    let thumbs = walk_count(&index.join("thumbs"));
    assert_eq!(thumbs, 15, "three shots per video");
}

fn walk_count(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        n += if p.is_dir() { walk_count(&p) } else { 1 };
    }
    n
}

#[test]
fn recordings_broken_and_silent_files() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    // A recording: found by its name, kind audio, with a duration.
    let wav = lib.join("meeting_notes.wav");
    ffmpeg([
        OsString::from("-f"),
        "lavfi".into(),
        "-i".into(),
        "sine=frequency=300:duration=3".into(),
        wav.clone().into(),
    ]);
    // A video without sound.
    let silent = lib.join("silent.mp4");
    ffmpeg([
        OsString::from("-f"),
        "lavfi".into(),
        "-i".into(),
        "color=c=yellow:s=160x120:r=10:d=2".into(),
        "-c:v".into(),
        "libx264".into(),
        "-pix_fmt".into(),
        "yuv420p".into(),
        silent.clone().into(),
    ]);
    // A broken video: the first kilobyte of a real one.
    let full = tmp.path().join("full.mp4");
    make_video(&full, &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]);
    let bytes = std::fs::read(&full).unwrap();
    write(&lib.join("broken.mp4"), &bytes[..1024]);
    write(&lib.join("not_a_video.mkv"), b"plain text pretending");

    let index = tmp.path().join("index");
    let r = loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );
    assert_eq!(r["indexed"], 2, "{r}");
    let failed: Vec<String> = r["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| file_name(f["path"].as_str().unwrap()).to_string())
        .collect();
    let mut sorted = failed.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["broken.mp4", "not_a_video.mkv"], "{r}");

    let hits = loupe_json(&index, &["search", "meeting notes"]);
    let top = &hits["hits"][0];
    assert!(
        top["asset"]["path"]
            .as_str()
            .unwrap()
            .ends_with("meeting_notes.wav")
    );
    assert_eq!(top["asset"]["kind"], "audio");
    assert!((top["asset"]["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.2);
    let yellow = loupe_json(&index, &["search", "yellow", "--kind", "video"]);
    assert!(hit_paths(&yellow)[0].ends_with("silent.mp4"));

    // Re-running changes nothing and re-decodes nothing.
    let again = loupe_json(&index, &["index", lib.to_str().unwrap()]);
    assert_eq!(
        (again["indexed"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "{again}"
    );
}
