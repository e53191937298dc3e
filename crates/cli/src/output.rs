//! What the CLI prints: data on stdout, everything else (logs, errors,
//! diagnostics) on stderr; colour only on a terminal and never under NO_COLOR.

use std::io::{IsTerminal, Write};

use stackwright_stack::Diagnostics;
use stackwright_storage::{DatabaseUrl, PrepareReport};
use tracing_subscriber::EnvFilter;

pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Whether log lines are JSON (set once by `init_logging`), so that child
/// processes log the same way.
static LOG_JSON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

pub fn log_format_is_json() -> bool {
    LOG_JSON.get().copied().unwrap_or(false)
}

pub fn init_logging(json: bool) {
    let _ = LOG_JSON.set(json);
    let filter = EnvFilter::try_from_env(stackwright_stack::env::LOG)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_allowed());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub struct Output {
    colour: bool,
}

impl Output {
    pub fn new() -> Self {
        Output {
            colour: colour_allowed(),
        }
    }

    /// Whether stderr may be coloured.
    pub fn colour(&self) -> bool {
        self.colour
    }

    pub fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    pub fn json(&self, value: &serde_json::Value) {
        self.line(&value.to_string());
    }

    pub fn error(&self, text: &str) {
        let label = if self.colour {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        eprintln!("{label}: {text}");
    }

    pub fn diagnostics(&self, diags: &Diagnostics) {
        for d in diags.iter() {
            eprintln!("{d}\n");
        }
        let n = diags.len();
        self.error(&format!(
            "{n} problem{} found; nothing was changed",
            if n == 1 { "" } else { "s" }
        ));
    }

    pub fn prepare_report(&self, stack: &str, url: &DatabaseUrl, report: &PrepareReport) {
        self.line(&format!("database: {url}"));
        match report.migration.version {
            Some(v) => {
                self.line(&format!("applied migration {v} to `{stack}`:"));
                for step in &report.migration.applied {
                    self.line(&format!("  - {step}"));
                }
            }
            None => self.line(&format!("schema of `{stack}` is up to date")),
        }
        for s in &report.seeds {
            self.line(&format!(
                "seed `{}`: {} row(s) inserted, {} applied before",
                s.table, s.inserted, s.already_applied
            ));
        }
    }

    pub fn log_prepare(&self, report: &PrepareReport) {
        if let Some(v) = report.migration.version {
            tracing::info!(version = v, steps = ?report.migration.applied, "applied migration");
        }
        for s in &report.seeds {
            tracing::info!(table = %s.table, inserted = s.inserted, already_applied = s.already_applied, "seed data");
        }
    }
}
