//! A broken config key, a bad list line or a damaged database must not switch filtering off:
//! the filter scores with what still works and says so in the message (`SPAMFILT_DEGRADED` in
//! X-Spam-Status, an `X-Spam-Degraded` field naming the cause) and on stderr; `lint` reports
//! each problem as FILE:LINE and exits 1; training keeps refusing; `db salvage` rebuilds a
//! damaged database from what is intact. All through the real binary.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    c.env_remove("SPAMFILT_DB").env_remove("SPAMFILT_CONFIG").env("HOME", home);
    c
}

/// Runs spamfilt with `--db DIR --config DIR/config.toml` and `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    common::run_with_stdin(
        bin(dir).arg("--db").arg(dir.join("db")).arg("--config").arg(dir.join("config.toml")).args(args),
        stdin,
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SPAMMY: &str = "From: promo@deals.example\nTo: jan@klant.be\nSubject: WIN CASH NOW\n\
    Message-ID: <x1@deals.example>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n\
    Click here to claim your lottery winner prize, viagra casino cheap pills, unsubscribe.\n";

/// The value of our X-Spam-Status and X-Spam-Degraded fields (unfolded), if present.
fn field(out: &[u8], name: &str) -> Option<String> {
    let s = text(out);
    let head = s.split("\n\n").next().unwrap_or("").replace("\n\t", " ").replace("\n ", " ");
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
}

fn setup(n: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("config.toml"), "").unwrap();
    if n > 0 {
        let (ham, spam) = (tmp.path().join("ham"), tmp.path().join("spam"));
        fs::create_dir_all(&ham).unwrap();
        fs::create_dir_all(&spam).unwrap();
        for i in 0..n {
            fs::write(
                ham.join(format!("{i}")),
                format!("From: collega{i}@klant.be\nSubject: planning {i}\nMessage-ID: <h{i}@k>\n\nvergadering offerte dinsdag verslag {i}\n"),
            )
            .unwrap();
            fs::write(
                spam.join(format!("{i}")),
                format!("From: promo{i}@deals.example\nSubject: winner {i}\nMessage-ID: <s{i}@d>\n\nlottery casino cheap pills {i}\n"),
            )
            .unwrap();
        }
        let o = run(tmp.path(), &["train", "--ham", ham.to_str().unwrap(), "--spam", spam.to_str().unwrap()], b"");
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    tmp
}

fn assert_degraded(o: &Output, cause: &str) {
    assert_eq!(o.status.code(), Some(0));
    let status = field(&o.stdout, "X-Spam-Status").unwrap_or_else(|| panic!("not scored:\n{}", text(&o.stdout)));
    assert!(status.contains("SPAMFILT_DEGRADED"), "{status}");
    let why = field(&o.stdout, "X-Spam-Degraded").expect("X-Spam-Degraded");
    assert!(why.contains(cause), "{why}");
    assert!(text(&o.stderr).contains("degraded"), "{}", text(&o.stderr));
    // The body is untouched.
    assert!(text(&o.stdout).ends_with(SPAMMY.split("\n\n").nth(1).unwrap()));
}

#[test]
fn a_broken_config_key_scores_with_its_default_and_says_so() {
    let tmp = setup(0);
    let cfg = tmp.path().join("config.toml");
    fs::write(&cfg, "required_score = 6.5\nrequred_score = 4\n[scores]\nNO_SUCH_RULE = 2\n").unwrap();
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert_degraded(&o, "config.toml line 2: requred_score");
    let status = field(&o.stdout, "X-Spam-Status").unwrap();
    // The good key still counts; the rules ran.
    assert!(status.contains("required=6.5") && status.contains("BODY_"), "{status}");
    assert!(field(&o.stdout, "X-Spam-Degraded").unwrap().contains("config.toml line 4: scores.NO_SUCH_RULE"));
    // Training refuses, naming the file, the line and the column of both problems, as lint does.
    let o = run(tmp.path(), &["train", "--spam", "-"], SPAMMY.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{}:2:1: requred_score", cfg.display())), "{err}");
    assert!(err.contains(&format!("{}:4:16: scores.NO_SUCH_RULE: there is no rule", cfg.display())), "{err}");
    // lint lists both problems as FILE:LINE:COLUMN and fails.
    let o = run(tmp.path(), &["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains(&format!("{}:2:1: requred_score", cfg.display())), "{out}");
    assert!(out.contains(&format!("{}:4:16: scores.NO_SUCH_RULE", cfg.display())), "{out}");
    // A file that is not TOML at all: every default, still scored.
    fs::write(&cfg, "required_score = [\n").unwrap();
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert_degraded(&o, "config.toml line 1");
    assert!(field(&o.stdout, "X-Spam-Status").unwrap().contains("required=5.0"));
    assert_eq!(run(tmp.path(), &["lint"], b"").status.code(), Some(1));
    // Fixed: no marker; lint names only the database nothing was trained into yet (the filter
    // scores a fresh install with the starter table, unmarked), and passes once it is trained.
    fs::write(&cfg, "required_score = 6.5\n").unwrap();
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert!(field(&o.stdout, "X-Spam-Degraded").is_none() && !text(&o.stdout).contains("SPAMFILT_DEGRADED"));
    let o = run(tmp.path(), &["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    let db = tmp.path().join("db");
    assert_eq!(
        text(&o.stdout).lines().collect::<Vec<_>>(),
        [format!("{}: no database here: the directory does not exist, so nothing learned is used (the starter table and the rules score alone); create it by training (spamfilt train --ham ~/Maildir/.Sent ~/Maildir/cur --spam ~/Maildir/.Junk), or point --db or SPAMFILT_DB (for a delivery: its HOME) at the database you trained", db.display())]
    );
    run(tmp.path(), &["train", "--spam", "-"], SPAMMY.as_bytes());
    assert_eq!(run(tmp.path(), &["lint"], b"").status.code(), Some(0));
}

#[test]
fn a_bad_list_line_leaves_the_other_entries_working() {
    let tmp = setup(0);
    let allow = tmp.path().join("allow.txt");
    fs::write(&allow, "jan@elders.be\nnot an entry\n@deals.example\n").unwrap();
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert_degraded(&o, "allow.txt line 2");
    // The entry after the bad line still decides.
    assert!(field(&o.stdout, "X-Spam-Status").unwrap().contains("ALLOWLIST"));
    let o = run(tmp.path(), &["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).starts_with(&format!("{}:2: ", allow.display())), "{}", text(&o.stdout));
    // `list` refuses to edit a file it cannot read whole, but shows it (the bad line named).
    let o = run(tmp.path(), &["list", "allow", "add", "a@b.be"], b"");
    assert_eq!(o.status.code(), Some(2));
    let o = run(tmp.path(), &["list", "allow", "show"], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "jan@elders.be\n@deals.example\n");
    assert!(text(&o.stderr).contains(&format!("spamfilt: warning: {}:2: `not an entry`", allow.display())));
    // The other list can be edited; training still refuses.
    assert_eq!(run(tmp.path(), &["list", "block", "add", "a@b.be"], b"").status.code(), Some(0));
    assert_eq!(run(tmp.path(), &["train", "--spam", "-"], SPAMMY.as_bytes()).status.code(), Some(2));
}

/// The command an error sends you to runs with a warning naming the problem: `rules` (a bad
/// `[scores]` entry's error says "see spamfilt rules"). The database commands still refuse (a
/// bad `[store]` would make them show another store).
#[test]
fn inspection_commands_run_with_a_warning_when_the_config_is_bad() {
    let tmp = setup(0);
    let cfg = tmp.path().join("config.toml");
    fs::write(&cfg, "[scores]\nHTML_SCRIPT = 1.5\nBAYES_99 = 2\n").unwrap();
    let o = run(tmp.path(), &["check", "-"], SPAMMY.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("see `spamfilt rules`"), "{}", text(&o.stderr));
    let o = run(tmp.path(), &["rules"], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let warning =
        format!("spamfilt: warning: {}:3:12: scores.BAYES_99: there is no rule called BAYES_99", cfg.display());
    assert!(text(&o.stderr).contains(&warning), "{}", text(&o.stderr));
    // The good entry counts.
    assert!(
        text(&o.stdout).lines().any(|l| l.starts_with("HTML_SCRIPT ") && l.contains(" 1.5 ")),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(run(tmp.path(), &["db", "stats"], b"").status.code(), Some(2));
}

fn flip(path: &Path, at: usize, bytes: &[u8]) {
    let mut b = fs::read(path).unwrap();
    b[at..at + bytes.len()].copy_from_slice(bytes);
    fs::write(path, b).unwrap();
}

#[test]
fn a_damaged_database_header_scores_without_it_and_salvage_rebuilds_it() {
    let tmp = setup(12);
    let db: PathBuf = tmp.path().join("db").join("tokens.db");
    let stats_before = text(&run(tmp.path(), &["db", "stats"], b"").stdout);
    // 80 bytes of garbage over the header.
    let garbage: Vec<u8> = (0..80u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    flip(&db, 0, &garbage);
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert_degraded(&o, "tokens.db");
    // The rules still ran.
    assert!(field(&o.stdout, "X-Spam-Status").unwrap().contains("BODY_"), "{}", text(&o.stdout));
    let o = run(tmp.path(), &["train", "--spam", "-"], SPAMMY.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("db salvage"), "{}", text(&o.stderr));
    let o = run(tmp.path(), &["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).starts_with(&format!("{}: ", db.display())), "{}", text(&o.stdout));
    let o = run(tmp.path(), &["db", "salvage"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("dropped 0 records and 0 ledger entries") && out.contains("counted from the ledger"), "{out}");
    // Everything is back: the same counts, a clean lint, no marker.
    let stats_after = text(&run(tmp.path(), &["db", "stats"], b"").stdout);
    let lines = |s: &str| {
        s.lines().filter(|l| l.starts_with("messages") || l.starts_with("tokens")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(lines(&stats_after), lines(&stats_before));
    assert_eq!(run(tmp.path(), &["lint"], b"").status.code(), Some(0));
    assert!(field(&run(tmp.path(), &[], SPAMMY.as_bytes()).stdout, "X-Spam-Degraded").is_none());
    assert!(fs::read_dir(tmp.path().join("db")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("tokens.db.corrupt-")));
}

#[test]
fn a_flipped_record_the_filter_reads_is_noticed_and_salvage_drops_it() {
    let tmp = setup(12);
    let db = tmp.path().join("db").join("tokens.db");
    let original = fs::read(&db).unwrap();
    let records = u64::from_le_bytes(original[32..40].try_into().unwrap()) as usize;
    // One spam message the database knows: flip the spam count of each record in turn until
    // one the message reads is damaged (the filter reads only its own tokens' records).
    let msg = fs::read(tmp.path().join("spam").join("3")).unwrap();
    let mut found = None;
    for i in 0..records {
        fs::write(&db, &original).unwrap();
        flip(&db, 80 + 20 * i + 8, &[0xff, 0xff, 0xff, 0x7f]);
        let o = run(tmp.path(), &[], &msg);
        if field(&o.stdout, "X-Spam-Degraded").is_some() {
            assert_degraded_msg(&o);
            found = Some(i);
            break;
        }
        assert!(field(&o.stdout, "X-Spam-Status").is_some());
    }
    assert!(found.is_some(), "no flipped record was noticed in {records}");
    let o = run(tmp.path(), &["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("checksum mismatch"), "{}", text(&o.stdout));
    let o = run(tmp.path(), &["db", "salvage"], b"");
    assert!(text(&o.stdout).contains("dropped 1 records and 0 ledger entries"), "{}", text(&o.stdout));
    assert_eq!(run(tmp.path(), &["lint"], b"").status.code(), Some(0));
    let o = run(tmp.path(), &["db", "salvage"], b"");
    assert!(text(&o.stdout).contains("intact, nothing to salvage"));
}

fn assert_degraded_msg(o: &Output) {
    assert_eq!(o.status.code(), Some(0));
    assert!(field(&o.stdout, "X-Spam-Status").unwrap().contains("SPAMFILT_DEGRADED"));
    assert!(field(&o.stdout, "X-Spam-Degraded").unwrap().contains("tokens.db: token record"));
}

#[test]
fn an_unreadable_database_path_still_scores() {
    let tmp = setup(0);
    // A file where the database directory should be.
    fs::write(tmp.path().join("db"), b"x").unwrap();
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert_degraded(&o, "tokens.db");
}

#[test]
fn forged_degraded_fields_are_removed() {
    let tmp = setup(0);
    let forged = format!("X-Spam-Degraded: nothing works\n{SPAMMY}");
    let o = run(tmp.path(), &[], forged.as_bytes());
    assert!(!text(&o.stdout).contains("nothing works"));
    assert!(field(&o.stdout, "X-Spam-Degraded").is_none());
}

/// `list add` and `remove` write: with the config file unreadable, the list it names would be
/// replaced by the default one beside it, so they refuse as `train` does; `show` still shows
/// (with the warning).
#[test]
fn list_edits_refuse_a_bad_config_file() {
    let tmp = setup(0);
    let cfg = tmp.path().join("config.toml");
    fs::create_dir(tmp.path().join("lists")).unwrap();
    let named = tmp.path().join("lists/allow.txt");
    fs::write(&named, "jan@elders.be\n").unwrap();
    fs::write(&cfg, "allow_list = \"lists/allow.txt\"\n[bayes\nmin_dev = 0.2\n").unwrap();
    for action in ["add", "remove"] {
        let o = run(tmp.path(), &["list", "allow", action, "boss@example.com"], b"");
        assert_eq!(o.status.code(), Some(2), "{action}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("unclosed table"), "{}", text(&o.stderr));
        assert!(!tmp.path().join("allow.txt").exists());
        assert_eq!(fs::read_to_string(&named).unwrap(), "jan@elders.be\n");
    }
    let o = run(tmp.path(), &["list", "allow", "show"], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("spamfilt: warning: "), "{}", text(&o.stderr));
    // Fixed, the edit goes to the list the config names.
    fs::write(&cfg, "allow_list = \"lists/allow.txt\"\n").unwrap();
    assert_eq!(run(tmp.path(), &["list", "allow", "add", "boss@example.com"], b"").status.code(), Some(0));
    assert_eq!(fs::read_to_string(&named).unwrap(), "jan@elders.be\nboss@example.com\n");
}

/// X-Spam-Degraded is plain ASCII (RFC 5322) and names files by their name, also where the
/// cause's own text names a path. On fbb856a an lr.weights that was a directory gave
/// `lr.weights: refusing to use the LR weight file /tmp/.../db/lr.weights: ...`, a key with an
/// accent was written as it was, and a long cause ended in `…` (U+2026).
#[test]
fn the_degraded_field_is_ascii_without_paths() {
    let tmp = setup(12);
    let db = tmp.path().join("db");
    fs::remove_file(db.join("lr.weights")).unwrap();
    fs::create_dir(db.join("lr.weights")).unwrap();
    fs::write(tmp.path().join("config.toml"), format!("required_scor\u{e9} = 5\n# {}\n", "x".repeat(10))).unwrap();
    let o = run(tmp.path(), &[], SPAMMY.as_bytes());
    assert!(o.status.success());
    let head = text(&o.stdout).split("\n\n").next().unwrap().to_string();
    assert!(head.is_ascii(), "{head}");
    let degraded = field(&o.stdout, "X-Spam-Degraded").unwrap();
    let dir = db.display().to_string();
    assert!(!degraded.contains(&dir) && !degraded.contains(tmp.path().to_str().unwrap()), "{degraded}");
    assert!(
        degraded.contains("lr.weights: refusing to use the LR weight file lr.weights: it is not a regular file"),
        "{degraded}"
    );
    assert!(degraded.contains("config.toml line 1: required_scor?"), "{degraded}");
    // The full path stays on standard error.
    assert!(text(&o.stderr).contains(&format!("{dir}/lr.weights")), "{}", text(&o.stderr));
}
