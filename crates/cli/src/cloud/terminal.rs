//! The person at the terminal, as the lifecycle commands meet them:
//! questions (refused without a terminal unless `--yes`), plans as lines,
//! stack events with the time since the command started, a heartbeat while
//! AWS is quiet. Everything goes to stderr; colour only where allowed.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use stackwright_deploy::{Action, Change, Event, Plan, Replacement, Ui};

/// The deployer's [`Ui`] on a terminal.
pub struct Terminal {
    pub yes: bool,
    pub progress: Progress,
}

impl Terminal {
    pub fn new(yes: bool, colour: bool) -> Self {
        Terminal {
            yes,
            progress: Progress::new(colour),
        }
    }
}

impl Ui for Terminal {
    fn confirm(&self, question: &str) -> Result<bool, String> {
        confirm(question, self.yes)
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    fn plan(&self, plan: &Plan) {
        show_plan(plan, self.progress.colour);
    }

    fn event(&self, stack: &str, event: &Event) {
        self.progress.event(stack, event);
    }
}

pub fn paint(colour: bool, code: &str, text: &str) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A plan as people read it: one line per change, replacements of data
/// marked.
pub fn show_plan(plan: &Plan, colour: bool) {
    if plan.change_set.is_none() {
        eprintln!("{}: no changes", plan.stack);
        return;
    }
    let verb = if plan.creates_stack {
        "create"
    } else {
        "update"
    };
    eprintln!("{}: {verb}, {} change(s)", plan.stack, plan.changes.len());
    for c in &plan.changes {
        eprintln!("  {}", change_line(c, colour));
    }
}

fn change_line(c: &Change, colour: bool) -> String {
    let (mark, code) = match (c.action, c.replacement) {
        (Action::Add, _) => ("+ add    ", "32"),
        (Action::Remove, _) => ("- remove ", "31"),
        (Action::Modify, Replacement::Always) => ("! replace", "33"),
        (Action::Modify, Replacement::Conditional) => ("~ modify (may replace)", "33"),
        (Action::Modify, Replacement::Never) => ("~ modify ", "36"),
        (Action::Other, _) => ("? other  ", "0"),
    };
    let mut line = format!(
        "{} {} ({})",
        paint(colour, code, mark),
        c.logical_id,
        c.resource_type
    );
    if c.loses_data() {
        line.push_str(&paint(colour, "1;31", "  <- loses its data"));
    }
    line
}

/// Ask on the terminal; without one, refuse unless told `--yes`.
pub fn confirm(question: &str, yes: bool) -> Result<bool, String> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{question}: confirmation needed, but stdin is not a terminal; re-run with --yes"
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("{question}: cannot read the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

/// Prints events as they come, with the time since the operation started.
pub struct Progress {
    started: Instant,
    pub colour: bool,
}

impl Progress {
    pub fn new(colour: bool) -> Self {
        Progress {
            started: Instant::now(),
            colour,
        }
    }

    pub fn event(&self, stack: &str, e: &Event) {
        let code = if e.status.ends_with("_FAILED") {
            "31"
        } else if e.status.ends_with("_COMPLETE") {
            "32"
        } else {
            "0"
        };
        let mut line = format!(
            "[{:>4}s] {stack} {} ({}) {}",
            self.started.elapsed().as_secs(),
            e.logical_id,
            e.resource_type,
            paint(self.colour, code, &e.status)
        );
        if let Some(r) = e.reason.as_deref().filter(|r| !r.is_empty()) {
            line.push_str(&format!(": {r}"));
        }
        eprintln!("{line}");
    }
}

/// Runs `fut` while printing a line every 30 s (AWS can be quiet for
/// minutes).
pub async fn with_heartbeat<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    stackwright_deploy::deployer::working(what, fut, |line| eprintln!("{line}")).await
}
