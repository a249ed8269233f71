//! The ClickHouse SQL on a *current* ClickHouse release: the project keeps its SQL working
//! on Debian's 18.16 (the server every other ClickHouse test uses) and on current versions,
//! and this is the current end. `tests/clients/clickhouse_current_check.py` runs, in the
//! ClickHouse engine embedded in the `chdb` package (pinned in tests/clients/requirements.txt),
//! every migration file twice (as `tradeflow clickhouse migrate` does, then every statement
//! again: idempotent, definitions unchanged), every analyst view over a few inserted events
//! (re-delivered copies included: each event once), and every report query exactly as
//! `sinks::reports::source` sends it (`tradeflow clickhouse print-sql`), with the column
//! types its row structs decode. It prints the ClickHouse version it ran on.
//!
//! The script also runs `tradeflow clickhouse migrate` and `tradeflow report ...` (the Rust
//! `clickhouse` client, RowBinary decoding) against the embedded engine over a minimal HTTP
//! front. A second test runs the same script against the suite's 18.16 server
//! (`CLICKHOUSE_URL`), so the check's own expectations are known to hold on both ends; a
//! third runs the whole [`crate::clickhouse_reports`] scenario (Kafka, the sink's RowBinary
//! INSERTs, views, reports, the API's reports) on the embedded current engine.
//!
//! Needs `TRADEFLOW_PYTHON` with chdb (scripts/test.sh makes it); fails and says how to set
//! it when missing. `clickhouse_current_sql` needs neither Kafka nor a ClickHouse server.

use crate::api_platform::{python, repo_root, wait_or_kill};
use crate::clickhouse_sink::clickhouse_url;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::tradeflow_bin;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn clickhouse_current_sql() {
    let summary = run_check(&[]);
    // Current means much newer than the 18.16 server of the other tests.
    let version = summary["clickhouse"].as_str().unwrap_or_default().to_string();
    let major: u32 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 24, "ran on ClickHouse {version}: not a current release ({summary})");
}

/// The same check over HTTP against the suite's 18.16 server (`CLICKHOUSE_URL`): its
/// expectations (figures, the report rows' column types) hold on both ends, so a failure
/// of [`clickhouse_current_sql`] is a difference between the versions, not of the check.
#[test]
fn clickhouse_current_check_holds_on_18_16() {
    let Some(url) = clickhouse_url() else { return };
    let summary = run_check(&["--url", &url]);
    assert_eq!(summary["engine"], "http", "{summary}");
}

/// The end-to-end scenario of [`crate::clickhouse_reports`] (events produced to Kafka,
/// written by `tradeflow sink clickhouse` with RowBinary INSERTs, re-delivered, read back
/// through every view, every `tradeflow report` and the API's report endpoints, exact
/// figures) on current ClickHouse: the embedded engine served over HTTP by
/// `clickhouse_current_check.py --serve` (a minimal HTTP front for the `clickhouse` crate's
/// queries and inserts; the engine, its SQL dialect and its RowBinary are ClickHouse's own).
/// Needs Kafka (`KAFKA_BROKERS`) like the scenario.
#[test]
fn clickhouse_current_sink_views_and_reports() {
    let py = python("chdb");
    let script = repo_root().join("tests/clients/clickhouse_current_check.py");
    let err_path = std::env::temp_dir().join(format!("clickhouse_current_serve.{}.err", std::process::id()));
    let mut child = Command::new(&py)
        .arg(&script)
        .arg("--serve")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped()) // closing it stops the server
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("running {py} {} --serve: {e}", script.display()));
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            drop(self.0.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let server = Stop(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let serving = line.trim().strip_prefix("SERVING ").unwrap_or_else(|| {
        panic!("clickhouse_current_check.py --serve: {line:?}\n{}", std::fs::read_to_string(&err_path).unwrap_or_default())
    });
    let (url, version) = serving.split_once(' ').expect("SERVING <url> <version>");
    eprintln!("current ClickHouse {version} served at {url}");
    crate::clickhouse_reports::views_and_reports_scenario(url);
    drop(server);
    let _ = std::fs::remove_file(&err_path);
}

/// Runs tests/clients/clickhouse_current_check.py with `extra` arguments; panics with its
/// output unless it succeeds; returns its CLICKHOUSE_CURRENT_OK summary.
fn run_check(extra: &[&str]) -> serde_json::Value {
    let py = python("chdb");
    let script = repo_root().join("tests/clients/clickhouse_current_check.py");
    let tag = format!("{}.{}", std::process::id(), extra.len());
    let out_path = std::env::temp_dir().join(format!("clickhouse_current_check.{tag}.out"));
    let err_path = std::env::temp_dir().join(format!("clickhouse_current_check.{tag}.err"));
    let started = Instant::now();
    let mut child = Command::new(&py)
        .arg(&script)
        .arg("--tradeflow")
        .arg(tradeflow_bin())
        .args(extra)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("running {py} {}: {e}", script.display()));
    let status = wait_or_kill(&mut child, started, SCRIPT_TIMEOUT);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let report = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    let status = status.unwrap_or_else(|| panic!("clickhouse_current_check.py still running after {SCRIPT_TIMEOUT:?}\n{report}"));
    assert!(status.success(), "clickhouse_current_check.py {extra:?} exited with {status}: the ClickHouse SQL fails\n{report}");
    let version = stdout.lines().find(|l| l.starts_with("ClickHouse ")).unwrap_or_else(|| panic!("no version line\n{report}"));
    eprintln!("clickhouse_current_check.py {extra:?}: {version}, {:.1?}", started.elapsed());
    let ok_line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CLICKHOUSE_CURRENT_OK "))
        .unwrap_or_else(|| panic!("no CLICKHOUSE_CURRENT_OK line\n{report}"));
    let summary: serde_json::Value =
        serde_json::from_str(ok_line).unwrap_or_else(|e| panic!("CLICKHOUSE_CURRENT_OK is not JSON ({e}): {ok_line}"));
    let on_disk = std::fs::read_dir(repo_root().join("sinks/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".sql"))
        .count();
    assert_eq!(summary["migrations"].as_array().map(Vec::len), Some(on_disk), "every migration file ran\n{report}");
    assert!(summary["reports"].as_object().is_some_and(|r| r.len() >= 8), "every report query ran\n{report}");
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    summary
}
