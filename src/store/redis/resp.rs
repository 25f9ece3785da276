//! A small RESP2 client over a TCP or unix socket: what the Redis store needs and no more.
//!
//! Hand-written rather than the `redis` crate because a delivery is a fresh process: measured
//! here (docs/architecture.md, "The Redis store"), connect + one pipelined HMGET of 300 fields
//! cost 1.0 ms over a no-op process with this client against 2.2 ms with `redis` 0.32, whose
//! binary was also 1 MB larger. Every read has a deadline (a slow or stuck server costs a
//! bounded wait) and every reply is bounded (a server answering garbage is an error, never a
//! huge allocation or a hang).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// One reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as an error when the server said so.
    pub fn ok(self) -> io::Result<Reply> {
        match self {
            Reply::Error(e) => Err(garbage(format!("the server answered an error: {e}"))),
            r => Ok(r),
        }
    }
    pub fn bulk(self) -> io::Result<Option<Vec<u8>>> {
        match self.ok()? {
            Reply::Bulk(b) => Ok(b),
            r => Err(garbage(format!("expected a string, got {}", r.kind()))),
        }
    }
    pub fn array(self) -> io::Result<Vec<Reply>> {
        match self.ok()? {
            Reply::Array(Some(a)) => Ok(a),
            r => Err(garbage(format!("expected an array, got {}", r.kind()))),
        }
    }
    pub fn int(self) -> io::Result<i64> {
        match self.ok()? {
            Reply::Int(i) => Ok(i),
            r => Err(garbage(format!("expected an integer, got {}", r.kind()))),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Reply::Status(_) => "a status",
            Reply::Error(_) => "an error",
            Reply::Int(_) => "an integer",
            Reply::Bulk(Some(_)) => "a string",
            Reply::Bulk(None) | Reply::Array(None) => "nil",
            Reply::Array(Some(_)) => "an array",
        }
    }
}

pub fn garbage(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(t)),
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
        }
    }
    fn set_write_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(t)),
            Stream::Unix(s) => s.set_write_timeout(Some(t)),
        }
    }
}

/// Reads with a deadline: each read waits at most what is left of it.
struct Timed {
    stream: Stream,
    deadline: Instant,
}

impl Timed {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"));
        }
        Ok(left)
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_read_timeout(left)?;
        let n = match &mut self.stream {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        };
        match n {
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))
            }
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")),
            r => r,
        }
    }
}

/// The largest reply element accepted by default (Redis's own limit on a string is 512 MB).
/// A round trip that knows what it asked for sets a tighter `Limits`.
pub const MAX_BULK: usize = 512 << 20;
/// The largest array accepted by default.
pub const MAX_ARRAY: usize = 64 << 20;
/// What a string or array reply may grow by before its bytes have arrived: memory follows what
/// the server actually sent, never the length it announced (a hostile or broken server that
/// announces 512 MB and sends nothing costs this, not an allocation failure).
const GROW: usize = 64 << 10;

/// The largest string and array replies one round trip accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub bulk: usize,
    pub array: usize,
    /// The string bytes all replies of the round trip may hold together (what is left of it).
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { bulk: MAX_BULK, array: MAX_ARRAY, total: usize::MAX }
    }
}

/// What a delivery's round trip may hold besides its largest string: its token counts (12
/// bytes each, at most `max_tokens`), reputation records and cached DNS answers are far less.
const TIGHT_REST: usize = 1 << 20;

impl Limits {
    /// A round trip of a delivery: strings up to `bulk` (its largest is the LR table) and
    /// `bulk` + 1 MiB in all, arrays only as long as a command queued asked for (HMGET/MGET of
    /// N fields: N), at least 16. (Each string bounded alone, a store whose token values another
    /// writer made 1 MB each had a delivery read 1 MB per token of the message before it
    /// found them damaged: 2,000 such tokens, 2 GB within the deadline.)
    pub fn tight(bulk: usize) -> Limits {
        Limits { bulk, array: 16, total: bulk.saturating_add(TIGHT_REST) }
    }
}
/// A status, error or length line longer than this is garbage.
const MAX_LINE: usize = 64 << 10;

/// A connection: commands are queued with `cmd` and sent with `run`, one write and one
/// round trip for all of them.
pub struct Conn {
    io: BufReader<Timed>,
    out: Vec<u8>,
    queued: usize,
    /// What each command queued for the next round trip is, for messages: its name and key
    /// (EVAL's first key; the command alone for AUTH, whose arguments are secret).
    names: Vec<Vec<u8>>,
    /// The same of the last round trip's commands, in the order of its replies.
    pub last_names: Vec<Vec<u8>>,
    /// Each round trip's bound.
    pub timeout: Duration,
    /// Replies of the connection's set-up (AUTH, SELECT) still to read and check.
    setup: usize,
    /// The bounds of the next round trip's replies (back to the defaults after it).
    pub limits: Limits,
    /// Whether the last round trip's commands were all sent (its failure, if any, came after:
    /// the server may have run them).
    pub sent: bool,
}

/// The addresses of `host`: an address literal at once; a name looked up (getaddrinfo, which
/// has no timeout of its own: a resolver that does not answer would hold a delivery for as
/// long as its own retries take) on a thread of its own, waited for at most `timeout`. A
/// lookup that takes longer is left to finish on its own; the caller goes on without it.
fn resolve(host: &str, port: u16, timeout: Duration) -> io::Result<Vec<std::net::SocketAddr>> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![std::net::SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new().name("resolve".into()).spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
    })?;
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}"))),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("cannot resolve {host} within {} ms", timeout.as_millis()),
        )),
    }
}

/// Connects to the unix socket `path` by `deadline`. std's `UnixStream::connect` blocks with
/// no bound: a server that stopped accepting (hung, SIGSTOPped) lets connections queue until
/// its listen backlog is full, and then every further connect waits forever. Here the socket
/// is non-blocking: a full backlog (EAGAIN) is tried again every few milliseconds until the
/// deadline, a connect in progress is waited for with poll. (std has no connect with a timeout
/// for unix sockets: the few libc calls are unsafe, each with its reason.)
#[allow(unsafe_code)]
fn connect_unix(path: &std::path::Path, deadline: Instant) -> io::Result<UnixStream> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a usable socket path", path.display()),
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "no connection in time");
    loop {
        // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
        let r = unsafe { libc::connect(raw, &addr as *const libc::sockaddr_un as *const libc::sockaddr, len) };
        if r == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // The listen backlog is full: the server is not accepting. Try again shortly.
            Some(libc::EAGAIN) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                std::thread::sleep(left.min(Duration::from_millis(5)));
            }
            Some(libc::EINPROGRESS) => {
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(timed_out());
                    }
                    let mut p = libc::pollfd { fd: raw, events: libc::POLLOUT, revents: 0 };
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
                    // SAFETY: one valid pollfd.
                    let n = unsafe { libc::poll(&mut p, 1, ms) };
                    if n < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::Interrupted {
                            continue;
                        }
                        return Err(e);
                    }
                    if n > 0 {
                        break;
                    }
                }
                let mut err: libc::c_int = 0;
                let mut l = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: SO_ERROR into an int of the right size.
                let r = unsafe {
                    libc::getsockopt(
                        raw,
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        &mut err as *mut _ as *mut libc::c_void,
                        &mut l,
                    )
                };
                if r < 0 {
                    return Err(io::Error::last_os_error());
                }
                if err != 0 {
                    return Err(io::Error::from_raw_os_error(err));
                }
                break;
            }
            _ => return Err(e),
        }
    }
    let s = UnixStream::from(fd);
    s.set_nonblocking(false)?;
    Ok(s)
}

impl Conn {
    /// Connects within `timeout`. AUTH and SELECT are queued, not sent: they go with the
    /// first round trip, so a delivery makes one.
    pub fn connect(
        target: &Target,
        user: Option<&str>,
        password: Option<&str>,
        db: u32,
        timeout: Duration,
    ) -> io::Result<Conn> {
        let stream = match target {
            Target::Tcp { host, port } => {
                // Resolving the name and connecting share the one `timeout`.
                let deadline = Instant::now() + timeout;
                let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
                let mut found = None;
                for addr in resolve(host, *port, timeout)? {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        last = io::Error::new(io::ErrorKind::TimedOut, "no connection in time");
                        break;
                    }
                    match TcpStream::connect_timeout(&addr, left) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = found.ok_or(last)?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Target::Unix(path) => Stream::Unix(connect_unix(path, Instant::now() + timeout)?),
        };
        stream.set_write_timeout(timeout)?;
        let mut c = Conn {
            io: BufReader::with_capacity(64 << 10, Timed { stream, deadline: Instant::now() + timeout }),
            out: Vec::with_capacity(4096),
            queued: 0,
            names: Vec::new(),
            last_names: Vec::new(),
            timeout,
            setup: 0,
            limits: Limits::default(),
            sent: false,
        };
        if let Some(pw) = password {
            match user {
                Some(u) => c.cmd(&[b"AUTH", u.as_bytes(), pw.as_bytes()]),
                None => c.cmd(&[b"AUTH", pw.as_bytes()]),
            }
            c.setup += 1;
        }
        if db != 0 {
            c.cmd(&[b"SELECT", db.to_string().as_bytes()]);
            c.setup += 1;
        }
        c.queued = 0;
        c.names.clear();
        Ok(c)
    }

    /// Notes what a queued command is (see `names`).
    fn name(&mut self, head: &[&[u8]], rest: &[&[u8]]) {
        let mut args = head.iter().chain(rest);
        let mut name = args.next().map(|a| a.to_vec()).unwrap_or_default();
        if name.eq_ignore_ascii_case(b"EVAL") {
            // EVAL SCRIPT NUMKEYS KEY ...: named by its first key.
            args.next();
            args.next();
        }
        if !name.eq_ignore_ascii_case(b"AUTH") {
            if let Some(key) = args.next() {
                name.push(b' ');
                name.extend_from_slice(key);
            }
        }
        self.names.push(name);
    }

    /// Queues one command.
    pub fn cmd(&mut self, args: &[&[u8]]) {
        self.name(args, &[]);
        self.limits.array = self.limits.array.max(args.len());
        self.out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.queued += 1;
    }

    /// Queues a command whose arguments are built by the caller: `head` then `rest`.
    pub fn cmd_with(&mut self, head: &[&[u8]], rest: &[&[u8]]) {
        self.name(head, rest);
        self.limits.array = self.limits.array.max(head.len() + rest.len());
        self.out.extend_from_slice(format!("*{}\r\n", head.len() + rest.len()).as_bytes());
        for a in head.iter().chain(rest) {
            self.out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.queued += 1;
    }

    /// Sends what was queued and reads one reply for each command, all within `timeout`
    /// (the set-up's replies are checked and not returned).
    pub fn run(&mut self) -> io::Result<Vec<Reply>> {
        self.io.get_mut().deadline = Instant::now() + self.timeout;
        self.sent = false;
        let out = std::mem::take(&mut self.out);
        let n = std::mem::take(&mut self.queued);
        self.last_names = std::mem::take(&mut self.names);
        let w = match &mut self.io.get_mut().stream {
            Stream::Tcp(s) => s.write_all(&out),
            Stream::Unix(s) => s.write_all(&out),
        };
        w.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => io::Error::new(io::ErrorKind::TimedOut, "the server took nothing in time"),
            // Not BrokenPipe: that kind means "the reader of our output went away" to main.rs,
            // which then ends quietly with status 0; a server gone is an error.
            io::ErrorKind::BrokenPipe => {
                io::Error::new(io::ErrorKind::ConnectionAborted, "the server closed the connection (broken pipe)")
            }
            _ => e,
        })?;
        self.sent = true;
        while self.setup > 0 {
            let r = self.read_reply(0)?;
            self.setup -= 1;
            if let Reply::Error(e) = r {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("connection set-up refused: {e}")));
            }
        }
        let r = (0..n).map(|_| self.read_reply(0)).collect();
        self.limits = Limits::default();
        r
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let buf = self.io.fill_buf()?;
            match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    line.extend_from_slice(&buf[..=i]);
                    self.io.consume(i + 1);
                    break;
                }
                None => {
                    let n = buf.len();
                    line.extend_from_slice(buf);
                    self.io.consume(n);
                }
            }
            if line.len() > MAX_LINE {
                return Err(garbage("a reply line is too long"));
            }
        }
        if line.len() < 3 || line[line.len() - 2] != b'\r' {
            return Err(garbage("a reply line does not end in CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_reply(&mut self, depth: usize) -> io::Result<Reply> {
        if depth > 8 {
            return Err(garbage("replies nested too deep"));
        }
        let line = self.read_line()?;
        // A status or error line goes into messages on a terminal, in lint's and cron's output:
        // its control characters (a hostile or tampered server's terminal escapes) are shown
        // escaped, as `commands::Shown` shows names from mail.
        let text = || {
            String::from_utf8_lossy(&line[1..])
                .chars()
                .map(|c| match c {
                    '\\' => "\\\\".to_string(),
                    c if c.is_control() && (c as u32) < 0x80 => format!("\\x{:02x}", c as u32),
                    c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
                    c => c.to_string(),
                })
                .collect::<String>()
        };
        let number = || -> io::Result<i64> {
            std::str::from_utf8(&line[1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| garbage(format!("not a number: {:?}", String::from_utf8_lossy(&line[1..]))))
        };
        match line[0] {
            b'+' => Ok(Reply::Status(text())),
            b'-' => Ok(Reply::Error(text())),
            b':' => Ok(Reply::Int(number()?)),
            b'$' => {
                let n = number()?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let n = n as usize;
                if n > self.limits.bulk {
                    return Err(garbage(format!(
                        "a string reply is too long ({n} bytes, at most {})",
                        self.limits.bulk
                    )));
                }
                if n > self.limits.total {
                    return Err(garbage(format!(
                        "the replies are too long (a string of {n} bytes with at most {} left of the round trip's \
                         bound)",
                        self.limits.total
                    )));
                }
                self.limits.total -= n;
                // Grown as the bytes arrive, a chunk at a time.
                let mut b = Vec::new();
                while b.len() < n + 2 {
                    let chunk = (n + 2 - b.len()).min(GROW);
                    let at = b.len();
                    b.try_reserve_exact(chunk).map_err(|_| garbage("no memory for a string reply"))?;
                    b.resize(at + chunk, 0);
                    self.io.read_exact(&mut b[at..])?;
                }
                if &b[n..] != b"\r\n" {
                    return Err(garbage("a string reply does not end in CRLF"));
                }
                b.truncate(n);
                Ok(Reply::Bulk(Some(b)))
            }
            b'*' => {
                let n = number()?;
                if n < 0 {
                    return Ok(Reply::Array(None));
                }
                if n as usize > self.limits.array {
                    return Err(garbage(format!(
                        "an array reply is too long ({n} elements, at most {})",
                        self.limits.array
                    )));
                }
                // Each element is at least 3 bytes on the wire: the vector grows with them.
                let mut v = Vec::with_capacity((n as usize).min(1 << 10));
                for _ in 0..n {
                    v.push(self.read_reply(depth + 1)?);
                }
                Ok(Reply::Array(Some(v)))
            }
            other => Err(garbage(format!("not a RESP reply (starts with byte {other:#04x})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A fake server that answers `answer` to whatever it gets, after `delay`.
    fn fake(answer: &'static [u8], delay: Duration) -> Target {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                std::thread::sleep(delay);
                let _ = s.write_all(answer);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Target::Tcp { host: "127.0.0.1".into(), port }
    }

    fn ask(t: &Target, n: usize) -> io::Result<Vec<Reply>> {
        let mut c = Conn::connect(t, None, None, 0, Duration::from_millis(200))?;
        for _ in 0..n {
            c.cmd(&[b"PING"]);
        }
        c.run()
    }

    #[test]
    fn parses_every_kind_of_reply() {
        let t = fake(b"+OK\r\n-ERR no\r\n:42\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n$1\r\nx\r\n*-1\r\n", Duration::ZERO);
        let r = ask(&t, 6).unwrap();
        assert_eq!(
            r,
            vec![
                Reply::Status("OK".into()),
                Reply::Error("ERR no".into()),
                Reply::Int(42),
                Reply::Bulk(Some(b"a\r\n".to_vec())),
                Reply::Bulk(None),
                Reply::Array(Some(vec![Reply::Bulk(Some(b"x".to_vec())), Reply::Array(None)])),
            ]
        );
    }

    #[test]
    fn control_characters_of_an_error_line_are_shown_escaped() {
        let t = fake(b"-ERR \x1b[31mred\x07\xc2\x9b \\ done\r\n", Duration::ZERO);
        let e = ask(&t, 1).unwrap().pop().unwrap().ok().unwrap_err().to_string();
        assert_eq!(e, "the server answered an error: ERR \\x1b[31mred\\x07\\u{9b} \\\\ done");
        assert!(!e.chars().any(char::is_control), "{e:?}");
    }

    #[test]
    fn garbage_and_silence_are_errors_in_bounded_time() {
        for answer in [&b"HTTP/1.1 400 Bad Request\r\n"[..], b"$99999999999\r\n", b"*5\r\n:1\r\n", b":12x\r\n"] {
            assert!(ask(&fake(answer, Duration::ZERO), 1).is_err(), "{answer:?}");
        }
        // The server answers after 3 s; the client gave up at its 200 ms deadline.
        let e = ask(&fake(b"+PONG\r\n", Duration::from_secs(3)), 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
