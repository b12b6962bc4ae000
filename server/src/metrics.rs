//! Prometheus metrics in the text exposition format: request counts per route and status, latency
//! histograms per route and per search signal. A few maps behind a mutex: cheaper to read than a
//! metrics framework, and the text format is ten lines of formatting.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (c, le) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *c += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        for (c, le) in self.counts.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    routes: BTreeMap<String, Histogram>,
    signals: BTreeMap<&'static str, Histogram>,
    rejected: u64,
    /// Per answerer: time to first token, and token counts.
    first_token: BTreeMap<String, Histogram>,
    answers: BTreeMap<(String, bool), u64>,
    prompt_tokens: BTreeMap<String, u64>,
    completion_tokens: BTreeMap<String, u64>,
    cached_prompt_tokens: BTreeMap<String, u64>,
    /// Per answerer: seconds spent on prompts and on generation (tokens/s = rate of tokens over
    /// rate of seconds).
    prompt_seconds: BTreeMap<String, f64>,
    generate_seconds: BTreeMap<String, f64>,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.requests
                .entry((route.to_string(), method.to_string(), status))
                .or_default() += 1;
            m.routes.entry(route.to_string()).or_default().observe(seconds);
        }
    }

    pub fn signal(&self, signal: &'static str, seconds: f64) {
        if let Ok(mut m) = self.inner.lock() {
            m.signals.entry(signal).or_default().observe(seconds);
        }
    }

    /// A finished answer.
    pub fn answer(&self, r: &loupe_schemas::answer::AskResponse) {
        if let Ok(mut m) = self.inner.lock() {
            let a = r.answerer.clone();
            m.first_token
                .entry(a.clone())
                .or_default()
                .observe(r.timings.first_token_ms / 1000.0);
            *m.answers.entry((a.clone(), r.found)).or_default() += 1;
            if let Some(c) = r.timings.cached_prompt_tokens {
                *m.cached_prompt_tokens.entry(a.clone()).or_default() += u64::from(c);
            }
            if let Some(ms) = r.timings.prompt_ms {
                *m.prompt_seconds.entry(a.clone()).or_default() += ms / 1000.0;
            }
            if let Some(ms) = r.timings.generate_ms {
                *m.generate_seconds.entry(a.clone()).or_default() += ms / 1000.0;
            }
            if let Some(u) = r.usage {
                *m.prompt_tokens.entry(a.clone()).or_default() += u64::from(u.prompt_tokens);
                *m.completion_tokens.entry(a).or_default() += u64::from(u.completion_tokens);
            }
        }
    }

    /// A search refused because too many were waiting.
    pub fn rejected(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.rejected += 1;
        }
    }

    /// The text exposition format (version 0.0.4), with the gauges passed in.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        out.push_str("# HELP loupe_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE loupe_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "loupe_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP loupe_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE loupe_http_request_duration_seconds histogram\n");
        for (route, h) in &m.routes {
            h.write(
                &mut out,
                "loupe_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        out.push_str(
            "# HELP loupe_search_signal_duration_seconds Time to encode the query for a signal and search it.\n",
        );
        out.push_str("# TYPE loupe_search_signal_duration_seconds histogram\n");
        for (signal, h) in &m.signals {
            h.write(
                &mut out,
                "loupe_search_signal_duration_seconds",
                &format!("signal=\"{signal}\""),
            );
        }
        out.push_str("# HELP loupe_search_rejected_total Searches refused because the queue was full.\n");
        out.push_str("# TYPE loupe_search_rejected_total counter\n");
        let _ = writeln!(out, "loupe_search_rejected_total {}", m.rejected);
        out.push_str(
            "# HELP loupe_answers_total Answers given, by answerer and whether the library held one.\n",
        );
        out.push_str("# TYPE loupe_answers_total counter\n");
        for ((a, found), n) in &m.answers {
            let _ = writeln!(
                out,
                "loupe_answers_total{{answerer=\"{}\",found=\"{found}\"}} {n}",
                escape(a)
            );
        }
        out.push_str("# HELP loupe_answer_first_token_seconds Time from the question to the first piece of the answer.\n");
        out.push_str("# TYPE loupe_answer_first_token_seconds histogram\n");
        for (a, h) in &m.first_token {
            h.write(
                &mut out,
                "loupe_answer_first_token_seconds",
                &format!("answerer=\"{}\"", escape(a)),
            );
        }
        out.push_str("# HELP loupe_answer_tokens_total Tokens through generative answerers, by kind.\n");
        out.push_str("# TYPE loupe_answer_tokens_total counter\n");
        for (a, n) in &m.prompt_tokens {
            let _ = writeln!(
                out,
                "loupe_answer_tokens_total{{answerer=\"{}\",kind=\"prompt\"}} {n}",
                escape(a)
            );
        }
        for (a, n) in &m.completion_tokens {
            let _ = writeln!(
                out,
                "loupe_answer_tokens_total{{answerer=\"{}\",kind=\"completion\"}} {n}",
                escape(a)
            );
        }
        for (a, n) in &m.cached_prompt_tokens {
            let _ = writeln!(
                out,
                "loupe_answer_tokens_total{{answerer=\"{}\",kind=\"cached_prompt\"}} {n}",
                escape(a)
            );
        }
        out.push_str(
            "# HELP loupe_answer_model_seconds_total Seconds generative answerers spent on prompts and on \
             generation (prompt tokens/s = rate(prompt - cached_prompt tokens) / rate(prompt seconds)).\n",
        );
        out.push_str("# TYPE loupe_answer_model_seconds_total counter\n");
        for (phase, map) in [("prompt", &m.prompt_seconds), ("generate", &m.generate_seconds)] {
            for (a, v) in map {
                let _ = writeln!(
                    out,
                    "loupe_answer_model_seconds_total{{answerer=\"{}\",phase=\"{phase}\"}} {v:.3}",
                    escape(a)
                );
            }
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histograms_cumulatively() {
        let m = Metrics::default();
        m.request("/v1/search", "POST", 200, 0.004);
        m.request("/v1/search", "POST", 200, 0.2);
        m.signal("visual", 0.003);
        let text = m.render(&[("loupe_index_points", "Points.", 7.0)]);
        assert!(
            text.contains("loupe_http_requests_total{route=\"/v1/search\",method=\"POST\",status=\"200\"} 2")
        );
        assert!(
            text.contains("loupe_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"0.005\"} 1")
        );
        assert!(
            text.contains("loupe_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"0.25\"} 2")
        );
        assert!(
            text.contains("loupe_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"+Inf\"} 2")
        );
        assert!(text.contains("loupe_search_signal_duration_seconds_count{signal=\"visual\"} 1"));
        assert!(text.contains("loupe_index_points 7"));
    }
}
