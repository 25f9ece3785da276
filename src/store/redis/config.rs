//! Where the store is and whose keys: the `[store]` settings, the URL parsed, the key prefix checked, the
//! password masked in every message built from the URL.

use super::*;

/// Where the store is and whose keys are used.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    pub target: Target,
    pub db: u32,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The hash tag every key of this user starts with: `{prefix}:`.
    pub prefix: String,
    /// Connect and round-trip bound for deliveries.
    pub timeout: Duration,
}

impl RedisConfig {
    /// Parses `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` or `unix:///PATH[?db=N]`.
    pub fn parse(url: &str, prefix: &str) -> std::result::Result<RedisConfig, String> {
        // Every message below names the URL without its password (they end up in the
        // X-Spam-Degraded field of every delivered message, on stderr and in lint's output).
        let url_in = url;
        let url = &mask_url(url_in);
        let mut cfg = RedisConfig {
            target: Target::Unix(Default::default()),
            db: 0,
            user: None,
            password: None,
            prefix: prefix.to_string(),
            timeout: Duration::from_millis(200),
        };
        if let Some(rest) = url_in.strip_prefix("unix://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !path.starts_with('/') {
                return Err(format!("{url}: a unix socket needs an absolute path (unix:///run/redis/redis.sock)"));
            }
            for kv in query.split('&').filter(|s| !s.is_empty()) {
                match kv.split_once('=') {
                    Some(("db", n)) => cfg.db = n.parse().map_err(|_| format!("{url}: db={n} is not a number"))?,
                    Some(("password", p)) => cfg.password = Some(percent_decode(p)?),
                    _ => return Err(format!("{url}: unknown parameter {kv:?} (db=N or password=P)")),
                }
            }
            cfg.target = Target::Unix(path.into());
            return Ok(cfg);
        }
        let Some(rest) = url_in.strip_prefix("redis://") else {
            return Err(format!("{url:?} is not a redis:// or unix:// URL"));
        };
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        if let Some(a) = auth {
            let (u, p) = a.split_once(':').unwrap_or(("", a));
            if !u.is_empty() {
                cfg.user = Some(percent_decode(u)?);
            }
            cfg.password = Some(percent_decode(p)?);
        }
        let (hostport, db) = rest.split_once('/').unwrap_or((rest, ""));
        if !db.is_empty() {
            cfg.db = db.parse().map_err(|_| format!("{url}: the database number {db:?} is not a number"))?;
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, p) = h.split_once(']').ok_or_else(|| format!("{url}: unclosed [ in the host"))?;
            (h, p.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("{url}: the port {p:?} is not a number"))?,
            None => 6379,
        };
        cfg.target = Target::Tcp { host: host.to_string(), port };
        Ok(cfg)
    }

    /// The URL without its password, for messages.
    pub fn shown(&self) -> String {
        let auth = match (&self.user, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (None, Some(_)) => ":***@".to_string(),
            _ => String::new(),
        };
        match &self.target {
            Target::Tcp { host, port } if host.contains(':') => format!("redis://{auth}[{host}]:{port}/{}", self.db),
            Target::Tcp { host, port } => format!("redis://{auth}{host}:{port}/{}", self.db),
            Target::Unix(p) => format!("unix://{}?db={}", p.display(), self.db),
        }
    }
}

/// Checks a key prefix (the config's `prefix`, `db migrate --prefix`): it is the hash tag
/// `{PREFIX}`, so it must be a non-empty name without braces, white space or control
/// characters.
pub fn check_prefix(prefix: &str) -> std::result::Result<(), String> {
    if prefix.is_empty() || prefix.chars().any(|c| c == '{' || c == '}' || c.is_whitespace() || c.is_control()) {
        return Err(format!("{prefix:?} must be a non-empty name without braces or white space"));
    }
    Ok(())
}

/// `url` for messages: the password of `[USER]:PASSWORD@` (everything before the `@` when
/// there is no `:`) and of a `password=` parameter replaced with `***`. Whatever the URL's
/// shape, even one that does not parse.
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(at) = out.rfind('@') {
        let start = out.find("://").map(|i| i + 3).filter(|&i| i <= at).unwrap_or(0);
        let auth = &out[start..at];
        let masked = match auth.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => "***".to_string(),
        };
        out.replace_range(start..at, &masked);
    }
    let mut from = 0;
    while let Some(i) = out[from..].find("password=").map(|i| from + i + "password=".len()) {
        let end = out[i..].find(['&', '#']).map_or(out.len(), |e| i + e);
        out.replace_range(i..end, "***");
        from = i + 3;
    }
    out
}

fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| "a bad %-escape in the URL".to_string())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's password is not UTF-8".to_string())
}
