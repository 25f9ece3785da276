require ["vnd.dovecot.filter", "fileinto", "mailbox"];

# spamfilt adds X-Spam-* headers; on any error it passes the message through unchanged.
filter "spamfilt-filter";

if header :is "X-Spam-Flag" "YES" {
  fileinto :create "Junk";
  stop;
}
