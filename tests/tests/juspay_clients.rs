//! Juspay's own published clients against the Juspay facade, run exactly as a merchant runs
//! them with only the host changed: juspayp3 (PyPI, pinned in requirements-dev.txt) and
//! expresscheckout-nodejs (npm, pinned in tests/clients/package-lock.json) drive the whole
//! wallet flow (customers, orders, wallet accounts, payments, the customer's top-up, refunds)
//! through tests/clients/juspay_flow.py and tests/clients/juspay_flow.js, against the real
//! function binaries behind the local API Gateway. How each script reaches the local API and
//! what it works around in its client is at its top; what each client sends on the wire is in
//! tests/clients/WIRE.md.
//!
//! `make tools` (which `make test` runs first) installs both clients.

use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::TestApp;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A whole flow takes seconds; this only stops a hung client from hanging the test run.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

fn clients() -> PathBuf {
    workspace_root().join("tests/clients")
}

/// The project's virtualenv Python (with juspayp3), as contract.rs finds it.
fn python() -> PathBuf {
    std::env::var("POCKETBOOK_PYTHON").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join(".venv/bin/python"))
}

/// Runs one flow script against `app` and fails the test, with everything the script printed,
/// unless every one of its client calls passed.
async fn run_flow(app: &TestApp, label: &str, program: &str, script: &str) {
    let mut command = tokio::process::Command::new(program);
    command
        .arg(script)
        // The Node client reads package.json from its working directory (tests/clients).
        .current_dir(clients())
        .env("JUSPAY_BASE_URL", &app.url)
        .env("JUSPAY_API_KEY", &app.api_key)
        .env("JUSPAY_MERCHANT_ID", &app.project)
        // juspay_flow.js makes its TLS certificate with this Python (tests/clients/tls_cert.py).
        .env("JUSPAY_PYTHON", python())
        .env("PYTHONUTF8", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let output = tokio::time::timeout(FLOW_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("the {label} flow did not finish within {FLOW_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("cannot start `{program} {script}` for the {label} flow: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{label} flow ({:.1?}, {}):\n{stdout}{stderr}", started.elapsed(), output.status);
    assert!(output.status.success(), "the {label} flow failed ({}):\n{stdout}\n{stderr}", output.status);

    // "N of M client calls passed", the last line: a run that called nothing would exit 0 too.
    let summary = stdout.lines().rev().find_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
        [passed, "of", total, "client", "calls", "passed"] => {
            Some((passed.parse::<usize>().ok()?, total.parse::<usize>().ok()?))
        }
        _ => None,
    });
    let (passed, total) = summary.unwrap_or_else(|| panic!("the {label} flow printed no summary line:\n{stdout}"));
    assert!(total > 0 && passed == total, "the {label} flow passed {passed} of {total} client calls:\n{stdout}");
    let ok = stdout.lines().filter(|line| line.starts_with("ok ")).count();
    assert_eq!(ok, total, "one \"ok\" line per client call:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juspays_python_client_runs_the_whole_wallet_flow() {
    let python = python();
    assert!(
        python.exists(),
        "{} not found: run `make tools` (it installs juspayp3 from requirements-dev.txt into .venv)",
        python.display()
    );
    let app = TestApp::spawn().await;
    run_flow(&app, "juspayp3", &python.to_string_lossy(), "juspay_flow.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juspays_node_client_runs_the_wallet_flow_it_has_calls_for() {
    let client = clients().join("node_modules/expresscheckout-nodejs/package.json");
    assert!(client.exists(), "{} not found: run `make tools` (it runs `npm ci` in tests/clients)", client.display());
    let node = std::env::var("POCKETBOOK_NODE").unwrap_or_else(|_| "node".to_owned());
    let app = TestApp::spawn().await;
    run_flow(&app, "expresscheckout-nodejs", &node, "juspay_flow.js").await;
}
