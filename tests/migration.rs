//! Coming from SpamAssassin or bogofilter (issue 16, item 6): SpamAssassin's list forms, the
//! Subject tag, a site-wide config under the user's, and `import-sa`. Through the real binary.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// spamfilt with its config in `dir/cfg/config.toml` and its database in `dir/db`; the
/// site-wide config is `dir/site/config.toml` (none unless a test writes it: a variable that
/// names a missing file is an error).
fn spamfilt(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    let site = dir.join("site/config.toml");
    c.env_remove("SPAMFILT_CONFIG")
        .env("HOME", "/nonexistent-home")
        .env("SPAMFILT_SITE_CONFIG", if site.exists() { site.into_os_string() } else { Default::default() })
        .arg("--db")
        .arg(dir.join("db"))
        .arg("--config")
        .arg(dir.join("cfg/config.toml"));
    c
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("cfg")).unwrap();
    fs::write(dir.path().join("cfg/config.toml"), "").unwrap();
    dir
}

fn filter(dir: &Path, msg: &str) -> String {
    let out: Output = common::run_with_stdin(spamfilt(dir).arg("filter"), msg.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn message(from: &str, subject: &str) -> String {
    format!("From: {from}\nTo: jan@mijn.be\nSubject: {subject}\nMessage-ID: <1@x.example>\n\nHallo, tot morgen.\n")
}

fn status(out: &str) -> &str {
    out.lines().find(|l| l.starts_with("X-Spam-Status:")).unwrap_or("")
}

/// `*@klant.be` (SpamAssassin's whitelist_from form) was accepted and matched nothing.
#[test]
fn spamassassin_list_forms_match() {
    let dir = setup();
    fs::write(dir.path().join("cfg/allow.txt"), "*@klant.be\n").unwrap();
    fs::write(dir.path().join("cfg/block.txt"), "*@*.spam.example\n").unwrap();
    assert!(status(&filter(dir.path(), &message("Piet <piet@klant.be>", "offerte"))).contains("ALLOWLIST"));
    assert!(status(&filter(dir.path(), &message("x@mail.spam.example", "hi"))).contains("BLOCKLIST"));
    // A glob that cannot be read that way is a problem naming its line, not a silent no-match
    // (`list show` warns and shows the other entries; editing the file refuses).
    fs::write(dir.path().join("cfg/allow.txt"), "*@klant.be\njan*@klant.be\n").unwrap();
    let out = spamfilt(dir.path()).args(["list", "allow", "show"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow.txt:2: ") && err.contains("jan*@klant.be"), "{err}");
    let out = spamfilt(dir.path()).args(["list", "allow", "add", "a@b.be"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    fs::write(dir.path().join("cfg/allow.txt"), "*@klant.be\n").unwrap();
    let out = spamfilt(dir.path()).args(["list", "block", "add", "*@deals.example"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(fs::read_to_string(dir.path().join("cfg/block.txt")).unwrap(), "*@*.spam.example\n@deals.example\n");
}

/// `subject_tag`: spam gets the tag before its Subject (once), ham nothing; off by default.
#[test]
fn subject_tag_marks_spam_only() {
    let dir = setup();
    fs::write(dir.path().join("cfg/block.txt"), "@deals.example\n").unwrap();
    let spam = message("promo@deals.example", "Cheap pills");
    let out = filter(dir.path(), &spam);
    assert!(out.contains("\nSubject: Cheap pills\n"), "off by default: {out}");
    fs::write(dir.path().join("cfg/config.toml"), "subject_tag = \"[SPAM]\"\n").unwrap();
    let out = filter(dir.path(), &spam);
    assert!(out.contains("\nSubject: [SPAM] Cheap pills\n") && out.contains("X-Spam-Flag: YES"), "{out}");
    // Filtered a second time (a forward, a re-delivery): tagged once.
    let again = filter(dir.path(), &out);
    assert_eq!(again.matches("[SPAM]").count(), 1, "{again}");
    // The body and every other byte stay as they were.
    assert_eq!(common::strip_spam_fields(out.replace("[SPAM] ", "").as_bytes()), spam.as_bytes());
    let ham = message("piet@klant.be", "Offerte");
    assert!(filter(dir.path(), &ham).contains("\nSubject: Offerte\n"));
}

/// A site-wide config (here through SPAMFILT_SITE_CONFIG instead of /etc/spamfilt/config.toml)
/// with its lists beside it, under the user's: the user's settings win.
#[test]
fn site_config_is_read_first_and_the_users_overrides_it() {
    let dir = setup();
    let site = dir.path().join("site");
    fs::create_dir_all(&site).unwrap();
    fs::write(
        site.join("config.toml"),
        "required_score = 20.0\nsubject_tag = \"[SITE]\"\n[scores]\nMISSING_DATE = 0.5\n",
    )
    .unwrap();
    fs::write(site.join("allow.txt"), "@klant.be\n").unwrap();
    fs::write(site.join("block.txt"), "@deals.example\n").unwrap();
    // The site's settings and lists count for a user with an empty config.
    let out = filter(dir.path(), &message("piet@klant.be", "offerte"));
    assert!(status(&out).contains("required=20.0") && status(&out).contains("ALLOWLIST"), "{out}");
    let out = filter(dir.path(), &message("promo@deals.example", "pills"));
    assert!(status(&out).contains("BLOCKLIST") && out.contains("Subject: [SITE] pills"), "{out}");
    // The user's file overrides a key; the user's block entry beats the site's allow entry.
    fs::write(dir.path().join("cfg/config.toml"), "subject_tag = \"[SPAM]\"\n").unwrap();
    fs::write(dir.path().join("cfg/block.txt"), "@klant.be\n").unwrap();
    let out = filter(dir.path(), &message("piet@klant.be", "offerte"));
    assert!(status(&out).contains("required=20.0") && status(&out).contains("BLOCKLIST"), "{out}");
    assert!(out.contains("Subject: [SPAM] offerte"), "{out}");
    fs::write(dir.path().join("cfg/config.toml"), "required_score = 6.0\n").unwrap();
    assert!(status(&filter(dir.path(), &message("x@y.example", "hi"))).contains("required=6.0"));
    // A mistake in the site file is named like one in the user's: by lint, in the message, and
    // by the commands that refuse to run.
    fs::write(site.join("config.toml"), "required_score = 20.0\nsubject_tagg = \"[SITE]\"\n").unwrap();
    let out = filter(dir.path(), &message("x@y.example", "hi"));
    assert!(out.contains("X-Spam-Degraded: config.toml line 2: subject_tagg"), "{out}");
    let lint = spamfilt(dir.path()).arg("lint").output().unwrap();
    assert_eq!(lint.status.code(), Some(1));
    let site_line = format!("{}:2:1: subject_tagg", site.join("config.toml").display());
    assert!(String::from_utf8_lossy(&lint.stdout).contains(&site_line), "{lint:?}");
    let out = spamfilt(dir.path()).args(["check", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("site/config.toml"), "{out:?}");
    // SPAMFILT_SITE_CONFIG naming a file that does not exist (on fbb856a silently ignored): the
    // filter delivers (exit 0), scored with the site's lists beside it and marked degraded,
    // naming the variable; a command refuses, naming the file (exit 2); lint names it (exit 1).
    fs::remove_file(site.join("config.toml")).unwrap();
    let missing = site.join("config.toml");
    let msg = message("promo@deals.example", "pills");
    let o = common::run_with_stdin(
        spamfilt(dir.path()).env("SPAMFILT_SITE_CONFIG", &missing).arg("filter"),
        msg.as_bytes(),
    );
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap().replace("\n\t", " ");
    assert!(status(&out).contains("BLOCKLIST") && status(&out).contains("SPAMFILT_DEGRADED"), "{out}");
    assert!(
        out.contains("X-Spam-Degraded: config.toml: SPAMFILT_SITE_CONFIG names this file, which does not exist"),
        "{out}"
    );
    let o = spamfilt(dir.path()).env("SPAMFILT_SITE_CONFIG", &missing).args(["check", "-"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}: SPAMFILT_SITE_CONFIG names this file, which does not exist", missing.display())),
        "{err}"
    );
    let o = spamfilt(dir.path()).env("SPAMFILT_SITE_CONFIG", &missing).arg("lint").output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("SPAMFILT_SITE_CONFIG names this file"), "{o:?}");
    // Named in --help.
    let help = spamfilt(dir.path()).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("/etc/spamfilt/config.toml"));
}

/// `import-sa`: a user_prefs into config.toml and the lists, what was not imported named by
/// FILE:LINE (exit status 1), the result read by the filter; a second run changes nothing.
#[test]
fn import_sa_maps_a_user_prefs_file() {
    let dir = setup();
    fs::write(dir.path().join("cfg/config.toml"), "# mine\n[scores]\nMISSING_DATE = 1.0\n").unwrap();
    let prefs = dir.path().join("user_prefs");
    fs::write(
        &prefs,
        "# SpamAssassin user preferences file\nrequired_score 6.5\nrewrite_header Subject [SPAM]\n\
         whitelist_from *@klant.be\nblacklist_from *@deals.example\nscore HTML_SCRIPT 2.5\n\
         score MISSING_DATE 3\nscore URIBL_BLACK 3.5\nreport_safe 0\nok_locales en\n",
    )
    .unwrap();
    let out = spamfilt(dir.path()).args(["import-sa", "--dry-run"]).arg(&prefs).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        fs::read_to_string(dir.path().join("cfg/config.toml")).unwrap(),
        "# mine\n[scores]\nMISSING_DATE = 1.0\n"
    );
    assert!(!dir.path().join("cfg/allow.txt").exists());
    let out = spamfilt(dir.path()).arg("import-sa").arg(&prefs).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    let p = prefs.display();
    let config = dir.path().join("cfg/config.toml");
    for line in [
        format!("{p}:2: config: required_score = 6.5"),
        format!("{p}:3: config: subject_tag = \"[SPAM]\""),
        format!("{p}:4: allow list: @klant.be"),
        format!("{p}:5: block list: @deals.example"),
        format!("{p}:6: config: [scores] HTML_SCRIPT = 2.5"),
        format!(
            "{p}:7: not imported: score MISSING_DATE 3: {} sets [scores] MISSING_DATE = 1.0 (kept",
            config.display()
        ),
        format!("{p}:8: not imported: score URIBL_BLACK 3.5: spamfilt has no rule URIBL_BLACK"),
        format!("{p}:9: nothing to import: report_safe 0:"),
        format!("{p}:10: not imported: ok_locales en: not understood"),
    ] {
        assert!(report.contains(&line), "{line}\n{report}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("5 settings imported, 0 already there, 3 lines not imported"),
        "{out:?}"
    );
    assert_eq!(fs::read_to_string(dir.path().join("cfg/allow.txt")).unwrap(), "@klant.be\n");
    let config = fs::read_to_string(dir.path().join("cfg/config.toml")).unwrap();
    assert!(config.contains("# mine\n[scores]\nHTML_SCRIPT = 2.5\nMISSING_DATE = 1.0\n"), "{config}");
    // The filter reads what was written: the threshold, the tag, the lists.
    let out = filter(dir.path(), &message("promo@deals.example", "pills"));
    assert!(status(&out).contains("required=6.5") && out.contains("Subject: [SPAM] pills"), "{out}");
    assert!(status(&filter(dir.path(), &message("piet@klant.be", "offerte"))).contains("ALLOWLIST"));
    // lint finds nothing wrong with what was imported (only that nothing is trained yet).
    let lint = spamfilt(dir.path()).arg("lint").output().unwrap();
    let problems = String::from_utf8_lossy(&lint.stdout);
    assert!(problems.lines().all(|l| l.contains(": no database here: ")), "{problems}");
    // Again: every setting is there already; nothing is written twice, and it says so (on
    // fbb856a the second run said "allow list: @klant.be" as if imported, and "not imported:
    // required_score is already set" for the value it had written itself, 6 lines not imported).
    let out = spamfilt(dir.path()).arg("import-sa").arg(&prefs).output().unwrap();
    assert_eq!(fs::read_to_string(dir.path().join("cfg/config.toml")).unwrap(), config);
    assert_eq!(fs::read_to_string(dir.path().join("cfg/allow.txt")).unwrap(), "@klant.be\n");
    let report = String::from_utf8_lossy(&out.stdout);
    let cfg = dir.path().join("cfg/config.toml");
    let cfg = cfg.display();
    for line in [
        format!("{p}:2: already set: required_score = 6.5 in {cfg}"),
        format!("{p}:3: already set: subject_tag = \"[SPAM]\" in {cfg}"),
        format!("{p}:4: already in the allow list: @klant.be"),
        format!("{p}:5: already in the block list: @deals.example"),
        format!("{p}:6: already set: [scores] HTML_SCRIPT = 2.5 in {cfg}"),
        format!("{p}:7: not imported: score MISSING_DATE 3: {cfg} sets [scores] MISSING_DATE = 1.0 (kept"),
    ] {
        assert!(report.contains(&line), "{line}\n{report}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("0 settings imported, 5 already there, 3 lines not imported; nothing to write"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(1), "the same lines as the first run are not imported");
}
