//! Reading container logs in the CRI log format (`kubectl logs` and termination messages)
//! from files written here as the runtime writes them: partial records, both streams,
//! rotated and gzip-compressed files, and a log that grows and rotates while it is followed.
//! `tests/logs_containerd.rs` reads what containerd writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use container_logs::{LogLine, LogOptions, LogReader, LogStream, LogStreams};
use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::{RuntimeService, v1};
use futures::StreamExt;
use tempfile::TempDir;

/// How long a followed line may take to show up.
const WAIT: Duration = Duration::from_secs(10);

/// A CRI record at second `second` of 2024-01-01.
fn record(second: u32, stream: &str, tag: &str, content: &str) -> String {
    format!(
        "2024-01-01T00:{:02}:{:02}.{:09}Z {stream} {tag} {content}\n",
        second / 60,
        second % 60,
        second
    )
}

fn ts(second: u32) -> jiff::Timestamp {
    format!(
        "2024-01-01T00:{:02}:{:02}.{:09}Z",
        second / 60,
        second % 60,
        second
    )
    .parse()
    .unwrap()
}

fn write(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
}

fn append(path: &Path, content: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(content.as_bytes()).unwrap();
}

fn gzip(path: &Path, content: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    encoder.write_all(content.as_bytes()).unwrap();
    encoder.finish().unwrap();
}

/// A log directory with `0.log` in it (not yet written).
fn log_dir() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("0.log");
    (dir, log)
}

async fn read_all(log: &Path, options: LogOptions) -> Vec<LogLine> {
    let reader = LogReader::open(log, options).await.unwrap();
    reader
        .into_stream()
        .map(|line| line.unwrap())
        .collect()
        .await
}

async fn read_text(log: &Path, options: LogOptions) -> String {
    let lines = read_all(log, options).await;
    String::from_utf8(lines.into_iter().flat_map(|l| l.output).collect()).unwrap()
}

#[tokio::test]
async fn partial_records_join_per_stream_and_streams_interleave() {
    let (_dir, log) = log_dir();
    write(
        &log,
        &[
            record(1, "stdout", "P", "hel"),
            record(2, "stderr", "P", "warn"),
            record(3, "stdout", "P", "lo "),
            record(4, "stderr", "F", "ing"),
            record(5, "stdout", "F", "world"),
            record(6, "stdout", "F", ""),
        ]
        .concat(),
    );
    let lines = read_all(&log, LogOptions::default()).await;
    let summary: Vec<(LogStream, jiff::Timestamp, String)> = lines
        .iter()
        .map(|l| {
            (
                l.stream,
                l.timestamp,
                String::from_utf8(l.output.clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (LogStream::Stderr, ts(2), "warning\n".to_string()),
            (LogStream::Stdout, ts(1), "hello world\n".to_string()),
            (LogStream::Stdout, ts(6), "\n".to_string()),
        ]
    );

    let stdout = LogOptions {
        streams: LogStreams::Stdout,
        ..Default::default()
    };
    assert_eq!(read_text(&log, stdout).await, "hello world\n\n");
    let stderr = LogOptions {
        streams: LogStreams::Stderr,
        timestamps: true,
        ..Default::default()
    };
    assert_eq!(
        read_text(&log, stderr).await,
        "2024-01-01T00:00:02.000000002Z warning\n"
    );
}

#[tokio::test]
async fn timestamps_keep_the_runtime_offset_and_the_last_line_may_lack_a_newline() {
    let (_dir, log) = log_dir();
    write(
        &log,
        "2024-01-01T01:00:00.25+01:00 stdout F local\n2024-01-01T00:00:01Z stdout F unfinished",
    );
    let options = LogOptions {
        timestamps: true,
        ..Default::default()
    };
    assert_eq!(
        read_text(&log, options).await,
        "2024-01-01T01:00:00.250000000+01:00 local\n2024-01-01T00:00:01.000000000Z unfinished"
    );
}

/// Found by the `cri_log` fuzz target: a line left unfinished with no content was dropped
/// at the end of a read, but counted by `tail_lines`, so `tail_lines: 1` showed nothing.
/// It is a line like any other: the tail is the end of what a read of everything gives.
#[tokio::test]
async fn an_unfinished_line_without_content_is_a_line_and_the_tail_ends_with_it() {
    let (_dir, log) = log_dir();
    write(
        &log,
        &(record(1, "stdout", "F", "a")
            + &record(2, "stderr", "P", "")
            + &record(3, "stdout", "F", "b")),
    );
    let lines = read_all(&log, LogOptions::default()).await;
    let shown: Vec<(LogStream, &[u8])> = lines.iter().map(|l| (l.stream, &l.output[..])).collect();
    assert_eq!(
        shown,
        [
            (LogStream::Stdout, &b"a\n"[..]),
            (LogStream::Stdout, b"b\n"),
            (LogStream::Stderr, b"")
        ]
    );
    let tail = LogOptions {
        tail_lines: Some(2),
        timestamps: true,
        ..Default::default()
    };
    assert_eq!(
        read_text(&log, tail).await,
        "2024-01-01T00:00:03.000000003Z b\n2024-01-01T00:00:02.000000002Z "
    );
}

/// Found by the `cri_log` fuzz target: the tail looked at the end of the live log only
/// until it held enough lines, so a line the other stream left unfinished before that end
/// was missed, though a read of everything shows it last; `tail_lines: 2` showed two
/// stderr lines instead of the last stderr line and the unfinished stdout one.
#[tokio::test]
async fn a_line_left_unfinished_long_before_the_end_is_still_the_last_line_of_the_tail() {
    let (_dir, log) = log_dir();
    // Far more than the 64 KiB the tail looks at first.
    let errors: String = (0..5000)
        .map(|i| record(2, "stderr", "F", &format!("error {i}")))
        .collect();
    write(&log, &(record(1, "stdout", "P", "started ") + &errors));
    let everything = read_all(&log, LogOptions::default()).await;
    assert_eq!(everything.len(), 5001);
    assert_eq!(everything[5000].output, b"started ");
    for n in [1, 2, 3] {
        let tail = LogOptions {
            tail_lines: Some(n),
            ..Default::default()
        };
        assert_eq!(
            read_all(&log, tail).await,
            everything[everything.len() - n as usize..],
            "tail_lines: {n}"
        );
    }
    let stdout = LogOptions {
        tail_lines: Some(1),
        streams: LogStreams::Stdout,
        ..Default::default()
    };
    assert_eq!(read_text(&log, stdout).await, "started ");
}

/// Found by the `cri_log` fuzz target: with lines left unfinished in a rotated file (their
/// streams wrote nothing to the live log), a log with fewer other lines than asked for was
/// read from its start and cut after `tail_lines` lines, so `tail_lines: 3` showed the
/// first three lines instead of the last three. Once the whole log is read those lines
/// count like any other, and the tail is the end of a read of everything.
#[tokio::test]
async fn a_short_log_with_lines_left_unfinished_in_a_rotated_file_tails_from_its_end() {
    let (dir, log) = log_dir();
    gzip(
        &dir.path().join("0.log.20240101-000004.gz"),
        &(record(1, "stderr", "F", "e1")
            + &record(2, "stderr", "F", "e2")
            + &record(3, "stdout", "P", "o")
            + &record(4, "stderr", "P", "u")),
    );
    write(&log, "");
    let tail = |n| LogOptions {
        tail_lines: Some(n),
        ..Default::default()
    };
    assert_eq!(read_text(&log, LogOptions::default()).await, "e1\ne2\nou");
    assert_eq!(read_text(&log, tail(4)).await, "e1\ne2\nou");
    assert_eq!(read_text(&log, tail(3)).await, "e2\nou");
    // Two lines without the unfinished ones: those are left out.
    assert_eq!(read_text(&log, tail(2)).await, "e1\ne2\n");
    assert_eq!(read_text(&log, tail(1)).await, "e2\n");
    let stdout = LogOptions {
        tail_lines: Some(1),
        streams: LogStreams::Stdout,
        ..Default::default()
    };
    assert_eq!(read_text(&log, stdout).await, "o");
}

/// A line left unfinished in a rotated file, after lines of its stream in the tail, is
/// left out when the other lines fill the tail, even when it comes in pieces (1 MiB or
/// more), and the tail still ends with the live log's unfinished line.
#[tokio::test]
async fn a_line_left_unfinished_in_a_rotated_file_is_left_out_when_the_tail_is_full() {
    let (dir, log) = log_dir();
    let long = "x".repeat(1024 * 1024 + 10);
    write(
        &dir.path().join("0.log.20240101-000004"),
        &(record(1, "stdout", "F", "a") + &record(2, "stdout", "P", &long)),
    );
    write(&log, &record(3, "stderr", "P", "b"));
    let everything = read_text(&log, LogOptions::default()).await;
    assert_eq!(everything.len(), "a\n".len() + long.len() + "b".len());
    let tail = LogOptions {
        tail_lines: Some(2),
        ..Default::default()
    };
    assert_eq!(read_text(&log, tail).await, "a\nb");
}

/// `0.log.<1>.gz` (lines 0-3), `0.log.<2>` (4-7), `0.log` (8-11), with line 7 split across
/// the last rotation.
fn rotated_log() -> (TempDir, PathBuf) {
    let (dir, log) = log_dir();
    let lines = |range: std::ops::Range<u32>| -> String {
        range
            .map(|i| record(i, "stdout", "F", &format!("line {i}")))
            .collect()
    };
    gzip(&dir.path().join("0.log.20240101-000004.gz"), &lines(0..4));
    write(
        &dir.path().join("0.log.20240101-000008"),
        &(lines(4..7) + &record(7, "stdout", "P", "line ")),
    );
    write(&log, &(record(7, "stdout", "F", "7") + &lines(8..12)));
    (dir, log)
}

fn numbers(text: &str) -> Vec<u32> {
    text.lines()
        .map(|l| l.trim_start_matches("line ").parse().unwrap())
        .collect()
}

#[tokio::test]
async fn tail_reaches_into_rotated_and_gzip_files() {
    let (_dir, log) = rotated_log();
    let tail = |n| LogOptions {
        tail_lines: Some(n),
        ..Default::default()
    };
    assert_eq!(
        numbers(&read_text(&log, LogOptions::default()).await),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(numbers(&read_text(&log, tail(2)).await), [10, 11]);
    // Line 7 began in the rotated file: it is shown whole.
    assert_eq!(numbers(&read_text(&log, tail(5)).await), [7, 8, 9, 10, 11]);
    // Into the gzip file.
    assert_eq!(
        numbers(&read_text(&log, tail(10)).await),
        (2..12).collect::<Vec<_>>()
    );
    assert_eq!(numbers(&read_text(&log, tail(100)).await).len(), 12);
    assert_eq!(read_text(&log, tail(0)).await, "");
}

#[tokio::test]
async fn since_time_and_limit_bytes() {
    let (_dir, log) = rotated_log();
    let since = LogOptions {
        since_time: Some(ts(9)),
        ..Default::default()
    };
    assert_eq!(numbers(&read_text(&log, since).await), [9, 10, 11]);
    // Line 7's first record is at second 7: a line is dated by its start.
    let since = LogOptions {
        since_time: Some(ts(7) + jiff::SignedDuration::from_nanos(1)),
        ..Default::default()
    };
    assert_eq!(numbers(&read_text(&log, since).await), [8, 9, 10, 11]);

    let limited = LogOptions {
        limit_bytes: Some(10),
        ..Default::default()
    };
    assert_eq!(read_text(&log, limited).await, "line 0\nlin");
    // The prefix counts.
    let limited = LogOptions {
        limit_bytes: Some(35),
        timestamps: true,
        tail_lines: Some(1),
        ..Default::default()
    };
    assert_eq!(
        read_text(&log, limited).await,
        "2024-01-01T00:00:11.000000011Z line"
    );
    let exact = LogOptions {
        limit_bytes: Some(7),
        ..Default::default()
    };
    assert_eq!(read_text(&log, exact).await, "line 0\n");
}

#[tokio::test]
async fn malformed_lines_are_skipped_and_counted() {
    let (_dir, log) = log_dir();
    write(
        &log,
        &[
            record(1, "stdout", "F", "one"),
            "not a cri line\n".to_string(),
            "2024-01-01T00:00:02Z stdin F wrong stream\n".to_string(),
            "{\"log\":\"docker\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:03Z\"}\n"
                .to_string(),
            record(4, "stdout", "F", "two"),
        ]
        .concat(),
    );
    let mut reader = LogReader::open(&log, LogOptions::default()).await.unwrap();
    let mut text = Vec::new();
    while let Some(line) = reader.next_line().await.unwrap() {
        text.extend(line.output);
    }
    assert_eq!(text, b"one\ntwo\n");
    assert_eq!(reader.malformed_lines(), 3);
    // Tail does not count them either.
    let tail = LogOptions {
        tail_lines: Some(2),
        ..Default::default()
    };
    assert_eq!(read_text(&log, tail).await, "one\ntwo\n");
}

#[tokio::test]
async fn a_line_longer_than_a_mebibyte_comes_in_pieces_and_counts_once() {
    let (_dir, log) = log_dir();
    let piece = "x".repeat(16 * 1024);
    let mut content = record(1, "stdout", "F", "before");
    for i in 0..100 {
        content.push_str(&record(2 + i, "stdout", "P", &piece));
    }
    content.push_str(&record(200, "stdout", "F", "end"));
    write(&log, &content);
    let options = LogOptions {
        tail_lines: Some(1),
        timestamps: true,
        ..Default::default()
    };
    let lines = read_all(&log, options).await;
    assert!(lines.len() > 1, "in pieces");
    let prefix = b"2024-01-01T00:00:02.000000002Z ";
    assert!(lines[0].output.starts_with(prefix));
    assert!(lines[1..].iter().all(|l| !l.output.starts_with(b"2024")));
    let total: usize = lines.iter().map(|l| l.output.len()).sum();
    assert_eq!(total, prefix.len() + 100 * piece.len() + "end\n".len());
    assert!(lines.last().unwrap().output.ends_with(b"xend\n"));
}

#[tokio::test]
async fn a_symlink_is_read_through_and_a_missing_log_is_an_error() {
    let (dir, log) = rotated_log();
    let link = dir.path().join("web_default_app-0123456789ab.log");
    std::os::unix::fs::symlink(&log, &link).unwrap();
    let tail = LogOptions {
        tail_lines: Some(5),
        ..Default::default()
    };
    assert_eq!(numbers(&read_text(&link, tail).await), [7, 8, 9, 10, 11]);

    let err = LogReader::open(dir.path().join("1.log"), LogOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1.log"), "{err}");
}

/// The next line of a followed log, as text, within [`WAIT`].
async fn next_text(reader: &mut LogReader) -> Option<String> {
    let line = tokio::time::timeout(WAIT, reader.next_line())
        .await
        .expect("a line in time")
        .unwrap()?;
    Some(String::from_utf8(line.output).unwrap())
}

/// A running container of the fake runtime, whose status says whether to keep following.
async fn running_container(fake: &FakeRuntime) -> String {
    let sandbox_config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: "web".into(),
            namespace: "default".into(),
            uid: "uid-1".into(),
            attempt: 0,
        }),
        ..Default::default()
    };
    let sandbox = fake
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(sandbox_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .pod_sandbox_id;
    let id = fake
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox,
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "app".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: BUSYBOX_IMAGE.into(),
                    ..Default::default()
                }),
                command: vec!["sleep".into(), "infinity".into()],
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config),
        })
        .await
        .unwrap()
        .container_id;
    fake.start_container(v1::StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_sees_appended_lines_and_goes_on_across_a_rotation() {
    let (dir, log) = log_dir();
    write(
        &log,
        &(record(1, "stdout", "F", "one") + &record(2, "stdout", "P", "tw")),
    );
    let fake = FakeRuntime::with_busybox();
    let id = running_container(&fake).await;
    let options = LogOptions {
        follow: true,
        ..Default::default()
    };
    let mut reader = LogReader::open(&log, options)
        .await
        .unwrap()
        .until_container_exits(Arc::new(fake.clone()), id.clone());
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("one\n"));

    // The partial line completes, and a record arrives in two writes.
    append(&log, &record(3, "stdout", "F", "o"));
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("two\n"));
    let three = record(4, "stderr", "F", "three");
    append(&log, &three[..10]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    append(&log, &three[10..]);
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("three\n"));

    // A rotation: the log is renamed, the runtime writes on into the renamed file until
    // ReopenContainerLog creates a new one.
    let rotated = dir.path().join("0.log.20240101-000005");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, &record(5, "stdout", "F", "four"));
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("four\n"));
    append(&rotated, &record(6, "stdout", "F", "five"));
    write(&log, &record(7, "stdout", "F", "six"));
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("five\n"));
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("six\n"));
    append(&log, &record(8, "stdout", "F", "seven"));
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("seven\n"));

    // The container exits after a last line: following ends after it.
    append(&log, &record(9, "stdout", "F", "last"));
    fake.exit_container(&id, 0, "");
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("last\n"));
    assert_eq!(next_text(&mut reader).await, None);
    assert!(fake.calls_to("ContainerStatus").len() >= 2);
}

/// The next line of a followed stream, as text, within [`WAIT`].
async fn next_from<S>(lines: &mut S) -> String
where
    S: futures::Stream<Item = container_logs::Result<LogLine>> + Unpin,
{
    let line = tokio::time::timeout(WAIT, lines.next())
        .await
        .expect("a line in time")
        .expect("not the end")
        .unwrap();
    String::from_utf8(line.output).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_with_tail_starts_near_the_end_and_the_stream_can_be_dropped() {
    let (_dir, log) = rotated_log();
    let options = LogOptions {
        follow: true,
        tail_lines: Some(1),
        ..Default::default()
    };
    let mut lines = Box::pin(LogReader::open(&log, options).await.unwrap().into_stream());
    assert_eq!(next_from(&mut lines).await, "line 11\n");
    // Nothing new: a `next()` given up on loses nothing.
    let idle = tokio::time::timeout(Duration::from_millis(200), lines.next()).await;
    assert!(idle.is_err(), "no line yet");
    append(&log, &record(12, "stdout", "F", "line 12"));
    assert_eq!(next_from(&mut lines).await, "line 12\n");

    let options = LogOptions {
        follow: true,
        tail_lines: Some(0),
        ..Default::default()
    };
    let mut reader = LogReader::open(&log, options).await.unwrap();
    append(&log, &record(13, "stderr", "F", "line 13"));
    assert_eq!(next_text(&mut reader).await.as_deref(), Some("line 13\n"));
}

#[test]
fn termination_message_takes_the_end_of_the_log_across_a_rotation() {
    let (_dir, log) = rotated_log();
    let message = container_logs::termination_message_from_logs(&log).unwrap();
    assert_eq!(numbers(&message), (0..12).collect::<Vec<_>>());
    assert_eq!(
        container_logs::last_log_lines(&log, 2, 12).unwrap(),
        " 10\nline 11\n"
    );
}
