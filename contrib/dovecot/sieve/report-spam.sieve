require ["vnd.dovecot.pipe", "copy", "imapsieve"];

pipe :copy "spamfilt-learn" ["spam"];
