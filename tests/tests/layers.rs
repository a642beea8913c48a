//! The `pocketbook` crate's layering, read from its sources: every `use` and every path that
//! starts with `crate::`, `super::` or `self::` is an edge from the file's module to the module
//! that defines what it names (through a parent's `pub use`, to the child that defines it).
//!
//! - Layers only point down: edge/actions/config → api → services → engine → store/providers
//!   → domain/clock/failpoint.
//! - No cycles: between top-level modules, nor between the files of one (a child using what its
//!   parent itself defines is the usual shape of a Rust module, not a cycle).
//! - DynamoDB's SDK types stay inside `store/`; `domain` uses nothing but `domain` and does no
//!   I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. A module may use its own layer's modules (without a cycle) and lower ones.
const LAYERS: &[&[&str]] = &[
    &["edge", "actions", "config"],
    &["api"],
    &["services"],
    &["engine"],
    &["store", "bus", "providers"],
    &["domain", "clock", "failpoint"],
];

type Module = Vec<String>;

struct Source {
    module: Module,
    code: String,
}

fn sources() -> Vec<Source> {
    // Another tree can be checked by naming its `src` (e.g. an older commit's, unpacked).
    let root = std::env::var_os("LAYERS_SOURCES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src"));
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("under src").with_extension("");
            let mut module: Module = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            Source { module, code: without_comments_and_strings(&text) }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code with comments, strings and character literals blanked out.
fn without_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        if rest.starts_with(&['/', '/']) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if rest.starts_with(&['/', '*']) {
            i += 2;
            while i < chars.len() && !chars[i..].starts_with(&['*', '/']) {
                i += 1;
            }
            i += 2;
        } else if chars[i] == 'r'
            && rest.len() > 1
            && (rest[1] == '"' || rest[1] == '#')
            && !ident_char(prev(&chars, i))
        {
            // A raw string: r"...", r#"..."#.
            let hashes = rest[1..].iter().take_while(|c| **c == '#').count();
            if rest.get(1 + hashes) != Some(&'"') {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            let end: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while i < chars.len() && !chars[i..].starts_with(&end) {
                i += 1;
            }
            i += end.len();
            out.push_str("\"\"");
        } else if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if chars[i] == '\'' && (rest.get(2) == Some(&'\'') || (rest.get(1) == Some(&'\\'))) {
            // A character literal ('x', '\n', '\''); anything else is a lifetime.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn prev(chars: &[char], i: usize) -> char {
    if i == 0 {
        ' '
    } else {
        chars[i - 1]
    }
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn tokens(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if ident_char(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// The paths a use tree starting at `tokens[*at]` names, each with `prefix` before it.
fn use_tree(tokens: &[String], at: &mut usize, prefix: &[String], paths: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*at).map(String::as_str) {
            Some("{") => {
                *at += 1;
                while tokens.get(*at).is_some_and(|t| t != "}") {
                    use_tree(tokens, at, &path, paths);
                    if tokens.get(*at).is_some_and(|t| t == ",") {
                        *at += 1;
                    }
                }
                *at += 1;
                return;
            }
            Some("*") => {
                *at += 1;
                paths.push(path);
                return;
            }
            Some(t) if ident_char(t.chars().next().unwrap_or(' ')) => {
                path.push(t.to_owned());
                *at += 1;
                match tokens.get(*at).map(String::as_str) {
                    Some("::") => *at += 1,
                    Some("as") => {
                        *at += 2;
                        paths.push(path);
                        return;
                    }
                    _ => {
                        paths.push(path);
                        return;
                    }
                }
            }
            _ => return,
        }
    }
}

/// Every crate-relative path a file names, as written (`crate`, `super` or `self` first).
fn named_paths(code: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let tokens = tokens(code);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" {
            i += 1;
            use_tree(&tokens, &mut i, &[], &mut paths);
        } else if matches!(tokens[i].as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::")
        {
            use_tree(&tokens, &mut i, &[], &mut paths);
        } else {
            i += 1;
        }
    }
    (paths, tokens)
}

struct Crate {
    modules: BTreeSet<Module>,
    /// For each module, the items it re-exports with `pub use`, and from where.
    reexports: BTreeMap<Module, BTreeMap<String, Vec<String>>>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
    tokens: BTreeMap<Module, Vec<String>>,
}

/// `path` as written in `module`, from the crate root.
fn absolute(module: &Module, path: &[String]) -> Option<Vec<String>> {
    let mut base = module.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|p| p == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    Some(base.into_iter().chain(rest.iter().cloned()).collect())
}

impl Crate {
    fn read() -> Self {
        let sources = sources();
        let modules: BTreeSet<Module> = sources.iter().map(|s| s.module.clone()).collect();
        let mut reexports: BTreeMap<Module, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        let mut named = Vec::new();
        let mut tokens = BTreeMap::new();
        for source in &sources {
            let (paths, toks) = named_paths(&source.code);
            // `pub use child::Item`: which child an item of this module comes from.
            for (index, _) in toks.iter().enumerate().filter(|(i, t)| *t == "use" && *i > 0 && toks[i - 1] == "pub") {
                let mut at = index + 1;
                let mut uses = Vec::new();
                use_tree(&toks, &mut at, &[], &mut uses);
                for path in uses {
                    let full = match path.first().map(String::as_str) {
                        Some("crate" | "super" | "self") => absolute(&source.module, &path),
                        _ => Some(source.module.iter().cloned().chain(path.iter().cloned()).collect()),
                    };
                    if let (Some(full), Some(item)) = (full, path.last()) {
                        reexports.entry(source.module.clone()).or_default().insert(item.clone(), full);
                    }
                }
            }
            named.push((source.module.clone(), paths));
            tokens.insert(source.module.clone(), toks);
        }
        let mut krate = Crate { modules, reexports, edges: BTreeMap::new(), tokens };
        for (module, paths) in named {
            for path in paths {
                let resolved = absolute(&module, &path).and_then(|full| krate.resolve(&full, 0));
                if let Some(target) = resolved.filter(|t| *t != module && !t.is_empty()) {
                    krate.edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        krate
    }

    /// The module that defines what `path` names.
    fn resolve(&self, path: &[String], depth: usize) -> Option<Module> {
        let module = (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| self.modules.contains(m))?;
        let item = path.get(module.len());
        let reexported = item.and_then(|item| self.reexports.get(&module)?.get(item));
        match reexported {
            Some(source) if depth < 8 && source.as_slice() != path => {
                let rest = &path[module.len() + 1..];
                let full: Vec<String> = source.iter().chain(rest).cloned().collect();
                self.resolve(&full, depth + 1).or(Some(module))
            }
            _ => Some(module),
        }
    }
}

fn layer(top: &str) -> usize {
    LAYERS.iter().position(|layer| layer.contains(&top)).unwrap_or_else(|| panic!("module {top} is in no layer"))
}

fn is_ancestor(ancestor: &Module, of: &Module) -> bool {
    ancestor.len() < of.len() && of.starts_with(ancestor)
}

/// The groups of nodes that reach each other (the graph's circles), each sorted.
fn circles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    let reach = |from: &N| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(node) = todo.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&N, BTreeSet<N>> = edges.keys().map(|node| (node, reach(node))).collect();
    let mut groups: BTreeSet<Vec<N>> = BTreeSet::new();
    for (node, from_node) in &reached {
        if from_node.contains(*node) {
            let group = from_node.iter().filter(|other| reached.get(other).is_some_and(|r| r.contains(*node)));
            groups.insert(group.cloned().collect());
        }
    }
    groups.into_iter().collect()
}

fn name(module: &Module) -> String {
    module.join("::")
}

#[test]
fn layers_only_point_down() {
    let krate = Crate::read();
    let mut upward = Vec::new();
    for (from, targets) in &krate.edges {
        for to in targets {
            if layer(&from[0]) > layer(&to[0]) {
                upward.push(format!("{} → {}", name(from), name(to)));
            }
        }
    }
    assert!(upward.is_empty(), "imports running back up the layers: {upward:#?}");
    assert!(krate.edges.len() > 40, "the sources were read: {} modules with imports", krate.edges.len());
}

#[test]
fn no_module_imports_in_a_circle() {
    let krate = Crate::read();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, targets) in &krate.edges {
        for to in targets {
            if from[0] != to[0] {
                tops.entry(from[0].clone()).or_default().insert(to[0].clone());
            } else if !is_ancestor(to, from) {
                files.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    let in_files: Vec<Vec<String>> = circles(&files).iter().map(|c| c.iter().map(name).collect()).collect();
    let none: (Vec<Vec<String>>, Vec<Vec<String>>) = (Vec::new(), Vec::new());
    assert_eq!((circles(&tops), in_files), none, "(top-level modules, files of one) in a circle");
}

#[test]
fn the_check_sees_a_circle_and_a_re_export() {
    let edges = BTreeMap::from([(1, BTreeSet::from([2])), (2, BTreeSet::from([3, 4])), (3, BTreeSet::from([1]))]);
    assert_eq!(circles(&edges), vec![vec![1, 2, 3]]);
    assert!(circles(&BTreeMap::from([(1, BTreeSet::from([2]))])).is_empty());
    let krate = Crate::read();
    let path = |p: &str| p.split("::").map(str::to_owned).collect::<Vec<_>>();
    // `store::Store` is defined in store/mod.rs; `store::HeadRecord` in store/balances.rs.
    assert_eq!(krate.resolve(&path("store::Store"), 0), Some(path("store")));
    assert_eq!(krate.resolve(&path("store::HeadRecord"), 0), Some(path("store::balances")));
    assert_eq!(krate.resolve(&path("services::Balances"), 0), Some(path("services::balances")));
    let edge = |from: &str| krate.edges.get(&path(from)).cloned().unwrap_or_default();
    assert!(edge("engine::commit").contains(&path("store::commit")), "{:?}", edge("engine::commit"));
}

#[test]
fn dynamodb_types_stay_in_the_store_queue_and_bus_types_in_the_bus_and_the_domain_does_no_io() {
    let krate = Crate::read();
    for (module, tokens) in &krate.tokens {
        if module.first().is_some_and(|top| top != "store") {
            let sdk = tokens.iter().find(|t| t.starts_with("aws_sdk_dynamodb") || t.starts_with("aws_smithy"));
            assert_eq!(sdk, None, "{} names DynamoDB's SDK", name(module));
        }
        if module.first().is_some_and(|top| top != "bus") {
            let sdk = tokens.iter().find(|t| t.starts_with("aws_sdk_eventbridge") || t.starts_with("aws_sdk_sqs"));
            assert_eq!(sdk, None, "{} names EventBridge's or SQS's SDK: only bus/ does", name(module));
        }
        if module.first().is_some_and(|top| top == "domain") {
            for io in ["tokio", "aws_config", "aws_sdk_dynamodb", "hyper", "lambda_runtime", "reqwest"] {
                assert!(!tokens.iter().any(|t| t == io), "{} uses {io}", name(module));
            }
            for io in ["fs", "net", "process", "env"] {
                let uses = tokens.windows(3).any(|w| w[0] == "std" && w[1] == "::" && w[2] == io);
                assert!(!uses, "{} uses std::{io}", name(module));
            }
            let outside: Vec<_> =
                krate.edges.get(module).into_iter().flatten().filter(|to| to[0] != "domain").map(name).collect();
            assert!(outside.is_empty(), "{} uses {outside:?}", name(module));
        }
    }
}
