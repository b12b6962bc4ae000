//! One external tool run (poppler, ffprobe) with a time limit and a bounded output: the child is
//! killed when it runs out of time, and reading stops (with an error) past the output limit.

use crate::{Error, Result};
use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Most bytes of stderr kept (the reason is in its first lines).
const STDERR_LIMIT: u64 = 1 << 20;

/// How long a run may take and how much it may print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub time: Duration,
    pub output_bytes: u64,
}

/// What a finished run left.
pub(crate) struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `tool args..` and waits for it within `bounds`. A non-zero exit is not an error here (the
/// caller reads the reason from stderr); not starting, running out of time, or printing too much is.
pub(crate) fn run<S: AsRef<OsStr>>(
    tool: &'static str,
    package: &'static str,
    args: &[S],
    bounds: Bounds,
) -> Result<Output> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Missing {
            tool,
            package,
            source,
        })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Read both pipes on threads so a chatty child cannot block on a full pipe; one byte past the
    // limit tells that the output was cut.
    let limit = bounds.output_bytes;
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(limit.saturating_add(1)).read_to_end(&mut buf);
        }
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(STDERR_LIMIT).read_to_end(&mut buf);
        }
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > bounds.time || out.is_finished() => {
                if !out.is_finished() {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::TimedOut {
                        tool,
                        limit: bounds.time,
                    });
                }
                // Stdout closed (or cut at the limit): the child is about to exit, or printed
                // too much and is killed.
                let printed = out.join().unwrap_or_default();
                if printed.len() as u64 > limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::TooMuchOutput { tool, limit });
                }
                let status = wait_until(&mut child, started, bounds.time, tool)?;
                let stderr = err.join().unwrap_or_default();
                return finish(tool, status, printed, stderr);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                return Err(Error::Io {
                    tool,
                    reason: e.to_string(),
                });
            }
        }
    };
    let printed = out.join().unwrap_or_default();
    if printed.len() as u64 > limit {
        return Err(Error::TooMuchOutput { tool, limit });
    }
    let stderr = err.join().unwrap_or_default();
    finish(tool, status, printed, stderr)
}

/// Waits for a child whose stdout is closed, still within the time limit.
fn wait_until(
    child: &mut std::process::Child,
    started: Instant,
    limit: Duration,
    tool: &'static str,
) -> Result<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Ok(s),
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::TimedOut { tool, limit });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                return Err(Error::Io {
                    tool,
                    reason: e.to_string(),
                });
            }
        }
    }
}

fn finish(tool: &'static str, status: ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>) -> Result<Output> {
    if let Some(how) = killed(&status) {
        return Err(Error::Killed { tool, how });
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// How a child that did not exit by itself ended (a signal: out of memory, or killed by hand).
pub(crate) fn killed(status: &ExitStatus) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal().map(|s| match s {
            9 => "signal 9, often the system running out of memory".to_string(),
            s => format!("signal {s}"),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

/// The first line of a tool's stderr that says something, skipping lines `skip` says are noise.
pub(crate) fn first_line(stderr: &[u8], skip: impl Fn(&str) -> bool) -> Option<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !skip(l))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_limit_fires() {
        let started = Instant::now();
        let bounds = Bounds {
            time: Duration::from_millis(200),
            output_bytes: 1 << 20,
        };
        let err = run("sleep", "coreutils", &["10"], bounds).err().unwrap();
        assert!(matches!(err, Error::TimedOut { tool: "sleep", .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err.to_string(), "sleep took longer than 0 s");
    }

    #[test]
    fn output_is_bounded() {
        let bounds = Bounds {
            time: Duration::from_secs(20),
            output_bytes: 1000,
        };
        let err = run("yes", "coreutils", &["loupe"], bounds).err().unwrap();
        assert!(matches!(err, Error::TooMuchOutput { limit: 1000, .. }), "{err}");
        let ok = run("echo", "coreutils", &["hi"], bounds).unwrap();
        assert_eq!((ok.status.success(), ok.stdout.as_slice()), (true, &b"hi\n"[..]));
    }

    #[test]
    fn missing_tools_and_kills_are_named() {
        let bounds = Bounds {
            time: Duration::from_secs(20),
            output_bytes: 1000,
        };
        let err = run("loupe-no-such-tool", "loupe-nothing", &["x"], bounds)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("cannot run loupe-no-such-tool (install Debian's loupe-nothing)")
        );
        let err = run("sh", "dash", &["-c", "kill -9 $$"], bounds).err().unwrap();
        assert!(matches!(err, Error::Killed { tool: "sh", .. }), "{err}");
    }
}
