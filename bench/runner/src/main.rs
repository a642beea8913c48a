//! `make bench`: measures Pocketbook's release binaries side by side in one run and prints
//! the figures as Markdown tables (bench/README.md keeps the latest ones).
//!
//! Usage: pocketbook-bench --bin-dir DIR --functions a,b,... [--rustc VERSION] [--quick]
//!                         [--only cold,calls,memory,hot,history,wallets] [--clients 1,4,16,64]
//!                         [--history-sizes 100,10000,100000] [--wallet-sizes 1000,100000]
//! DIR holds the function binaries and hello-world, built with the release profile.
//! scripts/bench.sh builds them and passes the arguments.

mod calls;
mod cold;
mod history;
mod hot;
mod memory;
mod requests;
mod support;
mod wallets;

use std::path::PathBuf;
use std::time::Instant;
use support::{Bench, Figure};

const FIGURES: [&str; 6] = ["cold", "calls", "memory", "hot", "history", "wallets"];

struct Args {
    bin_dir: PathBuf,
    functions: Vec<String>,
    rustc: String,
    quick: bool,
    only: Vec<String>,
    /// The hot-balance concurrency levels.
    clients: Vec<usize>,
    /// History lengths for the page cost.
    history_sizes: Vec<u64>,
    /// Project sizes (wallets) for the wallet list cost; `None`: the defaults.
    wallet_sizes: Option<Vec<u64>>,
}

fn parse_args() -> Args {
    let mut args = Args {
        bin_dir: PathBuf::from("target/release"),
        functions: Vec::new(),
        rustc: "unknown".into(),
        quick: false,
        only: FIGURES.iter().map(|f| f.to_string()).collect(),
        clients: hot::CONCURRENCY.to_vec(),
        history_sizes: history::SIZES.to_vec(),
        wallet_sizes: None,
    };
    let mut given = std::env::args().skip(1);
    let list = |value: Option<String>| -> Vec<String> {
        value.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    };
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--bin-dir" => args.bin_dir = PathBuf::from(given.next().expect("--bin-dir DIR")),
            "--functions" => args.functions = list(given.next()),
            "--rustc" => args.rustc = given.next().expect("--rustc VERSION"),
            "--quick" => args.quick = true,
            "--only" => args.only = list(given.next()),
            "--history-sizes" => {
                args.history_sizes =
                    list(given.next()).iter().map(|c| c.parse().expect("--history-sizes 100,...")).collect()
            }
            "--wallet-sizes" => {
                args.wallet_sizes =
                    Some(list(given.next()).iter().map(|c| c.parse().expect("--wallet-sizes 1000,...")).collect())
            }
            "--clients" => {
                args.clients = list(given.next()).iter().map(|c| c.parse().expect("--clients 1,2,...")).collect()
            }
            other => panic!("unknown argument {other:?} (see the usage in bench/runner/src/main.rs)"),
        }
    }
    if let Some(unknown) = args.only.iter().find(|f| !FIGURES.contains(&f.as_str())) {
        panic!("--only {unknown}: the figures are {}", FIGURES.join(","));
    }
    assert!(!args.functions.is_empty(), "--functions: which function binaries to measure");
    args
}

/// CPU model, cores, memory, OS, rustc and date: where the numbers come from.
fn machine(rustc: &str) -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim()))
        .unwrap_or("unknown")
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = read("/proc/meminfo");
    let memory_kib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let os_release = read("/etc/os-release");
    let os = os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown".into());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    format!(
        "Machine: {cpu}, {cores} cores, {:.1} GiB memory; {os}, Linux {kernel}, {}; {rustc}; {}. \
         Binaries: native x86_64, release profile of the workspace.",
        memory_kib as f64 / 1024.0 / 1024.0,
        std::env::consts::ARCH,
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    )
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let started = Instant::now();
    let bench = Bench::start(args.bin_dir.clone(), args.functions.clone(), args.quick).await;
    let clients = args.clients.clone();
    let history_sizes = if args.quick { vec![100, 1_000, 5_000] } else { args.history_sizes.clone() };
    let wallet_sizes = match (&args.wallet_sizes, args.quick) {
        (Some(sizes), _) => sizes.clone(),
        (None, true) => wallets::QUICK_SIZES.to_vec(),
        (None, false) => wallets::SIZES.to_vec(),
    };
    let mut figures: Vec<Figure> = Vec::new();
    for figure in FIGURES.iter().filter(|f| args.only.iter().any(|o| o == *f)) {
        eprintln!("[bench] {figure} ({:.0} s so far)", started.elapsed().as_secs_f64());
        figures.push(match *figure {
            "cold" => cold::run(&bench).await,
            "calls" => calls::run(&bench).await,
            "memory" => memory::run(&bench).await,
            "hot" => hot::run(&bench, &clients).await,
            "history" => history::run(&bench, &history_sizes).await,
            _ => wallets::run(&bench, &wallet_sizes).await,
        });
    }
    let mut out = vec![machine(&args.rustc)];
    if args.quick {
        out.push("**Quick run (--quick): fewer repetitions; not numbers to keep.**".into());
    }
    out.extend(figures.iter().map(|f| f.markdown.clone()));
    let verdicts: Vec<_> = figures.iter().flat_map(|f| f.verdicts.iter()).collect();
    let missed: Vec<&str> = verdicts.iter().filter(|(_, met)| !met).map(|(name, _)| name.as_str()).collect();
    out.push(format!(
        "Targets: {} of {} met{}. Bench time: {:.0} s.",
        verdicts.len() - missed.len(),
        verdicts.len(),
        if missed.is_empty() { String::new() } else { format!("; missed: {}", missed.join(", ")) },
        started.elapsed().as_secs_f64()
    ));
    println!("{}", out.join("\n\n"));
}
