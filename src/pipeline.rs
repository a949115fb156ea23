//! Pipelines: the definition files in `.gryt/pipelines/NAME.yaml` and the runner that executes
//! their steps.
//!
//! # File format
//!
//! ```yaml
//! name: ci                  # optional display name; defaults to the file stem
//! description: Build and test   # optional
//! env:                      # optional, applies to every step
//!   CARGO_TERM_COLOR: never
//! steps:                    # required, at least one
//!   - name: build           # required, unique within the pipeline
//!     run: cargo build      # required; run with `sh -c` (`command` is accepted as an alias)
//!     env: {RUST_LOG: info} # optional; overrides the pipeline's env
//!     working_dir: sub/dir  # optional; relative to the repository root (`cwd` is an alias)
//!     timeout: 5m           # optional; seconds (300) or "30s" / "5m" / "2h"
//!     continue_on_error: false  # optional; a failure here does not stop or fail the run
//! ```
//!
//! Unknown keys are errors. Environment values may be strings, numbers or booleans.
//! `working_dir` must stay inside the repository (the directory holding `.gryt/`): absolute paths
//! and `..` components that climb out of it are rejected when the file is loaded, and the
//! resolved directory (after following symlinks) is checked again before the step starts.
//!
//! # Running
//!
//! [`run`] executes the steps in order. Each step gets the environment of the calling process
//! less gryt's credentials ([`WITHHELD_ENV`]: steps run untrusted test code), plus
//! `GRYT_PIPELINE` and `GRYT_STEP`, then the pipeline's `env`, then the step's `env`, then
//! the caller's extra variables (such as `GRYT_EVOLUTION_ID`), later ones winning. Standard input
//! is closed. Every line the step writes to stdout or stderr is passed to the caller's callback as
//! it arrives and is also captured (the last [`MAX_CAPTURE_BYTES`] of each stream are kept).
//!
//! Exit codes recorded: the command's own; `128 + N` when it was killed by signal N; `124` when
//! its timeout expired (its whole process group is killed); `127` when it could not be started.
//! The first failing step stops the run unless it has `continue_on_error`, and the steps after it
//! are recorded as skipped. The run fails when a step without `continue_on_error` failed.
//!
//! Cancelling ([`run_until`]): once the caller's flag holds a signal number (gryt got SIGINT or
//! SIGTERM), that signal is forwarded to the running step's process group, whatever is left of
//! the group gets SIGKILL after [`CANCEL_GRACE`], the step is recorded as cancelled, the steps
//! after it as skipped, and the run as cancelled.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
use serde::{Deserialize, Serialize};

/// How much of each stream (stdout, stderr) of one step is kept in [`StepResult`]; the tail is
/// kept and a marker line says how much was dropped.
pub const MAX_CAPTURE_BYTES: usize = 1024 * 1024;
/// Longer lines are split into several [`OutputEvent::Line`] events.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Exit code recorded for a step whose timeout expired (as coreutils `timeout` does).
pub const EXIT_TIMED_OUT: i32 = 124;
/// Exit code recorded for a step that could not be started (as shells do).
pub const EXIT_NOT_STARTED: i32 = 127;
/// Variables of gryt's own environment that steps never inherit: the credentials. A
/// pipeline's or step's `env` may still set them explicitly.
pub const WITHHELD_ENV: &[&str] = &["GRYT_API_KEY_SECRET", "GRYT_PASSWORD", "GRYT_API_KEY_ID"];
/// After a cancelling signal was forwarded to a step's process group, how long the group may
/// take to exit before it is killed.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// Maximum length of a pipeline name.
pub const MAX_NAME_LEN: usize = 64;

const POLL: Duration = Duration::from_millis(20);
/// After the step's shell exited, how long to wait for more output from processes it left
/// running in the background that still hold its stdout/stderr open: until they are quiet for
/// `OUTPUT_GRACE`, and no longer than `OUTPUT_GRACE_MAX` in all.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
const OUTPUT_GRACE_MAX: Duration = Duration::from_secs(5);
const SHELL: &str = "sh";
/// Lines queued between the pipe readers and the callback; bounded so a slow callback slows the
/// step's output down instead of growing memory.
const CHANNEL_CAPACITY: usize = 1024;

const EXAMPLE: &str = "steps:\n  - name: test\n    run: cargo test";

/// A pipeline file problem, with an optional next step for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PipelineError {
    pub message: String,
    pub hint: Option<String>,
}

impl PipelineError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    fn hinted(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// A loaded, validated pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

/// One step of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    /// Shell command, run with `sh -c`.
    pub run: String,
    pub env: BTreeMap<String, String>,
    /// Relative to the repository root; validated to stay inside it.
    pub working_dir: Option<PathBuf>,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
}

/// Checks a pipeline name: `[A-Za-z0-9][A-Za-z0-9._-]*`, at most 64 characters.
pub fn validate_name(name: &str) -> Result<(), PipelineError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && name.len() <= MAX_NAME_LEN {
        Ok(())
    } else {
        Err(PipelineError::hinted(
            format!("Invalid pipeline name {name:?}"),
            format!(
                "pipeline names start with a letter or digit, then letters, digits, '.', '_' \
                 or '-', at most {MAX_NAME_LEN} characters (e.g. `ci`, `release-checks`)"
            ),
        ))
    }
}

/// The directory holding pipeline files: `ROOT/.gryt/pipelines`.
pub fn pipelines_dir(repo_root: &Path) -> PathBuf {
    repo_root.join(".gryt").join("pipelines")
}

/// The file of pipeline `name`: `ROOT/.gryt/pipelines/NAME.yaml`.
pub fn pipeline_path(repo_root: &Path, name: &str) -> PathBuf {
    pipelines_dir(repo_root).join(format!("{name}.yaml"))
}

/// Names of the pipelines in `dir` (files ending in `.yaml` or `.yml` with a valid name), sorted.
/// A missing or unreadable directory gives an empty list.
pub fn list(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let path = entry.path();
            let ext = path.extension()?.to_str()?;
            if ext != "yaml" && ext != "yml" {
                return None;
            }
            let stem = path.file_stem()?.to_str()?.to_owned();
            validate_name(&stem).ok().map(|()| stem)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Validates `name` and loads `ROOT/.gryt/pipelines/NAME.yaml` (or `NAME.yml` when only that
/// exists).
pub fn load_named(repo_root: &Path, name: &str) -> Result<Pipeline, PipelineError> {
    validate_name(name)?;
    let yaml = pipeline_path(repo_root, name);
    let yml = pipelines_dir(repo_root).join(format!("{name}.yml"));
    if !yaml.exists() && yml.exists() {
        load(&yml)
    } else {
        load(&yaml)
    }
}

/// Reads and validates a pipeline file. The pipeline's name defaults to the file stem.
pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing_file_error(path));
        }
        Err(err) => {
            return Err(PipelineError::new(format!(
                "Cannot read pipeline file {}: {err}",
                path.display()
            )));
        }
    };
    let default_name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&text, &default_name, path)
}

fn missing_file_error(path: &Path) -> PipelineError {
    let mut hint = format!(
        "create {} with at least one step, for example:\n\n{EXAMPLE}\n",
        path.display()
    );
    if let Some(dir) = path.parent() {
        let available = list(dir);
        if !available.is_empty() {
            hint.push_str(&format!("\nAvailable pipelines: {}", available.join(", ")));
        }
    }
    PipelineError::hinted(format!("Pipeline file {} not found", path.display()), hint)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    env: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    #[serde(default)]
    steps: Option<Vec<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    run: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    env: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    #[serde(default, alias = "cwd")]
    working_dir: Option<String>,
    #[serde(default)]
    timeout: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    continue_on_error: Option<bool>,
}

/// Parses pipeline YAML. `default_name` is used when the file has no `name`; `source` only
/// labels error messages.
pub fn parse(text: &str, default_name: &str, source: &Path) -> Result<Pipeline, PipelineError> {
    let src = source.display();
    let example_hint = || format!("a pipeline file looks like this:\n\n{EXAMPLE}\n");
    if text.trim().is_empty() {
        return Err(PipelineError::hinted(
            format!("Pipeline file {src} is empty"),
            example_hint(),
        ));
    }
    let raw: RawPipeline = serde_yaml_ng::from_str(text).map_err(|err| yaml_error(&err, source))?;

    let name = match raw.name {
        Some(name) if name.trim().is_empty() => {
            return Err(PipelineError::new(format!(
                "{src}: `name` must not be empty"
            )));
        }
        Some(name) => name,
        None => default_name.to_owned(),
    };
    let env = convert_env(raw.env, &format!("{src}: env"))?;

    let raw_steps = raw.steps.unwrap_or_default();
    if raw_steps.is_empty() {
        return Err(PipelineError::hinted(
            format!("{src}: the pipeline has no steps"),
            example_hint(),
        ));
    }

    let mut steps: Vec<Step> = Vec::with_capacity(raw_steps.len());
    for (i, raw_step) in raw_steps.into_iter().enumerate() {
        let number = i + 1;
        let step_name = match raw_step.name {
            Some(n) if !n.trim().is_empty() => n,
            _ => {
                return Err(PipelineError::hinted(
                    format!("{src}: step {number} has no `name`"),
                    "give every step a unique `name`".to_owned(),
                ));
            }
        };
        let label = format!("{src}: step {number} ({step_name})");
        if steps.iter().any(|s| s.name == step_name) {
            return Err(PipelineError::hinted(
                format!("{src}: duplicate step name {step_name:?} (step {number})"),
                "step names must be unique within a pipeline".to_owned(),
            ));
        }
        let run = match (raw_step.run, raw_step.command) {
            (Some(_), Some(_)) => {
                return Err(PipelineError::new(format!(
                    "{label}: has both `run` and `command`; use only `run`"
                )));
            }
            (Some(cmd), None) | (None, Some(cmd)) if !cmd.trim().is_empty() => cmd,
            _ => {
                return Err(PipelineError::hinted(
                    format!("{label}: has no `run` command"),
                    "add `run: <shell command>` to the step".to_owned(),
                ));
            }
        };
        let step_env = convert_env(raw_step.env, &format!("{label}: env"))?;
        let working_dir = match raw_step.working_dir {
            Some(dir) => Some(check_working_dir(&dir).map_err(|why| {
                PipelineError::hinted(
                    format!("{label}: working_dir {dir:?} {why}"),
                    "working_dir is relative to the repository root (the directory holding \
                     .gryt/) and must stay inside it"
                        .to_owned(),
                )
            })?),
            None => None,
        };
        let timeout = match raw_step.timeout {
            Some(value) => Some(parse_timeout(&value).map_err(|why| {
                PipelineError::hinted(
                    format!("{label}: invalid timeout: {why}"),
                    "use whole seconds (`timeout: 300`) or a duration such as \"30s\", \"5m\" \
                     or \"2h\""
                        .to_owned(),
                )
            })?),
            None => None,
        };
        steps.push(Step {
            name: step_name,
            run,
            env: step_env,
            working_dir,
            timeout,
            continue_on_error: raw_step.continue_on_error.unwrap_or(false),
        });
    }

    Ok(Pipeline {
        name,
        description: raw.description,
        env,
        steps,
    })
}

fn yaml_error(err: &serde_yaml_ng::Error, source: &Path) -> PipelineError {
    let mut detail = err
        .to_string()
        .replace(
            "struct RawPipeline",
            "a mapping with `steps` (and optional `name`, `description`, `env`)",
        )
        .replace("struct RawStep", "a step mapping with `name` and `run`");
    match err.location() {
        Some(loc) => {
            // serde_yaml_ng appends " at line L column C"; the location goes first instead.
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            if let Some(stripped) = detail.strip_suffix(&suffix) {
                detail = stripped.to_owned();
            }
            PipelineError::hinted(
                format!(
                    "Malformed pipeline file {}, line {}, column {}: {detail}",
                    source.display(),
                    loc.line(),
                    loc.column()
                ),
                format!("fix the YAML there; a pipeline file looks like this:\n\n{EXAMPLE}\n"),
            )
        }
        None => PipelineError::hinted(
            format!("Malformed pipeline file {}: {detail}", source.display()),
            format!("a pipeline file looks like this:\n\n{EXAMPLE}\n"),
        ),
    }
}

fn convert_env(
    raw: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    label: &str,
) -> Result<BTreeMap<String, String>, PipelineError> {
    let mut env = BTreeMap::new();
    for (key, value) in raw.unwrap_or_default() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(PipelineError::new(format!(
                "{label}: invalid variable name {key:?}"
            )));
        }
        let text = match value {
            serde_yaml_ng::Value::String(s) => s,
            serde_yaml_ng::Value::Number(n) => n.to_string(),
            serde_yaml_ng::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(PipelineError::hinted(
                    format!("{label}: the value of {key} must be a string, number or boolean"),
                    format!("quote it: {key}: \"...\""),
                ));
            }
        };
        if text.contains('\0') {
            return Err(PipelineError::new(format!(
                "{label}: the value of {key} contains a NUL byte"
            )));
        }
        env.insert(key, text);
    }
    Ok(env)
}

/// Checks a step's working directory lexically; returns it normalised (no `.` components).
fn check_working_dir(dir: &str) -> Result<PathBuf, &'static str> {
    if dir.trim().is_empty() {
        return Err("is empty");
    }
    let mut normal = PathBuf::new();
    let mut depth: usize = 0;
    for component in Path::new(dir).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err("must be a relative path"),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return Err("leaves the repository");
                }
                depth -= 1;
                normal.push("..");
            }
            Component::Normal(part) => {
                depth += 1;
                normal.push(part);
            }
        }
    }
    Ok(normal)
}

fn parse_timeout(value: &serde_yaml_ng::Value) -> Result<Duration, String> {
    let secs = match value {
        serde_yaml_ng::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a whole number of seconds"))?,
        serde_yaml_ng::Value::String(s) => parse_duration_text(s)?,
        _ => return Err("expected seconds or a duration string".to_owned()),
    };
    if secs == 0 {
        return Err("must be greater than zero".to_owned());
    }
    Ok(Duration::from_secs(secs))
}

fn parse_duration_text(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, multiplier) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1),
        Some((i, 'm')) => (&t[..i], 60),
        Some((i, 'h')) => (&t[..i], 3600),
        _ => (t, 1),
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too long"))
}

// ---------------------------------------------------------------------------------------------
// Running

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Progress reported while a pipeline runs, in order. `index`/`step` is the step's position in
/// [`Pipeline::steps`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputEvent {
    StepStart {
        index: usize,
        name: String,
    },
    /// One line of output, without its line ending (lines over 64 KiB arrive in pieces).
    /// Lines gryt itself adds (spawn failure, timeout) come as `Stderr` lines starting "gryt: ".
    Line {
        step: usize,
        stream: Stream,
        text: String,
    },
    StepEnd {
        step: usize,
        exit_code: Option<i32>,
        status: StepStatus,
        duration: Duration,
    },
    /// A step not run because an earlier step failed.
    StepSkipped {
        index: usize,
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pass,
    Fail,
    /// Stopped by a signal to gryt before it finished.
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pass => "pass",
            RunStatus::Fail => "fail",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pass,
    Fail,
    Skipped,
    TimedOut,
    /// Running when the run was cancelled.
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pass => "pass",
            StepStatus::Fail => "fail",
            StepStatus::Skipped => "skipped",
            StepStatus::TimedOut => "timed_out",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepResult {
    pub name: String,
    pub command: String,
    /// `None` only for skipped steps.
    pub exit_code: Option<i32>,
    pub status: StepStatus,
    /// Captured output: at most [`MAX_CAPTURE_BYTES`] of the tail, after a marker line when
    /// earlier output was dropped.
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
    /// `None` only for skipped steps.
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunResult {
    pub status: RunStatus,
    pub steps: Vec<StepResult>,
    pub duration_ms: u64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Runs `pipeline`'s steps in order in `repo_root` (see the module docs), reporting progress to
/// `on_output`. Never panics on a step's behaviour: anything that goes wrong is a failed step.
#[cfg(test)]
pub fn run(
    pipeline: &Pipeline,
    repo_root: &Path,
    extra_env: &[(String, String)],
    on_output: &mut dyn FnMut(OutputEvent),
) -> RunResult {
    let never = AtomicUsize::new(0);
    run_with_shell(
        pipeline,
        repo_root,
        extra_env,
        on_output,
        Path::new(SHELL),
        &never,
    )
}

/// [`run`], cancelled once `cancel` holds a signal number (see the module docs).
pub fn run_until(
    pipeline: &Pipeline,
    repo_root: &Path,
    extra_env: &[(String, String)],
    on_output: &mut dyn FnMut(OutputEvent),
    cancel: &AtomicUsize,
) -> RunResult {
    run_with_shell(
        pipeline,
        repo_root,
        extra_env,
        on_output,
        Path::new(SHELL),
        cancel,
    )
}

fn run_with_shell(
    pipeline: &Pipeline,
    repo_root: &Path,
    extra_env: &[(String, String)],
    on_output: &mut dyn FnMut(OutputEvent),
    shell: &Path,
    cancel: &AtomicUsize,
) -> RunResult {
    let started_at = crate::config::wall_clock();
    let start = Instant::now();
    let mut results = Vec::with_capacity(pipeline.steps.len());
    let mut status = RunStatus::Pass;
    let mut stopped = false;

    for (index, step) in pipeline.steps.iter().enumerate() {
        if !stopped && cancel.load(Ordering::SeqCst) != 0 {
            status = RunStatus::Cancelled;
            stopped = true;
        }
        if stopped {
            on_output(OutputEvent::StepSkipped {
                index,
                name: step.name.clone(),
            });
            results.push(StepResult {
                name: step.name.clone(),
                command: step.run.clone(),
                exit_code: None,
                status: StepStatus::Skipped,
                stdout: String::new(),
                stderr: String::new(),
                duration_ms: 0,
                started_at: None,
            });
            continue;
        }

        let mut env: BTreeMap<&str, &str> = BTreeMap::new();
        env.insert("GRYT_PIPELINE", &pipeline.name);
        env.insert("GRYT_STEP", &step.name);
        for (k, v) in pipeline.env.iter().chain(step.env.iter()) {
            env.insert(k, v);
        }
        for (k, v) in extra_env {
            env.insert(k, v);
        }

        let result = run_step(index, step, repo_root, &env, shell, cancel, on_output);
        if result.status == StepStatus::Cancelled {
            status = RunStatus::Cancelled;
            stopped = true;
        } else if matches!(result.status, StepStatus::Fail | StepStatus::TimedOut)
            && !step.continue_on_error
        {
            status = RunStatus::Fail;
            stopped = true;
        }
        results.push(result);
    }

    RunResult {
        status,
        steps: results,
        duration_ms: millis(start.elapsed()),
        started_at,
        finished_at: crate::config::wall_clock(),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Keeps the last `cap` bytes of a stream, at line boundaries where possible.
struct TailBuffer {
    buf: String,
    dropped: usize,
    cap: usize,
}

impl TailBuffer {
    fn new(cap: usize) -> Self {
        Self {
            buf: String::new(),
            dropped: 0,
            cap,
        }
    }

    fn push_line(&mut self, line: &str) {
        self.buf.push_str(line);
        self.buf.push('\n');
        // Trim only once the buffer is twice the cap, so trimming is amortised O(1) per byte.
        if self.buf.len() > self.cap.saturating_mul(2) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.buf.len() <= self.cap {
            return;
        }
        let mut cut = self.buf.len() - self.cap;
        while !self.buf.is_char_boundary(cut) {
            cut += 1;
        }
        // Prefer to start at a line start, unless that would drop much more than needed.
        if let Some(nl) = self.buf[cut..].find('\n') {
            if nl < 4096 && cut + nl + 1 < self.buf.len() {
                cut += nl + 1;
            }
        }
        self.buf.drain(..cut);
        self.dropped += cut;
    }

    fn finish(mut self) -> String {
        self.trim();
        if self.dropped == 0 {
            self.buf
        } else {
            format!(
                "[gryt: {} earlier bytes of output truncated]\n{}",
                self.dropped, self.buf
            )
        }
    }
}

struct StepOutcome {
    exit_code: i32,
    status: StepStatus,
}

fn run_step(
    index: usize,
    step: &Step,
    repo_root: &Path,
    env: &BTreeMap<&str, &str>,
    shell: &Path,
    cancel: &AtomicUsize,
    on_output: &mut dyn FnMut(OutputEvent),
) -> StepResult {
    let started_at = crate::config::wall_clock();
    let start = Instant::now();
    on_output(OutputEvent::StepStart {
        index,
        name: step.name.clone(),
    });
    let mut stdout = TailBuffer::new(MAX_CAPTURE_BYTES);
    let mut stderr = TailBuffer::new(MAX_CAPTURE_BYTES);

    let mut emit = |stream: Stream, text: String, out: &mut dyn FnMut(OutputEvent)| {
        match stream {
            Stream::Stdout => stdout.push_line(&text),
            Stream::Stderr => stderr.push_line(&text),
        }
        out(OutputEvent::Line {
            step: index,
            stream,
            text,
        });
    };

    let outcome = match resolve_working_dir(repo_root, step.working_dir.as_deref()) {
        Err(why) => {
            emit(Stream::Stderr, format!("gryt: {why}"), on_output);
            StepOutcome {
                exit_code: EXIT_NOT_STARTED,
                status: StepStatus::Fail,
            }
        }
        Ok(dir) => {
            let mut command = Command::new(shell);
            command.arg("-c").arg(&step.run).current_dir(&dir);
            for name in WITHHELD_ENV {
                command.env_remove(name);
            }
            command
                .envs(env.iter())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
            match command.spawn() {
                Err(err) => {
                    emit(
                        Stream::Stderr,
                        format!("gryt: cannot start `{}`: {err}", shell.display()),
                        on_output,
                    );
                    StepOutcome {
                        exit_code: EXIT_NOT_STARTED,
                        status: StepStatus::Fail,
                    }
                }
                Ok(child) => supervise(child, step.timeout, cancel, &mut |stream, text| {
                    emit(stream, text, on_output)
                }),
            }
        }
    };

    let duration = start.elapsed();
    on_output(OutputEvent::StepEnd {
        step: index,
        exit_code: Some(outcome.exit_code),
        status: outcome.status,
        duration,
    });
    StepResult {
        name: step.name.clone(),
        command: step.run.clone(),
        exit_code: Some(outcome.exit_code),
        status: outcome.status,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
        duration_ms: millis(duration),
        started_at: Some(started_at),
    }
}

fn resolve_working_dir(repo_root: &Path, working_dir: Option<&Path>) -> Result<PathBuf, String> {
    let Some(rel) = working_dir else {
        return Ok(repo_root.to_path_buf());
    };
    let shown = rel.display();
    if check_working_dir(&rel.to_string_lossy()).is_err() {
        return Err(format!(
            "working directory {shown} is not a relative path inside the repository"
        ));
    }
    let root = repo_root.canonicalize().map_err(|err| {
        format!(
            "cannot resolve repository root {}: {err}",
            repo_root.display()
        )
    })?;
    let dir = root
        .join(rel)
        .canonicalize()
        .map_err(|err| format!("working directory {shown} does not exist: {err}"))?;
    if !dir.starts_with(&root) {
        return Err(format!(
            "working directory {shown} resolves to {}, outside the repository",
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!("working directory {shown} is not a directory"));
    }
    Ok(dir)
}

/// Streams the child's output until it exits (or its timeout expires) and returns its outcome.
fn supervise(
    mut child: Child,
    timeout: Option<Duration>,
    cancel: &AtomicUsize,
    emit: &mut dyn FnMut(Stream, String),
) -> StepOutcome {
    let start = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<(Stream, String)>(CHANNEL_CAPACITY);
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        thread::spawn(move || read_lines(out, Stream::Stdout, &tx));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        thread::spawn(move || read_lines(err, Stream::Stderr, &tx));
    }
    drop(tx);

    // A timeout too large to represent is no timeout.
    let deadline = timeout.and_then(|t| start.checked_add(t));
    let mut exit: Option<Result<ExitStatus, String>> = None;
    let mut timed_out = false;
    let mut readers_open = true;
    let mut exited_at: Option<Instant> = None;
    // The signal forwarded to the step's group, and when.
    let mut cancelled: Option<(i32, Instant)> = None;

    loop {
        if cancelled.is_none() {
            let signal = cancel.load(Ordering::SeqCst);
            if signal != 0 {
                let signal = i32::try_from(signal).unwrap_or(15);
                signal_group(&child, signal);
                cancelled = Some((signal, Instant::now()));
            }
        }
        if exit.is_none() && cancelled.is_some_and(|(_, at)| at.elapsed() >= CANCEL_GRACE) {
            kill_group(&mut child);
        }
        if exited_at.is_some_and(|t| t.elapsed() >= OUTPUT_GRACE_MAX) {
            break;
        }
        if readers_open {
            // Once the shell has exited, wait only briefly for output from anything it left
            // running in the background with our pipes.
            let wait = if exit.is_some() { OUTPUT_GRACE } else { POLL };
            match rx.recv_timeout(wait) {
                Ok((stream, text)) => {
                    emit(stream, text);
                }
                Err(RecvTimeoutError::Disconnected) => readers_open = false,
                Err(RecvTimeoutError::Timeout) if exit.is_some() => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        } else if exit.is_none() {
            // Polled, not waited for: a cancel or a timeout must still be noticed.
            thread::sleep(POLL);
        }

        if exit.is_none() {
            match child.try_wait() {
                Ok(Some(status)) => exit = Some(Ok(status)),
                Ok(None) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        kill_group(&mut child);
                        timed_out = true;
                        exit = Some(child.wait().map_err(|e| e.to_string()));
                    }
                }
                Err(err) => {
                    kill_group(&mut child);
                    let _ = child.wait();
                    exit = Some(Err(err.to_string()));
                }
            }
        }

        if exit.is_some() && exited_at.is_none() {
            exited_at = Some(Instant::now());
        }
        if exit.is_some() && !readers_open {
            break;
        }
    }
    // Whatever the readers had already queued (bounded: a background process may still write).
    for _ in 0..CHANNEL_CAPACITY {
        match rx.try_recv() {
            Ok((stream, text)) => emit(stream, text),
            Err(_) => break,
        }
    }

    if let Some((signal, at)) = cancelled {
        // Whatever the step left running in its group gets the rest of the grace, then KILL.
        let pgid = child.id();
        while group_alive(pgid) && at.elapsed() < CANCEL_GRACE {
            thread::sleep(POLL * 5);
        }
        if group_alive(pgid) {
            kill_group(&mut child);
            // SIGKILL is delivered asynchronously: wait (bounded) until the group is gone.
            for _ in 0..100 {
                if !group_alive(pgid) {
                    break;
                }
                thread::sleep(POLL);
            }
        }
        let code = match exit {
            Some(Ok(status)) => status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(128 + signal),
            _ => 128 + signal,
        };
        emit(
            Stream::Stderr,
            format!("gryt: cancelled by {}", signal_name(signal)),
        );
        return StepOutcome {
            exit_code: code,
            status: StepStatus::Cancelled,
        };
    }
    if timed_out {
        let secs = timeout.map_or(0, |t| t.as_secs());
        emit(
            Stream::Stderr,
            format!("gryt: step timed out after {secs}s and was killed"),
        );
        return StepOutcome {
            exit_code: EXIT_TIMED_OUT,
            status: StepStatus::TimedOut,
        };
    }
    match exit {
        Some(Ok(status)) => {
            let code = match (status.code(), status.signal()) {
                (Some(code), _) => code,
                (None, Some(signal)) => {
                    emit(Stream::Stderr, format!("gryt: killed by signal {signal}"));
                    128 + signal
                }
                (None, None) => 1,
            };
            StepOutcome {
                exit_code: code,
                status: if code == 0 {
                    StepStatus::Pass
                } else {
                    StepStatus::Fail
                },
            }
        }
        Some(Err(why)) => {
            emit(
                Stream::Stderr,
                format!("gryt: lost track of the step's process: {why}"),
            );
            StepOutcome {
                exit_code: 1,
                status: StepStatus::Fail,
            }
        }
        // The loop above only ends with an exit status, or after the shell exited.
        None => StepOutcome {
            exit_code: 1,
            status: StepStatus::Fail,
        },
    }
}

/// The name of a cancelling signal, for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".to_owned(),
        15 => "SIGTERM".to_owned(),
        n => format!("signal {n}"),
    }
}

/// The process group a child leads (it was spawned with `process_group(0)`).
fn group_of(pgid: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(pgid).ok()?)
}

/// Sends `signal` to the child's process group.
fn signal_group(child: &Child, signal: i32) {
    if let (Some(pgid), Some(signal)) = (group_of(child.id()), Signal::from_named_raw(signal)) {
        let _ = kill_process_group(pgid, signal);
    }
}

/// Whether any process of group `pgid` is still alive.
fn group_alive(pgid: u32) -> bool {
    group_of(pgid).is_some_and(|g| test_kill_process_group(g).is_ok())
}

/// Kills the child's whole process group (it was spawned as a group leader), falling back to
/// killing just the child.
fn kill_group(child: &mut Child) {
    let killed = group_of(child.id()).is_some_and(|g| kill_process_group(g, Signal::KILL).is_ok());
    if !killed {
        let _ = child.kill();
    }
}

/// Sends the lines read from `pipe` until it closes or the receiver goes away.
fn read_lines(pipe: impl Read, stream: Stream, tx: &SyncSender<(Stream, String)>) {
    let mut reader = BufReader::with_capacity(64 * 1024, pipe);
    let mut line: Vec<u8> = Vec::new();
    let send = |line: &mut Vec<u8>| -> bool {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = String::from_utf8_lossy(line).into_owned();
        line.clear();
        tx.send((stream, text)).is_ok()
    };
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buf.is_empty() {
            break;
        }
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        let complete = match buf.iter().position(|&b| b == b'\n') {
            Some(nl) if nl <= room => {
                line.extend_from_slice(&buf[..nl]);
                reader.consume(nl + 1);
                true
            }
            _ => {
                let n = buf.len().min(room);
                line.extend_from_slice(&buf[..n]);
                reader.consume(n);
                line.len() >= MAX_LINE_BYTES
            }
        };
        if complete && !send(&mut line) {
            return;
        }
    }
    if !line.is_empty() {
        let _ = send(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let unique = crate::context::new_uuid();
            let dir = std::env::temp_dir().join(format!(
                "gryt-pipeline-test-{}-{n}-{unique}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn parse_str(yaml: &str) -> Result<Pipeline, PipelineError> {
        parse(yaml, "test", Path::new(".gryt/pipelines/test.yaml"))
    }

    fn step(name: &str, run: &str) -> Step {
        Step {
            name: name.to_owned(),
            run: run.to_owned(),
            env: BTreeMap::new(),
            working_dir: None,
            timeout: None,
            continue_on_error: false,
        }
    }

    fn pipeline(steps: Vec<Step>) -> Pipeline {
        Pipeline {
            name: "test".to_owned(),
            description: None,
            env: BTreeMap::new(),
            steps,
        }
    }

    fn run_quiet(p: &Pipeline, root: &Path) -> RunResult {
        run(p, root, &[], &mut |_| {})
    }

    fn statuses(r: &RunResult) -> Vec<&'static str> {
        r.steps.iter().map(|s| s.status.as_str()).collect()
    }

    // ---- names and loading

    #[test]
    fn names() {
        for ok in ["ci", "a", "release-checks", "v1.2_x", "9", &"a".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "..",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_full_format() {
        let p = parse_str(
            "name: CI\ndescription: d\nenv: {A: x, N: 3, B: true}\nsteps:\n  - name: build\n    \
             run: cargo build\n    env: {RUST_LOG: info}\n    working_dir: ./sub/dir\n    \
             timeout: 300\n    continue_on_error: true\n  - name: t\n    command: echo hi\n    \
             timeout: \"5m\"\n  - name: u\n    run: ls\n    cwd: sub\n    timeout: 30s\n",
        )
        .unwrap();
        assert_eq!(p.name, "CI");
        assert_eq!(p.description.as_deref(), Some("d"));
        assert_eq!(p.env["N"], "3");
        assert_eq!(p.env["B"], "true");
        let s = &p.steps[0];
        assert_eq!(s.run, "cargo build");
        assert_eq!(s.env["RUST_LOG"], "info");
        assert_eq!(s.working_dir.as_deref(), Some(Path::new("sub/dir")));
        assert_eq!(s.timeout, Some(Duration::from_secs(300)));
        assert!(s.continue_on_error);
        assert_eq!(p.steps[1].run, "echo hi");
        assert_eq!(p.steps[1].timeout, Some(Duration::from_secs(300)));
        assert!(!p.steps[1].continue_on_error);
        assert_eq!(p.steps[2].timeout, Some(Duration::from_secs(30)));
        assert_eq!(p.steps[2].working_dir.as_deref(), Some(Path::new("sub")));
    }

    #[test]
    fn name_defaults_to_file_stem() {
        let dir = TempDir::new();
        let path = dir.path().join("nightly.yaml");
        std::fs::write(&path, "steps:\n  - name: a\n    run: 'true'\n").unwrap();
        assert_eq!(load(&path).unwrap().name, "nightly");
    }

    #[test]
    fn load_named_finds_yaml_and_yml_and_rejects_bad_names() {
        let dir = TempDir::new();
        let pdir = pipelines_dir(dir.path());
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(pdir.join("ci.yaml"), "steps: [{name: a, run: 'true'}]").unwrap();
        std::fs::write(pdir.join("old.yml"), "steps: [{name: b, run: 'true'}]").unwrap();
        assert_eq!(load_named(dir.path(), "ci").unwrap().steps[0].name, "a");
        assert_eq!(load_named(dir.path(), "old").unwrap().steps[0].name, "b");
        assert!(load_named(dir.path(), "../ci").is_err());
        assert_eq!(list(&pdir), vec!["ci".to_owned(), "old".to_owned()]);
    }

    #[test]
    fn missing_file_names_path_and_hints() {
        let dir = TempDir::new();
        let pdir = pipelines_dir(dir.path());
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(pdir.join("other.yaml"), "steps: [{name: a, run: 'true'}]").unwrap();
        let err = load_named(dir.path(), "ci").unwrap_err();
        assert!(err.message.contains("ci.yaml"), "{err}");
        assert!(err.message.contains("not found"), "{err}");
        let hint = err.hint.unwrap();
        assert!(hint.contains("steps:"), "{hint}");
        assert!(hint.contains("Available pipelines: other"), "{hint}");
    }

    #[test]
    fn malformed_yaml_reports_line_and_column() {
        let err = parse_str("steps:\n  - name: a\n    run: [unclosed\n").unwrap_err();
        assert!(err.message.contains("test.yaml"), "{err}");
        assert!(err.message.contains("line "), "{err}");
        assert!(err.message.contains("column "), "{err}");
        assert!(err.hint.is_some());

        let err = parse_str("steps:\n  - name: a\n   run: x\n").unwrap_err();
        assert!(err.message.contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse_str("steps:\n  - name: a\n    run: x\n    retries: 3\n").unwrap_err();
        assert!(err.message.contains("retries"), "{err}");
        assert!(err.message.contains("line 4"), "{err}");
        let err = parse_str("stages: []\nsteps:\n  - name: a\n    run: x\n").unwrap_err();
        assert!(err.message.contains("stages"), "{err}");
    }

    #[test]
    fn structural_errors() {
        let cases = [
            ("", "empty"),
            ("   \n# only a comment\n", "no steps"),
            ("name: x\n", "no steps"),
            ("steps: []\n", "no steps"),
            ("steps:\n  - run: x\n", "no `name`"),
            ("steps:\n  - name: ' '\n    run: x\n", "no `name`"),
            ("steps:\n  - name: a\n", "no `run`"),
            ("- a\n- b\n", "a mapping with `steps`"),
            ("steps:\n  - just a string\n", "a step mapping"),
            ("steps:\n  - name: a\n    run: ''\n", "no `run`"),
            ("steps:\n  - name: a\n    run: x\n    command: y\n", "both"),
            (
                "steps:\n  - name: a\n    run: x\n  - name: a\n    run: y\n",
                "duplicate step name \"a\"",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    timeout: 0\n",
                "timeout",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    timeout: -5\n",
                "timeout",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    timeout: 1.5\n",
                "timeout",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    timeout: soon\n",
                "timeout",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    timeout: 5d\n",
                "timeout",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    timeout: [1]\n",
                "timeout",
            ),
            (
                "env: {A: [1]}\nsteps:\n  - name: a\n    run: x\n",
                "A must be",
            ),
            (
                "steps:\n  - name: a\n    run: x\n    env: {B: {c: 1}}\n",
                "B must be",
            ),
            (
                "name: ''\nsteps:\n  - name: a\n    run: x\n",
                "must not be empty",
            ),
        ];
        for (yaml, expected) in cases {
            let err = parse_str(yaml).expect_err(yaml);
            assert!(err.message.contains(expected), "{yaml:?} gave {err}");
        }
    }

    #[test]
    fn working_dir_escaping_rejected() {
        for bad in ["/etc", "..", "../x", "a/../../x", "./../x", ""] {
            let yaml = format!("steps:\n  - name: a\n    run: x\n    working_dir: '{bad}'\n");
            let err = parse_str(&yaml).expect_err(bad);
            assert!(err.message.contains("working_dir"), "{bad}: {err}");
            assert!(err.hint.is_some());
        }
        for ok in [".", "a/..", "a/b/../c"] {
            let yaml = format!("steps:\n  - name: a\n    run: x\n    working_dir: '{ok}'\n");
            assert!(parse_str(&yaml).is_ok(), "{ok}");
        }
    }

    // ---- running

    #[test]
    fn passing_pipeline() {
        let dir = TempDir::new();
        let r = run_quiet(
            &pipeline(vec![step("a", "echo one"), step("b", "echo two")]),
            dir.path(),
        );
        assert_eq!(r.status, RunStatus::Pass);
        assert_eq!(r.status.as_str(), "pass");
        assert_eq!(statuses(&r), ["pass", "pass"]);
        assert_eq!(r.steps[0].stdout, "one\n");
        assert_eq!(r.steps[1].stdout, "two\n");
        assert_eq!(r.steps[0].exit_code, Some(0));
        assert_eq!(r.steps[1].command, "echo two");
        assert!(r.steps[0].started_at.is_some());
        assert!(r.finished_at >= r.started_at);
    }

    #[test]
    fn failure_stops_later_steps() {
        let dir = TempDir::new();
        let r = run_quiet(
            &pipeline(vec![
                step("a", "true"),
                step("b", "exit 3"),
                step("c", "touch ran"),
            ]),
            dir.path(),
        );
        assert_eq!(r.status, RunStatus::Fail);
        assert_eq!(statuses(&r), ["pass", "fail", "skipped"]);
        assert_eq!(r.steps[1].exit_code, Some(3));
        assert_eq!(r.steps[2].exit_code, None);
        assert_eq!(r.steps[2].started_at, None);
        assert!(!dir.path().join("ran").exists());
    }

    #[test]
    fn continue_on_error_keeps_going_and_run_passes() {
        let dir = TempDir::new();
        let mut flaky = step("a", "exit 1");
        flaky.continue_on_error = true;
        let r = run_quiet(&pipeline(vec![flaky, step("b", "echo b")]), dir.path());
        assert_eq!(statuses(&r), ["fail", "pass"]);
        assert_eq!(r.status, RunStatus::Pass);

        let mut flaky = step("a", "exit 1");
        flaky.continue_on_error = true;
        let r = run_quiet(
            &pipeline(vec![flaky, step("b", "exit 2"), step("c", "true")]),
            dir.path(),
        );
        assert_eq!(statuses(&r), ["fail", "fail", "skipped"]);
        assert_eq!(r.status, RunStatus::Fail);
    }

    #[test]
    fn env_precedence() {
        let dir = TempDir::new();
        let mut p = pipeline(vec![]);
        p.name = "envtest".to_owned();
        p.env.insert("A".into(), "pipeline".into());
        p.env.insert("B".into(), "pipeline".into());
        p.env.insert("C".into(), "pipeline".into());
        let mut s = step("s", "echo \"$A $B $C $GRYT_PIPELINE $GRYT_STEP\"");
        s.env.insert("B".into(), "step".into());
        s.env.insert("C".into(), "step".into());
        p.steps.push(s);
        let extra = [("C".to_owned(), "extra".to_owned())];
        let r = run(&p, dir.path(), &extra, &mut |_| {});
        assert_eq!(r.steps[0].stdout, "pipeline step extra envtest s\n");
    }

    #[test]
    fn working_dir_is_used() {
        let dir = TempDir::new();
        std::fs::create_dir_all(dir.path().join("sub/dir")).unwrap();
        let mut s = step("s", "pwd");
        s.working_dir = Some(PathBuf::from("sub/dir"));
        let r = run_quiet(&pipeline(vec![s, step("root", "pwd")]), dir.path());
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(
            r.steps[0].stdout.trim(),
            root.join("sub/dir").to_str().unwrap()
        );
        assert_eq!(r.steps[1].stdout.trim(), root.to_str().unwrap());
    }

    #[test]
    fn working_dir_missing_or_escaping_at_run_time_fails_the_step() {
        let dir = TempDir::new();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::os::unix::fs::symlink(dir.path(), repo.join("out")).unwrap();
        let mut missing = step("missing", "true");
        missing.working_dir = Some(PathBuf::from("nope"));
        missing.continue_on_error = true;
        let mut link = step("link", "true");
        link.working_dir = Some(PathBuf::from("out"));
        link.continue_on_error = true;
        let mut dotdot = step("dotdot", "true");
        dotdot.working_dir = Some(PathBuf::from("../repo"));
        let r = run_quiet(&pipeline(vec![missing, link, dotdot]), &repo);
        assert_eq!(statuses(&r), ["fail", "fail", "fail"]);
        assert_eq!(r.steps[0].exit_code, Some(EXIT_NOT_STARTED));
        assert!(
            r.steps[0].stderr.contains("does not exist"),
            "{}",
            r.steps[0].stderr
        );
        assert!(
            r.steps[1].stderr.contains("outside"),
            "{}",
            r.steps[1].stderr
        );
        assert!(r.steps[2].stderr.contains("inside the repository"));
    }

    fn describe(ev: &OutputEvent) -> String {
        match ev {
            OutputEvent::StepStart { index, name } => format!("start {index} {name}"),
            OutputEvent::Line { step, stream, text } => {
                format!("line {step} {stream:?} {text}")
            }
            OutputEvent::StepEnd {
                step,
                exit_code,
                status,
                ..
            } => format!("end {step} {exit_code:?} {}", status.as_str()),
            OutputEvent::StepSkipped { index, name } => format!("skip {index} {name}"),
        }
    }

    #[test]
    fn events_stream_in_order() {
        let dir = TempDir::new();
        let mut events = Vec::new();
        let r = run(
            &pipeline(vec![
                step("a", "echo one; echo two; printf 'no newline'"),
                step("b", "echo three >&2; exit 4"),
                step("c", "echo never"),
            ]),
            dir.path(),
            &[],
            &mut |ev| events.push(describe(&ev)),
        );
        assert_eq!(
            events,
            [
                "start 0 a",
                "line 0 Stdout one",
                "line 0 Stdout two",
                "line 0 Stdout no newline",
                "end 0 Some(0) pass",
                "start 1 b",
                "line 1 Stderr three",
                "end 1 Some(4) fail",
                "skip 2 c",
            ]
        );
        assert_eq!(r.steps[1].stderr, "three\n");
        assert_eq!(r.steps[1].stdout, "");
    }

    #[test]
    fn lines_arrive_while_the_step_runs() {
        // The first line must reach the callback before the step ends: the step waits for a
        // file that the callback creates when it sees the line.
        let dir = TempDir::new();
        let flag = dir.path().join("flag");
        let mut s = step(
            "s",
            "echo ready; i=0; while [ ! -e flag ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; \
             [ -e flag ] && echo saw-flag",
        );
        s.timeout = Some(Duration::from_secs(30));
        let r = run(&pipeline(vec![s]), dir.path(), &[], &mut |ev| {
            if let OutputEvent::Line { text, .. } = ev {
                if text == "ready" {
                    std::fs::write(&flag, "").unwrap();
                }
            }
        });
        assert_eq!(r.steps[0].stdout, "ready\nsaw-flag\n");
        assert_eq!(r.status, RunStatus::Pass);
    }

    #[test]
    fn stderr_is_captured_separately() {
        let dir = TempDir::new();
        let r = run_quiet(
            &pipeline(vec![step("s", "echo out; echo err1 >&2; echo err2 1>&2")]),
            dir.path(),
        );
        assert_eq!(r.steps[0].stdout, "out\n");
        assert_eq!(r.steps[0].stderr, "err1\nerr2\n");
    }

    #[test]
    fn big_output_does_not_deadlock_and_is_truncated() {
        let dir = TempDir::new();
        // ~3.9 MB on stderr first (a runner reading only stdout would block here), then
        // ~3.9 MB on stdout, plus a 5 MB line without newlines.
        let cmd = "i=0; yes 'error line' | head -n 400000 >&2; \
                   yes 'output line' | head -n 350000; \
                   head -c 5000000 /dev/zero | tr '\\0' x; echo; echo last-line";
        let mut lines = 0usize;
        let mut longest = 0usize;
        let r = run(
            &pipeline(vec![step("big", cmd)]),
            dir.path(),
            &[],
            &mut |ev| {
                if let OutputEvent::Line { text, .. } = ev {
                    lines += 1;
                    longest = longest.max(text.len());
                }
            },
        );
        let s = &r.steps[0];
        assert_eq!(s.status, StepStatus::Pass, "{}", s.stderr);
        assert!(lines > 750_000);
        assert!(longest <= MAX_LINE_BYTES);
        let marker = 200;
        assert!(s.stdout.len() <= MAX_CAPTURE_BYTES + marker);
        assert!(s.stderr.len() <= MAX_CAPTURE_BYTES + marker);
        assert!(s.stdout.starts_with("[gryt: "), "{}", &s.stdout[..100]);
        assert!(s.stdout.contains("truncated"));
        assert!(s.stdout.ends_with("x\nlast-line\n"));
        assert!(s.stderr.starts_with("[gryt: "));
        assert!(s.stderr.ends_with("error line\n"));
        // Truncation keeps whole lines where it can.
        let first_kept = s.stderr.lines().nth(1).unwrap();
        assert_eq!(first_kept, "error line");
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let dir = TempDir::new();
        let mut s = step("slow", "sleep 30 & sleep 30; echo never");
        s.timeout = Some(Duration::from_secs(1));
        let r = run_quiet(&pipeline(vec![s, step("after", "true")]), dir.path());
        assert_eq!(statuses(&r), ["timed_out", "skipped"]);
        assert_eq!(r.steps[0].exit_code, Some(EXIT_TIMED_OUT));
        assert!(r.steps[0].stderr.contains("timed out after 1s"));
        assert!(!r.steps[0].stdout.contains("never"));
        assert_eq!(r.status, RunStatus::Fail);
    }

    #[test]
    fn a_cancel_stops_the_step_and_skips_the_rest() {
        let dir = TempDir::new();
        let started = dir.path().join("started");
        let cancel = std::sync::Arc::new(AtomicUsize::new(0));
        let setter = {
            let (cancel, started) = (std::sync::Arc::clone(&cancel), started.clone());
            thread::spawn(move || {
                while !started.exists() {
                    thread::sleep(Duration::from_millis(5));
                }
                cancel.store(15, Ordering::SeqCst);
            })
        };
        let p = pipeline(vec![
            step("s", "touch started; sleep 30; echo never"),
            step("t", "echo never"),
        ]);
        let r = run_until(&p, dir.path(), &[], &mut |_| {}, &cancel);
        setter.join().unwrap();
        assert_eq!(statuses(&r), ["cancelled", "skipped"]);
        assert_eq!(r.status, RunStatus::Cancelled);
        assert_eq!(r.steps[0].exit_code, Some(128 + 15));
        assert!(r.steps[0].stderr.contains("cancelled by SIGTERM"));
        assert!(!r.steps[0].stdout.contains("never"));
        // A cancel before the first step runs nothing.
        let r = run_until(&p, dir.path(), &[], &mut |_| {}, &cancel);
        assert_eq!(statuses(&r), ["skipped", "skipped"]);
        assert_eq!(r.status, RunStatus::Cancelled);
    }

    #[test]
    fn unspawnable_commands_fail_with_127() {
        let dir = TempDir::new();
        // A command the shell cannot find.
        let r = run_quiet(
            &pipeline(vec![step("s", "definitely-not-a-command-gryt")]),
            dir.path(),
        );
        assert_eq!(r.steps[0].exit_code, Some(127));
        assert_eq!(r.steps[0].status, StepStatus::Fail);
        // A shell that cannot be started at all.
        let r = run_with_shell(
            &pipeline(vec![step("s", "true"), step("t", "true")]),
            dir.path(),
            &[],
            &mut |_| {},
            Path::new("/nonexistent/gryt-sh"),
            &AtomicUsize::new(0),
        );
        assert_eq!(statuses(&r), ["fail", "skipped"]);
        assert_eq!(r.steps[0].exit_code, Some(EXIT_NOT_STARTED));
        assert!(
            r.steps[0].stderr.contains("cannot start"),
            "{}",
            r.steps[0].stderr
        );
    }

    #[test]
    fn killed_by_signal_is_128_plus_signal() {
        let dir = TempDir::new();
        let r = run_quiet(&pipeline(vec![step("s", "kill -TERM $$")]), dir.path());
        assert_eq!(r.steps[0].exit_code, Some(128 + 15));
        assert_eq!(r.steps[0].status, StepStatus::Fail);
    }

    #[test]
    fn background_process_holding_pipes_does_not_hang_the_step() {
        let dir = TempDir::new();
        let r = run_quiet(
            &pipeline(vec![step("s", "sleep 30 & echo $! > bg.pid; echo started")]),
            dir.path(),
        );
        // Clean up the background process.
        let pid = std::fs::read_to_string(dir.path().join("bg.pid")).unwrap();
        let _ = Command::new("kill").arg(pid.trim()).status();
        assert_eq!(r.steps[0].status, StepStatus::Pass);
        assert_eq!(r.steps[0].stdout, "started\n");
    }

    #[test]
    fn status_strings() {
        let all = [
            StepStatus::Pass,
            StepStatus::Fail,
            StepStatus::Skipped,
            StepStatus::TimedOut,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pass", "fail", "skipped", "timed_out"]);
        assert_eq!(RunStatus::Pass.as_str(), "pass");
        assert_eq!(RunStatus::Fail.as_str(), "fail");
    }

    #[test]
    fn tail_buffer_keeps_the_tail() {
        let mut t = TailBuffer::new(10);
        for i in 0..100 {
            t.push_line(&format!("l{i}"));
        }
        let out = t.finish();
        assert!(out.starts_with("[gryt: "));
        assert!(out.ends_with("l98\nl99\n"), "{out}");
        let body = out.split_once('\n').unwrap().1;
        assert!(body.len() <= 10);
        let mut t = TailBuffer::new(10);
        t.push_line("short");
        assert_eq!(t.finish(), "short\n");
    }
}
