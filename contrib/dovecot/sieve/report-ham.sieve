require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
# Deleting spam is not a verdict on it.
if string "${mailbox}" "Trash" {
  stop;
}
pipe :copy "spamfilt-learn" ["ham"];
