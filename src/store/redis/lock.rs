//! The user's trainer lock in Redis (one training run at a time across every host).

use super::*;

/// The user's trainer lock: `HOST PID RANDOM` set with NX and a time to live, renewed by a thread
/// while held, removed (if still ours) when dropped. A trainer that dies leaves it for at most
/// `LOCK_TTL_MS`, or less: a trainer on the same host that finds it held by a process that no
/// longer runs there takes it over at once.
pub struct Lock {
    store: Arc<Redis>,
    value: Vec<u8>,
    stop: Arc<AtomicBool>,
    renew: Option<std::thread::JoinHandle<()>>,
}

const RENEW: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

impl Lock {
    /// The lock, whether another trainer held it first, and the holder it took over from (a
    /// process of this host that is gone).
    pub(super) fn take(store: &Arc<Redis>) -> io::Result<(Lock, bool, Option<String>)> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| io::Error::other(e.to_string()))?;
        let here = host_id();
        let host = here.clone().unwrap_or_else(|| format!("{}/?", hostname()));
        let random: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let value = format!("{host} {} {random}", std::process::id()).into_bytes();
        let key = store.key("lock");
        let ttl = LOCK_TTL_MS.to_string();
        let mut conn = store.connect(TRAIN_TIMEOUT)?;
        let (mut said, mut took_over) = (false, None);
        // A foreign holder (see below) and since when it has held the lock.
        let mut stuck: Option<(Vec<u8>, Instant)> = None;
        loop {
            conn.cmd(&[b"SET", &key, &value, b"NX", b"PX", ttl.as_bytes()]);
            match conn.run()?.pop().map(Reply::ok).transpose()? {
                Some(Reply::Status(_)) => break,
                Some(Reply::Bulk(None)) => {
                    conn.cmd(&[b"GET", &key]);
                    conn.cmd(&[b"PTTL", &key]);
                    let mut r = conn.run()?;
                    let pttl = r.pop().ok_or_else(|| resp::garbage("no reply to PTTL"))?.int()?;
                    let holder = r.pop().map(Reply::bulk).transpose()?.flatten();
                    if let Some(h) = holder.as_deref().filter(|h| here.as_deref().is_some_and(|id| dead_here(h, id))) {
                        // Removed only if it is still that value; then SET NX again at once.
                        conn.cmd(&[b"EVAL", RELEASE.as_bytes(), b"1", &key, h]);
                        conn.run()?;
                        let h = String::from_utf8_lossy(h);
                        let mut w = h.split(' ');
                        took_over = Some(format!("process {} on this host", w.nth(1).unwrap_or("?")));
                        continue;
                    }
                    let Some(holder) = holder else { continue };
                    let shown: String = String::from_utf8_lossy(&holder).chars().take(100).collect();
                    let key_shown = String::from_utf8_lossy(&key);
                    // A lock of this version always expires within LOCK_TTL_MS (its holder
                    // renews it): one with no expiry or a longer one was set by hand or by an
                    // older version, and nothing will remove it.
                    let foreign = pttl == -1 || pttl > LOCK_TTL_MS as i64;
                    if !said {
                        let until = if foreign {
                            format!("it has no expiry: giving up after {} s", 2 * LOCK_TTL_MS / 1000)
                        } else {
                            format!(
                                "its lease ends in {:.1} s unless its trainer renews it",
                                pttl.max(0) as f64 / 1000.0
                            )
                        };
                        // At once, not with the notes at the end: the run may wait a while.
                        if let Some(say) = crate::store::WAITING.get() {
                            say(&format!(
                                "waiting for the trainer lock {key_shown} of {}, held by {shown:?} ({until})",
                                store.what()
                            ));
                        }
                        said = true;
                    }
                    match &stuck {
                        _ if !foreign => stuck = None,
                        Some((h, _)) if *h == holder => {}
                        _ => stuck = Some((holder.clone(), Instant::now())),
                    }
                    if stuck.as_ref().is_some_and(|(_, t)| t.elapsed() >= Duration::from_millis(2 * LOCK_TTL_MS)) {
                        return Err(io::Error::other(format!(
                            "the trainer lock {key_shown} is held by {shown:?} with no expiry (set by hand or by an \
                             older spamfilt; a running trainer of this version renews a {} s lease); if no trainer \
                             is running, remove it: redis-cli DEL '{key_shown}' (with the URL's host, port, -n DB \
                             and password)",
                            LOCK_TTL_MS / 1000
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => return Err(resp::garbage("an unexpected answer to SET NX")),
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let renew = {
            let (store, value, stop, key) = (store.clone(), value.clone(), stop.clone(), key.clone());
            std::thread::spawn(move || {
                let mut waited = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    waited += 50;
                    if waited >= LOCK_TTL_MS / 3 {
                        waited = 0;
                        conn.cmd(&[b"EVAL", RENEW.as_bytes(), b"1", &key, &value, ttl.as_bytes()]);
                        if conn.run().is_err() {
                            // The commit's WATCH notices if the lock is lost meanwhile.
                            if let Ok(c) = store.connect(TRAIN_TIMEOUT) {
                                conn = c;
                            }
                        }
                    }
                }
            })
        };
        Ok((Lock { store: store.clone(), value, stop, renew: Some(renew) }, said, took_over))
    }
}

/// This host's name (what the lock's value starts with).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    #[allow(unsafe_code)]
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(h) if r == 0 && !h.is_empty() && !h.contains(' ') => h.to_string(),
        _ => "unknown-host".to_string(),
    }
}

/// This host as a lock value names it, `NAME/BOOT/PIDNS`: its name, the kernel's boot id and
/// the process's PID namespace, within which alone a process id means something. The name alone
/// was taken for it: a cloned VM or container of the same name (its nightly `purge` at the same
/// minute), or a trainer in another PID namespace of this machine (`unshare --pid`, a container
/// sharing the host's name) found the lock's process id not running where it looked and took a
/// live trainer's lock over; one of the two runs then failed, told its lock had expired. `None`
/// when the boot id or the namespace cannot be read: then no lock is taken over.
fn host_id() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let boot = boot.trim();
    // A link to `pid:[4026531836]`: its number.
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let ns: String = ns.to_str()?.chars().filter(char::is_ascii_digit).collect();
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (plain(boot) && plain(&ns)).then(|| format!("{}/{boot}/{ns}", hostname()))
}

/// Whether a lock value (`HOST PID RANDOM`) names a process of this host (`host`, see
/// `host_id`) that no longer runs. A value of an older version (no host, or the host's name
/// alone) or of another host: no.
fn dead_here(value: &[u8], host: &str) -> bool {
    let v = String::from_utf8_lossy(value);
    let mut w = v.split(' ');
    let (Some(h), Some(pid), Some(_)) = (w.next(), w.next().and_then(|p| p.parse::<i32>().ok()), w.next()) else {
        return false;
    };
    if h != host || pid <= 0 || pid as u32 == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    #[allow(unsafe_code)]
    let r = unsafe { libc::kill(pid, 0) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.renew.take() {
            let _ = t.join();
        }
        let key = self.store.key("lock");
        let _ = self.store.round_trip(|c| c.cmd(&[b"EVAL", RELEASE.as_bytes(), b"1", &key, &self.value]));
    }
}
