//! The files of one container log as the reader holds them: opened once, so that a rotation,
//! a compression or a removal that happens while they are read changes nothing for the
//! reader, and read record by record in bounded memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::files::COMPRESS_SUFFIX;
use crate::{Error, Result};

/// The most bytes of one record held in memory at once. containerd splits lines at 16 KiB
/// by default (`max_container_log_line_size`), so a record is normally read whole; a longer
/// one (the limit switched off) is read in pieces of this size.
pub(crate) const MAX_RECORD: usize = 64 * 1024;

/// How much of a file a [`BufReader`] holds.
const BUFFER: usize = 64 * 1024;

/// The identity of a file: a rotation renames the live log and the runtime creates a new
/// file with the same name, which a different inode tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub(crate) fn of(metadata: &std::fs::Metadata) -> FileId {
        FileId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
}

/// One opened file of a container log.
#[derive(Debug)]
pub(crate) struct LogFile {
    /// Where it was opened.
    pub path: PathBuf,
    /// The open file.
    pub file: File,
    /// Whether it is gzip-compressed (a rotated `.gz` file).
    pub gzip: bool,
    /// Its identity.
    pub id: FileId,
}

impl LogFile {
    /// Opens `path`; `Ok(None)` when it does not exist. A plain rotated file that is gone
    /// has usually just been compressed: its `.gz` is opened instead (`try_compressed`).
    pub(crate) fn open(path: &Path, try_compressed: bool) -> Result<Option<LogFile>> {
        let gzip = path
            .as_os_str()
            .to_string_lossy()
            .ends_with(COMPRESS_SUFFIX);
        match File::open(path) {
            Ok(file) => {
                let metadata = file
                    .metadata()
                    .map_err(read_error("stat the log file", path))?;
                Ok(Some(LogFile {
                    path: path.to_path_buf(),
                    file,
                    gzip,
                    id: FileId::of(&metadata),
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if try_compressed && !gzip {
                    let mut compressed = path.as_os_str().to_os_string();
                    compressed.push(COMPRESS_SUFFIX);
                    LogFile::open(Path::new(&compressed), false)
                } else {
                    Ok(None)
                }
            }
            Err(source) => Err(Error::Read {
                action: "open the log file",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// A reader of the file's content (decompressed) from its start.
    pub(crate) fn content(&self) -> io::Result<Box<dyn BufRead + Send + '_>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        Ok(if self.gzip {
            Box::new(BufReader::with_capacity(
                BUFFER,
                flate2::read::GzDecoder::new(file),
            ))
        } else {
            Box::new(BufReader::with_capacity(BUFFER, file))
        })
    }

    /// The file turned into the reader that goes on from `offset` in its content.
    pub(crate) fn into_reader(self, offset: u64) -> io::Result<Box<dyn BufRead + Send>> {
        let mut file = self.file;
        if self.gzip {
            file.seek(SeekFrom::Start(0))?;
            let mut reader = BufReader::with_capacity(BUFFER, flate2::read::GzDecoder::new(file));
            io::copy(&mut (&mut reader).take(offset), &mut io::sink())?;
            Ok(Box::new(reader))
        } else {
            file.seek(SeekFrom::Start(offset))?;
            Ok(Box::new(BufReader::with_capacity(BUFFER, file)))
        }
    }
}

/// The error of a failed read of `path`.
pub(crate) fn read_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::Read {
        action,
        path,
        source,
    }
}

/// How [`read_chunk`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// At the end of the record: its newline was consumed (and not stored).
    Newline,
    /// The buffer holds [`MAX_RECORD`] bytes; the record goes on.
    Full,
    /// At the end of the data for now; the record may go on when the file grows.
    Eof,
}

/// Appends the bytes of the current record to `buf`, up to its newline, the end of the data
/// or `MAX_RECORD` bytes in `buf`, whichever comes first. Returns how it stopped and how
/// many bytes it consumed from `reader` (the newline included).
pub(crate) fn read_chunk(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<(Chunk, u64)> {
    let mut consumed = 0u64;
    loop {
        let room = MAX_RECORD.saturating_sub(buf.len());
        if room == 0 {
            return Ok((Chunk::Full, consumed));
        }
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((Chunk::Eof, consumed));
        }
        let window = &available[..available.len().min(room)];
        if let Some(newline) = window.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&window[..newline]);
            reader.consume(newline + 1);
            return Ok((Chunk::Newline, consumed + newline as u64 + 1));
        }
        let n = window.len();
        buf.extend_from_slice(window);
        reader.consume(n);
        consumed += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stop_at_newlines_at_the_end_and_at_the_limit() {
        let mut data = b"one\ntwo".to_vec();
        let mut reader: &[u8] = &data;
        let mut buf = Vec::new();
        assert_eq!(
            read_chunk(&mut reader, &mut buf).unwrap(),
            (Chunk::Newline, 4)
        );
        assert_eq!(buf, b"one");
        buf.clear();
        assert_eq!(read_chunk(&mut reader, &mut buf).unwrap(), (Chunk::Eof, 3));
        assert_eq!(buf, b"two");
        assert_eq!(read_chunk(&mut reader, &mut buf).unwrap(), (Chunk::Eof, 0));

        data = vec![b'x'; MAX_RECORD + 10];
        data.push(b'\n');
        let mut reader = BufReader::with_capacity(1000, &data[..]);
        let mut buf = Vec::new();
        let (chunk, n) = read_chunk(&mut reader, &mut buf).unwrap();
        assert_eq!(
            (chunk, n, buf.len()),
            (Chunk::Full, MAX_RECORD as u64, MAX_RECORD)
        );
        buf.clear();
        assert_eq!(
            read_chunk(&mut reader, &mut buf).unwrap(),
            (Chunk::Newline, 11)
        );
        assert_eq!(buf.len(), 10);
    }
}
