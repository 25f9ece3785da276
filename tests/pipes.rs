//! Every command ends quietly when the reader of its output goes away (`spamfilt ip list
//! --spam | head`): no panic message, exit status 0. Through the real binary.

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn a_closed_output_pipe_ends_commands_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let spamfilt = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spamfilt"));
        c.env_remove("SPAMFILT_CONFIG").env("HOME", "/nonexistent-home").arg("--db").arg(&db);
        c
    };
    // Enough addresses that the list does not fit in the pipe's buffer.
    let addrs: Vec<String> = (0..6000).map(|i| format!("10{}.{}.{}.{}", i % 2, (i / 256) % 256, i % 256, 7)).collect();
    let addrs: Vec<&str> = addrs.iter().filter(|a| !a.starts_with("100.")).map(String::as_str).collect();
    let mut add = spamfilt();
    add.args(["ip", "add"]).args(&addrs);
    assert!(add.status().unwrap().success());
    for args in [&["ip", "list", "--spam"][..], &["rules"][..], &["db", "dump"][..]] {
        let mut child = spamfilt().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Read a little, then go away, like `head`.
        let mut first = [0u8; 64];
        child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}
