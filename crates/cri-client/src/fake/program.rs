//! How the fake reads a command line: the small set of busybox commands it understands.
//!
//! The table is in the [module docs](super#the-process-model). Everything here is pure:
//! argv in, a description of what the process does out.

use std::time::Duration;

/// What a container's main process does, as far as the fake is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Program {
    /// Runs for `lifetime` of fake-clock time (`None`: until stopped), then exits with
    /// `exit_code`. `term_exit` is the code it exits with on SIGTERM when the command traps
    /// TERM; without a trap the process ignores SIGTERM, as PID 1 of a container does, and
    /// only SIGKILL (exit 137) ends it.
    Run {
        lifetime: Option<Duration>,
        exit_code: i32,
        term_exit: Option<i32>,
    },
    /// Fills a buffer of `bytes` bytes (busybox `dd bs=...`), then exits 0. Over the
    /// container's memory limit the kernel OOM-kills it instead (exit 137, `OOMKilled`).
    Allocate { bytes: u64 },
}

impl Program {
    fn exits(code: i32) -> Self {
        Program::Run {
            lifetime: Some(Duration::ZERO),
            exit_code: code,
            term_exit: None,
        }
    }

    fn forever() -> Self {
        Program::Run {
            lifetime: None,
            exit_code: 0,
            term_exit: None,
        }
    }
}

/// Interpret a container's argv (its `command` followed by its `args`, or the image's
/// entrypoint and cmd).
pub(crate) fn interpret(argv: &[String]) -> Program {
    let argv = strip_busybox(argv);
    let Some(first) = argv.first() else {
        return Program::exits(0);
    };
    match applet(first) {
        "true" | ":" | "echo" => Program::exits(0),
        "false" => Program::exits(1),
        "sleep" => match argv.get(1).and_then(|a| parse_sleep(a)) {
            Some(lifetime) => Program::Run {
                lifetime,
                exit_code: 0,
                term_exit: None,
            },
            None => Program::exits(1),
        },
        "dd" => match dd_block_size(&argv[1..]) {
            Some(bytes) => Program::Allocate { bytes },
            None => Program::exits(0),
        },
        "sh" | "ash" => match shell_script(&argv[1..]) {
            Some(script) => interpret_script(script),
            // `sh` with no script reads stdin, which is /dev/null without `stdin: true`:
            // it exits 0 at once, as busybox's image default `CMD ["sh"]` does.
            None => Program::exits(0),
        },
        _ => Program::forever(),
    }
}

/// The outcome of a command run by `ExecSync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecOutcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
    /// How long the command runs (`None`: for ever). The fake compares it with the exec
    /// timeout and otherwise returns at once.
    pub duration: Option<Duration>,
}

/// Interpret a command run by `ExecSync`.
pub(crate) fn interpret_exec(argv: &[String]) -> ExecOutcome {
    let mut out = ExecOutcome {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: 0,
        duration: Some(Duration::ZERO),
    };
    let argv = strip_busybox(argv);
    match argv.first().map(|a| applet(a)) {
        Some("sh" | "ash") => {
            if let Some(script) = shell_script(&argv[1..]) {
                run_script_exec(script, &mut out);
            }
        }
        Some(_) => out.exit_code = exec_simple(argv, &mut out),
        None => {
            out.exit_code = 126;
            out.stderr = b"no command given\n".to_vec();
        }
    }
    out
}

/// Run one simple command for exec; returns its status.
fn exec_simple(argv: &[String], out: &mut ExecOutcome) -> i32 {
    let argv = strip_busybox(argv);
    let Some(first) = argv.first() else { return 0 };
    match applet(first) {
        "echo" => {
            let (newline, words) = match argv.get(1).map(String::as_str) {
                Some("-n") => (false, &argv[2..]),
                _ => (true, &argv[1..]),
            };
            out.stdout.extend_from_slice(words.join(" ").as_bytes());
            if newline {
                out.stdout.push(b'\n');
            }
            0
        }
        "false" => 1,
        "sleep" => match argv.get(1).and_then(|a| parse_sleep(a)) {
            Some(d) => {
                out.duration = add(out.duration, d);
                0
            }
            None => 1,
        },
        "sh" | "ash" => {
            if let Some(script) = shell_script(&argv[1..]) {
                run_script_exec(script, out);
            }
            out.exit_code
        }
        _ => 0,
    }
}

fn run_script_exec(script: &str, out: &mut ExecOutcome) {
    let mut status = 0;
    for statement in statements(script) {
        let words = &statement.words;
        match words.first().map(|w| applet(w)) {
            None => {}
            Some("exit") => {
                out.exit_code = words.get(1).and_then(|c| c.parse().ok()).unwrap_or(status);
                return;
            }
            Some("trap") | Some("wait") => {}
            Some(_) => status = exec_simple(words, out),
        }
    }
    out.exit_code = status;
}

fn interpret_script(script: &str) -> Program {
    let mut lifetime = Some(Duration::ZERO);
    let mut background = Some(Duration::ZERO);
    let mut term_exit = None;
    let mut status = 0;
    for statement in statements(script) {
        let words = &statement.words;
        let Some(first) = words.first() else { continue };
        let words = if applet(first) == "exec" {
            &words[1..]
        } else {
            &words[..]
        };
        let Some(first) = words.first() else { continue };
        match applet(first) {
            "trap" => {
                if let Some(code) = trap_exit_code(&words[1..]) {
                    term_exit = Some(code);
                }
            }
            "exit" => {
                let code = words.get(1).and_then(|c| c.parse().ok()).unwrap_or(status);
                return Program::Run {
                    lifetime,
                    exit_code: code,
                    term_exit,
                };
            }
            "wait" => {
                lifetime = lifetime.and_then(|l| background.map(|b| l + b));
                background = Some(Duration::ZERO);
            }
            "sleep" => match words.get(1).and_then(|a| parse_sleep(a)) {
                Some(d) if statement.background => background = d,
                Some(d) => {
                    lifetime = add(lifetime, d);
                    status = 0;
                }
                None => status = 1,
            },
            "true" | ":" | "echo" => status = 0,
            "false" => status = 1,
            _ if statement.background => {}
            _ => lifetime = None,
        }
    }
    Program::Run {
        lifetime,
        exit_code: status,
        term_exit,
    }
}

/// `trap "exit N" TERM` (or `SIGTERM`, `15`): the exit code the handler exits with.
fn trap_exit_code(args: &[String]) -> Option<i32> {
    let (handler, signals) = args.split_first()?;
    let traps_term = signals
        .iter()
        .any(|s| matches!(s.as_str(), "TERM" | "SIGTERM" | "15"));
    if !traps_term {
        return None;
    }
    let handler: Vec<&str> = handler.split_whitespace().collect();
    match handler.as_slice() {
        ["exit"] => Some(0),
        ["exit", code] => code.parse().ok(),
        _ => None,
    }
}

fn add(total: Option<Duration>, more: Option<Duration>) -> Option<Duration> {
    match (total, more) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    }
}

/// `busybox sleep 3` runs the `sleep` applet.
fn strip_busybox(argv: &[String]) -> &[String] {
    match argv.first() {
        Some(a) if applet(a) == "busybox" => &argv[1..],
        _ => argv,
    }
}

/// The applet name of a path: `/bin/sleep` → `sleep`.
fn applet(arg0: &str) -> &str {
    arg0.rsplit('/').next().unwrap_or(arg0)
}

/// The script of `sh -c SCRIPT` (options before `-c` are skipped).
fn shell_script(args: &[String]) -> Option<&str> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-c" {
            return it.next().map(String::as_str);
        }
        if !arg.starts_with('-') {
            return None;
        }
    }
    None
}

/// busybox `sleep` arguments: seconds with an optional fraction and an `s`, `m`, `h` or `d`
/// suffix, or `infinity`. `Some(None)` is for ever.
pub(crate) fn parse_sleep(arg: &str) -> Option<Option<Duration>> {
    if arg == "inf" || arg == "infinity" {
        return Some(None);
    }
    let (number, unit) = match arg.char_indices().last()? {
        (i, 's') => (&arg[..i], 1.0),
        (i, 'm') => (&arg[..i], 60.0),
        (i, 'h') => (&arg[..i], 3600.0),
        (i, 'd') => (&arg[..i], 86400.0),
        _ => (arg, 1.0),
    };
    let seconds: f64 = number.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Some(Duration::from_secs_f64(seconds * unit)))
}

/// The `bs=` of a `dd` command line, with busybox's suffixes (`64M` is 64 MiB).
fn dd_block_size(args: &[String]) -> Option<u64> {
    let mut bs = None;
    let mut count = 1u64;
    for arg in args {
        if let Some(v) = arg.strip_prefix("bs=") {
            bs = Some(parse_size(v)?);
        } else if let Some(v) = arg.strip_prefix("count=") {
            count = v.parse().ok()?;
        }
    }
    if count == 0 { Some(0) } else { bs }
}

/// A size with busybox `dd` suffixes: `c` (1), `w` (2), `b` (512), `kB` (1000), `k`/`K`
/// (1024), `MB`, `M`, `GB`, `G`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    const SUFFIXES: &[(&str, u64)] = &[
        ("kB", 1000),
        ("kD", 1000),
        ("MB", 1_000_000),
        ("MD", 1_000_000),
        ("GB", 1_000_000_000),
        ("GD", 1_000_000_000),
        ("c", 1),
        ("w", 2),
        ("b", 512),
        ("k", 1024),
        ("K", 1024),
        ("M", 1024 * 1024),
        ("G", 1024 * 1024 * 1024),
    ];
    for (suffix, mult) in SUFFIXES {
        if let Some(number) = s.strip_suffix(suffix) {
            return number.parse::<u64>().ok()?.checked_mul(*mult);
        }
    }
    s.parse().ok()
}

/// One shell statement: its words, and whether it ended with `&`.
#[derive(Debug, Default)]
struct Statement {
    words: Vec<String>,
    background: bool,
}

/// Split a shell script into statements at `;`, `&`, `&&`, `||` and newlines, honouring
/// single and double quotes and backslashes. Enough for the one-liners tests use.
fn statements(script: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current = Statement::default();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let finish_word = |word: &mut String, in_word: &mut bool, st: &mut Statement| {
        if *in_word {
            st.words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            ';' | '\n' => {
                finish_word(&mut word, &mut in_word, &mut current);
                out.push(std::mem::take(&mut current));
            }
            '&' | '|' => {
                finish_word(&mut word, &mut in_word, &mut current);
                if chars.peek() == Some(&c) {
                    chars.next();
                } else if c == '&' {
                    current.background = true;
                }
                out.push(std::mem::take(&mut current));
            }
            c if c.is_whitespace() => finish_word(&mut word, &mut in_word, &mut current),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    finish_word(&mut word, &mut in_word, &mut current);
    out.push(current);
    out.retain(|s| !s.words.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    fn runs(lifetime: Option<u64>, exit_code: i32, term_exit: Option<i32>) -> Program {
        Program::Run {
            lifetime: lifetime.map(Duration::from_secs),
            exit_code,
            term_exit,
        }
    }

    #[test]
    fn simple_commands() {
        assert_eq!(interpret(&argv(&["true"])), runs(Some(0), 0, None));
        assert_eq!(interpret(&argv(&["/bin/false"])), runs(Some(0), 1, None));
        assert_eq!(interpret(&argv(&["sleep", "30"])), runs(Some(30), 0, None));
        assert_eq!(
            interpret(&argv(&["sleep", "infinity"])),
            runs(None, 0, None)
        );
        assert_eq!(
            interpret(&argv(&["busybox", "sleep", "2m"])),
            runs(Some(120), 0, None)
        );
        assert_eq!(interpret(&argv(&["/bin/sh"])), runs(Some(0), 0, None));
        assert_eq!(interpret(&argv(&["httpd", "-f"])), runs(None, 0, None));
        assert_eq!(interpret(&[]), runs(Some(0), 0, None));
    }

    #[test]
    fn shell_scripts() {
        assert_eq!(
            interpret(&argv(&["sh", "-c", "exit 3"])),
            runs(Some(0), 3, None)
        );
        assert_eq!(
            interpret(&argv(&["sh", "-c", "echo hi; sleep 2; exit 4"])),
            runs(Some(2), 4, None)
        );
        assert_eq!(
            interpret(&argv(&[
                "sh",
                "-c",
                "trap \"exit 0\" TERM; sleep 3600 & wait"
            ])),
            runs(Some(3600), 0, Some(0))
        );
        assert_eq!(
            interpret(&argv(&[
                "/bin/sh",
                "-c",
                "trap 'exit 5' SIGTERM; while true; do sleep 1; done"
            ])),
            runs(None, 0, Some(5))
        );
        assert_eq!(
            interpret(&argv(&["sh", "-c", "false"])),
            runs(Some(0), 1, None)
        );
    }

    #[test]
    fn dd_allocates_its_block_size() {
        assert_eq!(
            interpret(&argv(&[
                "dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=64M",
                "count=1"
            ])),
            Program::Allocate { bytes: 64 << 20 }
        );
        assert_eq!(parse_size("1kB"), Some(1000));
        assert_eq!(parse_size("3b"), Some(1536));
        assert_eq!(parse_size("12x"), None);
    }

    #[test]
    fn exec_commands() {
        let echo = interpret_exec(&argv(&["echo", "hello", "world"]));
        assert_eq!(echo.stdout, b"hello world\n");
        assert_eq!(echo.exit_code, 0);
        let script = interpret_exec(&argv(&["sh", "-c", "echo -n a; echo b; exit 7"]));
        assert_eq!(script.stdout, b"ab\n");
        assert_eq!(script.exit_code, 7);
        let sleep = interpret_exec(&argv(&["sleep", "5"]));
        assert_eq!(sleep.duration, Some(Duration::from_secs(5)));
        assert_eq!(interpret_exec(&argv(&["false"])).exit_code, 1);
        assert_eq!(interpret_exec(&argv(&["sh", "-c", "false"])).exit_code, 1);
        assert_eq!(
            interpret_exec(&argv(&["cat", "/etc/hostname"])).exit_code,
            0
        );
    }

    #[test]
    fn sleep_arguments() {
        assert_eq!(parse_sleep("1.5"), Some(Some(Duration::from_millis(1500))));
        assert_eq!(parse_sleep("infinity"), Some(None));
        assert_eq!(parse_sleep("1h"), Some(Some(Duration::from_secs(3600))));
        assert_eq!(parse_sleep("x"), None);
    }
}
