//! FPay's own published Python SDK against the FPay-shaped wallets, run exactly as an FPay user
//! runs it with only the base URL changed: finalse-sdk (PyPI, pinned in requirements-dev.txt)
//! drives every wallet and movement call it has (wallets, deposits, transfers, quasi-transfers,
//! fund requests, transactions, attempts) through tests/clients/fpay_flow.py, against the real
//! function binaries behind the local API Gateway. How the script reaches the local API and what
//! it works around in the SDK is at its top; what the SDK sends and parses is in
//! tests/clients/FPAY_WIRE.md.
//!
//! `make tools` (which `make test` runs first) installs the SDK.

use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::TestApp;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A whole flow takes seconds; this only stops a hung SDK call (it sets no timeout) from hanging
/// the test run.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

/// The project's virtualenv Python (with finalse-sdk), as contract.rs finds it.
fn python() -> PathBuf {
    std::env::var("POCKETBOOK_PYTHON").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join(".venv/bin/python"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fpays_python_sdk_runs_every_wallet_and_movement_call() {
    let python = python();
    assert!(
        python.exists(),
        "{} not found: run `make tools` (it installs finalse-sdk from requirements-dev.txt into .venv)",
        python.display()
    );
    let app = TestApp::spawn().await;
    // A key with a signing secret: every one of the SDK's calls is signed and verified, as a
    // merchant's would be (tests/tests/request_signing.rs covers the refusals).
    let signed = app.new_signed_api_key(&app.project, &["read", "write"]).await;
    let (api_key, secret_key) = (signed.key.as_str(), signed.secret.as_str());

    let mut command = tokio::process::Command::new(&python);
    command
        .arg("fpay_flow.py")
        .current_dir(workspace_root().join("tests/clients"))
        .env("FPAY_BASE_URL", &app.url)
        .env("FPAY_API_KEY", api_key)
        .env("FPAY_SECRET_KEY", secret_key)
        .env("PYTHONUTF8", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let output = tokio::time::timeout(FLOW_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("the finalse-sdk flow did not finish within {FLOW_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("cannot start `{} fpay_flow.py`: {error}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("finalse-sdk flow ({:.1?}, {}):\n{stdout}{stderr}", started.elapsed(), output.status);

    // "N of M SDK calls passed", the last line: a run that called nothing would exit 0 too.
    let summary = stdout.lines().rev().find_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
        [passed, "of", total, "SDK", "calls", "passed"] => {
            Some((passed.parse::<usize>().ok()?, total.parse::<usize>().ok()?))
        }
        _ => None,
    });
    let (passed, total) =
        summary.unwrap_or_else(|| panic!("the finalse-sdk flow printed no summary line:\n{stdout}\n{stderr}"));
    let failed: Vec<&str> = stdout.lines().filter(|line| line.starts_with("FAIL ")).collect();
    assert!(
        total > 0 && passed == total && output.status.success(),
        "finalse-sdk: {passed} of {total} SDK calls passed ({}); the whole run is printed above; the failures:\n{}",
        output.status,
        failed.join("\n")
    );
    let ok = stdout.lines().filter(|line| line.starts_with("ok ")).count();
    assert_eq!(ok, total, "one \"ok\" line per SDK call:\n{stdout}");
}
