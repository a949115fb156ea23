//! Terminal conventions, decided from values the caller passes in (the environment is read
//! in the config module only): colour (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR`),
//! the pager (`GRYT_PAGER`, `PAGER`, `--no-pager`) and the width tables wrap to (`COLUMNS`).
//!
//! anstyle-query answers the colour questions too, but it reads the process environment
//! itself; these functions take the values instead, so the precedence is tested as a table.

use std::io::IsTerminal;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal (and the environment does not say otherwise).
    #[default]
    Auto,
    /// Always colour, also into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

/// The environment variables that shape terminal output, as captured at start-up. An empty
/// value counts as unset (so an empty `NO_COLOR` does nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermEnv {
    pub no_color: Option<String>,
    pub clicolor: Option<String>,
    pub clicolor_force: Option<String>,
    pub columns: Option<String>,
    pub gryt_pager: Option<String>,
    pub pager: Option<String>,
    pub less: Option<String>,
}

impl TermEnv {
    /// The values from `lookup` (an environment read elsewhere); empty values are dropped.
    pub fn from_lookup<'a>(lookup: impl Fn(&str) -> Option<&'a str>) -> TermEnv {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty()).map(str::to_string);
        TermEnv {
            no_color: get("NO_COLOR"),
            clicolor: get("CLICOLOR"),
            clicolor_force: get("CLICOLOR_FORCE"),
            columns: get("COLUMNS"),
            gryt_pager: get("GRYT_PAGER"),
            pager: get("PAGER"),
            less: get("LESS"),
        }
    }
}

/// Whether output to a stream is coloured. Precedence: `--color always|never`, then a
/// non-empty `NO_COLOR` (off), then `CLICOLOR_FORCE` other than `0` (on), then `CLICOLOR=0`
/// (off), then whether the stream is a terminal.
pub fn color_enabled(choice: ColorChoice, env: &TermEnv, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => return true,
        ColorChoice::Never => return false,
        ColorChoice::Auto => {}
    }
    if env.no_color.is_some() {
        return false;
    }
    if env.clicolor_force.as_deref().is_some_and(|v| v != "0") {
        return true;
    }
    if env.clicolor.as_deref() == Some("0") {
        return false;
    }
    is_terminal
}

/// The width human tables wrap to: `COLUMNS` when it is a number, else the terminal's
/// width, else none (no wrapping: a pipe gets whole lines).
pub fn table_width(env: &TermEnv, terminal_width: Option<u16>) -> Option<u16> {
    env.columns
        .as_deref()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w > 0)
        .or(terminal_width)
}

/// The pager to start and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerPlan {
    /// A shell command line (`sh -c`), like git's `core.pager`.
    pub command: String,
    /// `LESS=FRX` for the pager when `LESS` is unset: quit when the output fits on one
    /// screen (`F`), keep colours (`R`), leave the screen as it is (`X`).
    pub less_env: Option<&'static str>,
}

/// Whether human output goes through a pager, and which: never for JSON, never with
/// `--no-pager`, never when stdout is not a terminal; `GRYT_PAGER`, else `PAGER`, else
/// `less`. A pager of `cat` means none.
pub fn pager_plan(
    env: &TermEnv,
    json: bool,
    no_pager: bool,
    stdout_terminal: bool,
) -> Option<PagerPlan> {
    if json || no_pager || !stdout_terminal {
        return None;
    }
    let command = env
        .gryt_pager
        .as_deref()
        .or(env.pager.as_deref())
        .unwrap_or("less")
        .trim()
        .to_string();
    if command.is_empty() || command == "cat" {
        return None;
    }
    Some(PagerPlan {
        command,
        less_env: env.less.is_none().then_some("FRX"),
    })
}

/// Whether stdout and stderr are terminals, and stdout's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Terminal {
    pub stdout: bool,
    pub stderr: bool,
    pub width: Option<u16>,
}

impl Terminal {
    /// The process's own streams.
    pub fn detect() -> Terminal {
        let stdout = std::io::stdout();
        let stdout_terminal = stdout.is_terminal();
        let width = if stdout_terminal {
            rustix::termios::tcgetwinsize(&stdout)
                .ok()
                .map(|w| w.ws_col)
                .filter(|w| *w > 0)
        } else {
            None
        };
        Terminal {
            stdout: stdout_terminal,
            stderr: std::io::stderr().is_terminal(),
            width,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> TermEnv {
        TermEnv::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v))
    }

    #[test]
    fn colour_precedence() {
        use ColorChoice::*;
        // (choice, environment, terminal, expected)
        type Vars = &'static [(&'static str, &'static str)];
        let cases: &[(ColorChoice, Vars, bool, bool)] = &[
            (Auto, &[], true, true),
            (Auto, &[], false, false),
            // --color beats everything.
            (Always, &[("NO_COLOR", "1")], false, true),
            (Never, &[("CLICOLOR_FORCE", "1")], true, false),
            // NO_COLOR only when non-empty.
            (Auto, &[("NO_COLOR", "1")], true, false),
            (Auto, &[("NO_COLOR", "")], true, true),
            // NO_COLOR beats CLICOLOR_FORCE.
            (
                Auto,
                &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
                false,
                false,
            ),
            (
                Auto,
                &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
                false,
                true,
            ),
            // CLICOLOR_FORCE: non-empty and not 0.
            (Auto, &[("CLICOLOR_FORCE", "1")], false, true),
            (Auto, &[("CLICOLOR_FORCE", "yes")], false, true),
            (Auto, &[("CLICOLOR_FORCE", "0")], false, false),
            (Auto, &[("CLICOLOR_FORCE", "")], false, false),
            // CLICOLOR_FORCE beats CLICOLOR=0.
            (
                Auto,
                &[("CLICOLOR_FORCE", "1"), ("CLICOLOR", "0")],
                false,
                true,
            ),
            // CLICOLOR=0 turns colour off on a terminal; CLICOLOR=1 does not force it.
            (Auto, &[("CLICOLOR", "0")], true, false),
            (Auto, &[("CLICOLOR", "1")], true, true),
            (Auto, &[("CLICOLOR", "1")], false, false),
        ];
        for (choice, vars, tty, expected) in cases {
            assert_eq!(
                color_enabled(*choice, &env(vars), *tty),
                *expected,
                "{choice:?} {vars:?} terminal={tty}"
            );
        }
    }

    #[test]
    fn pager_decision() {
        let plain = env(&[]);
        let less = Some(PagerPlan {
            command: "less".into(),
            less_env: Some("FRX"),
        });
        assert_eq!(pager_plan(&plain, false, false, true), less);
        // Never for JSON, never with --no-pager, never into a pipe or a file.
        assert_eq!(pager_plan(&plain, true, false, true), None);
        assert_eq!(pager_plan(&plain, false, true, true), None);
        assert_eq!(pager_plan(&plain, false, false, false), None);
        // GRYT_PAGER before PAGER; LESS as the user set it.
        let both = env(&[("GRYT_PAGER", "most -s"), ("PAGER", "more"), ("LESS", "R")]);
        assert_eq!(
            pager_plan(&both, false, false, true),
            Some(PagerPlan {
                command: "most -s".into(),
                less_env: None
            })
        );
        let pager = env(&[("PAGER", "more")]);
        assert_eq!(
            pager_plan(&pager, false, false, true).map(|p| p.command),
            Some("more".to_string())
        );
        // `cat` is no pager.
        assert_eq!(
            pager_plan(&env(&[("GRYT_PAGER", "cat")]), false, false, true),
            None
        );
    }

    #[test]
    fn width_from_columns_then_terminal() {
        assert_eq!(table_width(&env(&[("COLUMNS", "60")]), Some(120)), Some(60));
        assert_eq!(
            table_width(&env(&[("COLUMNS", "wide")]), Some(120)),
            Some(120)
        );
        assert_eq!(table_width(&env(&[("COLUMNS", "0")]), None), None);
        assert_eq!(table_width(&env(&[]), None), None);
    }
}
