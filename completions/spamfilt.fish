# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_spamfilt_global_optspecs
    string join \n db= config= v/verbose q/quiet no-rules no-bayes no-lr h/help V/version
end

function __fish_spamfilt_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_spamfilt_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_spamfilt_using_subcommand
    set -l cmd (__fish_spamfilt_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c spamfilt -n "__fish_spamfilt_needs_command" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_needs_command" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_needs_command" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -l no-rules -d 'Score without the content and sender rules: Bayes and LR only (for comparison; the allow and block lists still decide)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -l no-bayes -d 'Score without Bayes (for comparison; with the content rules only, what a fresh install without the starter table would do; with --no-rules too, LR alone)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -l no-lr -d 'Score without the logistic-regression classifier (for comparison; also `[lr] enabled = false` in the config file)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -s V -l version -d 'Print version'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "filter" -d 'Filter one message from stdin to stdout, adding X-Spam-* headers (the default)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "check" -d 'Score messages without changing anything; one line per message'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "train" -d 'Learn messages as ham or as spam (a message given as both in one run is not learned)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "forget" -d 'Unlearn messages learned before'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "purge" -d 'Learn old messages in a Maildir Junk folder as spam, then delete them'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "db" -d 'Inspect and maintain the token database'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "eval" -d 'Measure accuracy on your own folders by k-fold cross-validation (your database is not touched)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "rules" -d 'List the content rules (name, family, score, description), or measure how often they hit'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "list" -d 'Show or edit the allow and block lists (addresses, @domains, *.domains)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "ip" -d 'Show or edit the IP reputation database fed by training and honeypots (IPv4 per address, IPv6 per /64)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "address" -d 'Show or remove the mail addresses training recorded: known correspondents (the people your Sent mail was written to), your own addresses (its From and Sender) and learned senders (a From address through the relay block its learned mail came by: LEARNED_SENDER)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "lint" -d 'Check the config file, the lists, the custom rules and the databases; print each problem as FILE:LINE: message and exit 1 if there is any'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "policy" -d 'Answer Postfix policy requests (check_policy_service) from what the filter learned'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "import-sa" -d 'Import a SpamAssassin user_prefs or local.cf into the config file and the allow and block lists; every line that was not imported is named as FILE:LINE (exit status 1)'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "completions" -d 'Print the shell completion script for bash, zsh or fish'
complete -c spamfilt -n "__fish_spamfilt_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -l exit-code -d 'Exit 1 when the message is spam, 0 when it is ham (for callers that branch on the exit status). An error is never 1: with a broken configuration or database the message is still passed through and the exit status is 0, and when the message cannot be read or written whole it is 75'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -l no-rules -d 'Score without the content and sender rules: Bayes and LR only (for comparison; the allow and block lists still decide)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -l no-bayes -d 'Score without Bayes (for comparison; with the content rules only, what a fresh install without the starter table would do; with --no-rules too, LR alone)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -l no-lr -d 'Score without the logistic-regression classifier (for comparison; also `[lr] enabled = false` in the config file)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand filter" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l json -d 'Print one JSON object per message instead of tab-separated fields (bayes and lr: spam probabilities from 0 to 1)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l report -d 'Explain each verdict: every rule hit with its points and description, and the tokens that pushed Bayes most towards spam and towards ham'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l no-rules -d 'Score without the content and sender rules: Bayes and LR only (for comparison; the allow and block lists still decide)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l no-bayes -d 'Score without Bayes (for comparison; with the content rules only, what a fresh install without the starter table would do; with --no-rules too, LR alone)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -l no-lr -d 'Score without the logistic-regression classifier (for comparison; also `[lr] enabled = false` in the config file)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l ham -d 'Learn these messages as ham (good mail), e.g. your Sent folder' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l spam -d 'Learn these messages as spam, e.g. your Junk folder' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l older-than -d 'Only messages in their folder longer than this (e.g. 10d, 36h, 2w; a bare number is days), counted as purge counts it: from the later of the delivery time in the Maildir file name and the file\'s ctime (which a move into the folder, or a flag change, sets). Files without a delivery time in their name are passed over; standard input and mbox files are refused' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l below -d 'Learn a --ham message only if the filter, scoring it now as check does with the current database, gives it less than SCORE (e.g. 0). Any X-Spam-* field in the file counts for nothing; a message learned before (as ham or spam) is passed over unscored' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l balanced -d 'With --below: learn no more ham than RATIO times the spam learned (db stats; 1 when RATIO is not given), the newest messages first; the rest waits, unread, for a later run. Keeps ham learning in step with the nightly purge' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l queued -d 'Only learn what the filter queued (honeypot hits); every training run does this first anyway'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l force -d 'Start afresh over a database file that was read and found damaged (it is moved aside first, never deleted). A file that cannot be opened (permission denied, a symbolic link, not a regular file) is not known to be damaged: it is refused, with or without --force'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -l no-progress -d 'Never show a progress bar'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand train" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand forget" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand forget" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand forget" -l no-progress -d 'Never show a progress bar'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand forget" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand forget" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand forget" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -l older-than -d 'Only messages in the folder longer than this (e.g. 10d, 36h, 2w; a bare number is days): counted from the later of the delivery time in the Maildir file name and the file\'s ctime, which a move into the folder (even one that keeps the old name) sets, as purge first saw it: purge writes that time down (purge-seen.state in the database directory), so a ctime set later (a flag change, a nightly backup or chmod) does not make a message young again' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -l dry-run -d 'Say what would be learned and deleted, and change nothing'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -l no-train -d 'Delete without learning the messages as spam first'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -l force -d 'Purge even what looks like a mistake: an age under one day, a folder whose name says nothing of Junk, Spam, Bulk or Ongewenst, the root of a Maildir++ mailbox (the inbox), or a cur/ or new/ that is a symbolic link. Only Maildir-named message files are ever deleted, with or without it, and never one that is not mail (an empty file, a text note: named, left in place, exit status 1)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "stats" -d 'Messages learned per class, tokens, file size, last update'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "dump" -d 'Write everything learned to stdout (or FILE) in the documented text format: token counts, the ledger, the reputation database (IP addresses, cached DNS answers, known correspondents) and the LR weights'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "load" -d 'Replace the databases with a dump read from FILE (\'-\' for stdin); a version 1 dump (tokens only) leaves the reputation database as it is. The whole dump is read first: one that is cut short (no end line, counts that do not match) is refused and nothing is changed'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "salvage" -d 'Rebuild a damaged token database from the records that still verify; the damaged file is kept beside it as tokens.db.corrupt-TIME'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "migrate" -d 'Copy the token counts, the ledger, the LR weights and the IP reputation to another store: a Redis server (--to redis://HOST:PORT/DB or unix:///PATH) or a database directory (--to-files DIR). Then point the config file\'s [store] at it. Cached DNS answers and the queue stay in the --db directory'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "expire" -d 'Drop rare tokens that have not been seen for a long time'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and not __fish_seen_subcommand_from stats dump load salvage migrate expire help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from stats" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from stats" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from stats" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from stats" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from dump" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from dump" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from dump" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from dump" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from dump" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from load" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from load" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from load" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from load" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from load" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from salvage" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from salvage" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from salvage" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from salvage" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from salvage" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -l to -d 'The Redis store to copy to (a password may be in the URL)' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -l to-files -d 'The database directory to copy to (tokens.db and lr.weights are written there)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -l prefix -d 'The key prefix in Redis (default: [store] prefix, or your login name)' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -l force -d 'Replace what the target holds already (otherwise a target with anything learned is refused)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -l days -d 'Drop tokens last seen more than this many days ago...' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -l max-count -d '...whose total count (ham + spam) is at most this' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from expire" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "stats" -d 'Messages learned per class, tokens, file size, last update'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "dump" -d 'Write everything learned to stdout (or FILE) in the documented text format: token counts, the ledger, the reputation database (IP addresses, cached DNS answers, known correspondents) and the LR weights'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "load" -d 'Replace the databases with a dump read from FILE (\'-\' for stdin); a version 1 dump (tokens only) leaves the reputation database as it is. The whole dump is read first: one that is cut short (no end line, counts that do not match) is refused and nothing is changed'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "salvage" -d 'Rebuild a damaged token database from the records that still verify; the damaged file is kept beside it as tokens.db.corrupt-TIME'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Copy the token counts, the ledger, the LR weights and the IP reputation to another store: a Redis server (--to redis://HOST:PORT/DB or unix:///PATH) or a database directory (--to-files DIR). Then point the config file\'s [store] at it. Cached DNS answers and the queue stay in the --db directory'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "expire" -d 'Drop rare tokens that have not been seen for a long time'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l ham -d 'Ham (good mail) to evaluate on, e.g. your Sent folder and inbox archive' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l spam -d 'Spam to evaluate on, e.g. your Junk folder' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l folds -d 'Number of folds: each message is scored by a model trained on the other folds' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l seed -d 'Fold assignment seed: the same messages and seed give the same figures' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l target-fp -d 'Also report the threshold that would give this false-positive rate' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l plot -d 'Write an SVG with the ham and spam score histograms and the ROC curve (the name must end in .svg; it is checked before the run, and the path is printed when written)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l json -d 'Print the figures as one JSON object. Every proportion is in percent (0 to 100), in a field whose name ends in _percent (spam_recall_percent_at_0_1_percent_fp: the spam recall, in percent, at 0.1% false positives)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l no-progress -d 'Never show a progress bar'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l no-rules -d 'Score without the content and sender rules: Bayes and LR only (for comparison; the allow and block lists still decide)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l no-bayes -d 'Score without Bayes (for comparison; with the content rules only, what a fresh install without the starter table would do; with --no-rules too, LR alone)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -l no-lr -d 'Score without the logistic-regression classifier (for comparison; also `[lr] enabled = false` in the config file)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand eval" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -l ham -d 'Ham messages for --stats (same kinds of PATH as \'check\')' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -l spam -d 'Spam messages for --stats' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -l json -d 'Print one JSON object per rule (with --stats: ham_percent and spam_percent in percent, 0 to 100, as every *_percent field; precision from 0 to 1)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -l stats -d 'Count each rule\'s hits on --ham and --spam messages: hits, rates and precision'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand rules" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -f -a "allow" -d 'The allow list: senders whose mail is always ham'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -f -a "block" -d 'The block list: senders whose mail is always spam'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and not __fish_seen_subcommand_from allow block help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -f -a "show" -d 'Print the entries'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -f -a "add" -d 'Add entries: jan@klant.be (one address), @klant.be (the domain), *.klant.be (and its subdomains)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -f -a "remove" -d 'Remove entries'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from allow" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -f -a "show" -d 'Print the entries'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -f -a "add" -d 'Add entries: jan@klant.be (one address), @klant.be (the domain), *.klant.be (and its subdomains)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -f -a "remove" -d 'Remove entries'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from block" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from help" -f -a "allow" -d 'The allow list: senders whose mail is always ham'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from help" -f -a "block" -d 'The block list: senders whose mail is always spam'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand list; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "show" -d 'Everything known about one address: for IPv6 its /64\'s reputation (2001:db8:1:2::/64) and the address\'s own cached DNS answers'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "list" -d 'One line per address (per /64 for IPv6): counts, last seen, spam weight'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "add" -d 'Mark addresses as spam sources by hand (until removed); an IPv6 address marks its /64'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "remove" -d 'Forget everything about addresses and lift the policy service\'s refusal of them; an IPv6 address removes its /64\'s'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "expire" -d 'Drop addresses with no spam within ip_expire_days (default 30), expired DNS answers, and learned senders with no ham and nothing learned within ip_expire_days; and the policy service\'s ended refusals, unknown-recipient counts older than harvest_window_minutes and honeypot traps left pending for more than a day'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "probe" -d 'Check whether an address is an open proxy (HTTP CONNECT, SOCKS 5, SOCKS 4) that relays to your own mail server; a confirmed one is marked as a spam source'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and not __fish_seen_subcommand_from show list add remove expire probe help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from show" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from show" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from list" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from list" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from list" -l spam -d 'Only addresses that count as spam sources now'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from add" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from add" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from remove" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from remove" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from remove" -l dry-run -d 'Say what would be removed; change nothing'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from expire" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from expire" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from expire" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from expire" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from expire" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -l ports -d 'Ports to try [default: 1080,3128,8080,80,8000,8081,8888,1081]' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -l target -d 'Your own SMTP server, IP:PORT (default: probe_target in [policy])' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -l timeout -d 'Seconds each connection and each answer may take' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "show" -d 'Everything known about one address: for IPv6 its /64\'s reputation (2001:db8:1:2::/64) and the address\'s own cached DNS answers'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "list" -d 'One line per address (per /64 for IPv6): counts, last seen, spam weight'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "add" -d 'Mark addresses as spam sources by hand (until removed); an IPv6 address marks its /64'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget everything about addresses and lift the policy service\'s refusal of them; an IPv6 address removes its /64\'s'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "expire" -d 'Drop addresses with no spam within ip_expire_days (default 30), expired DNS answers, and learned senders with no ham and nothing learned within ip_expire_days; and the policy service\'s ended refusals, unknown-recipient counts older than harvest_window_minutes and honeypot traps left pending for more than a day'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "probe" -d 'Check whether an address is an open proxy (HTTP CONNECT, SOCKS 5, SOCKS 4) that relays to your own mail server; a confirmed one is marked as a spam source'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand ip; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -f -a "show" -d 'What is recorded about one mail address: as a known correspondent or your own address, and as a learned sender through each relay block (ham and spam learned, last learned, what LEARNED_SENDER gives it). Exit status 1 when nothing is'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -f -a "list" -d 'One line per record: known correspondents, your own addresses and learned senders (one per address and relay block), sorted'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -f -a "remove" -d 'Remove every record of mail addresses: as known correspondents or your own addresses, and as learned senders through every relay block'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and not __fish_seen_subcommand_from show list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from show" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from show" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -l own -d 'Only your own addresses'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -l correspondents -d 'Only known correspondents'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -l senders -d 'Only learned senders'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from remove" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from remove" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from remove" -l dry-run -d 'Say what would be removed; change nothing'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from help" -f -a "show" -d 'What is recorded about one mail address: as a known correspondent or your own address, and as a learned sender through each relay block (ham and spam learned, last learned, what LEARNED_SENDER gives it). Exit status 1 when nothing is'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from help" -f -a "list" -d 'One line per record: known correspondents, your own addresses and learned senders (one per address and relay block), sorted'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove every record of mail addresses: as known correspondents or your own addresses, and as learned senders through every relay block'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand address; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand lint" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand lint" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand lint" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand lint" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand lint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -l listen -d 'Serve as a standing service on unix:PATH or IP:PORT (loopback only) instead of on standard input and output' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -l threads -d 'With --listen: how many connections are served at once, each on a thread of its own. Postfix keeps one connection per smtpd process: allow at least smtpd\'s process limit. Past it, the connection idle longest (else the one sending its request longest) is closed, so a new client is always answered (Postfix reconnects)' -r
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -l log -d 'Append decisions, errors and counters to this file (default: syslog, facility mail; with --listen and no syslog, standard error)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand policy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand import-sa" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand import-sa" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand import-sa" -s n -l dry-run -d 'Report what would be imported, and write nothing'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand import-sa" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand import-sa" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand import-sa" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand completions" -l db -d 'The database directory (token database, training ledger)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand completions" -l config -d 'The configuration file (TOML)' -r -F
complete -c spamfilt -n "__fish_spamfilt_using_subcommand completions" -s v -l verbose -d 'Say more about what is being done (repeat for more)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand completions" -s q -l quiet -d 'Print only errors'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "filter" -d 'Filter one message from stdin to stdout, adding X-Spam-* headers (the default)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "check" -d 'Score messages without changing anything; one line per message'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "train" -d 'Learn messages as ham or as spam (a message given as both in one run is not learned)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "forget" -d 'Unlearn messages learned before'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "purge" -d 'Learn old messages in a Maildir Junk folder as spam, then delete them'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "db" -d 'Inspect and maintain the token database'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "eval" -d 'Measure accuracy on your own folders by k-fold cross-validation (your database is not touched)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "rules" -d 'List the content rules (name, family, score, description), or measure how often they hit'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "list" -d 'Show or edit the allow and block lists (addresses, @domains, *.domains)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "ip" -d 'Show or edit the IP reputation database fed by training and honeypots (IPv4 per address, IPv6 per /64)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "address" -d 'Show or remove the mail addresses training recorded: known correspondents (the people your Sent mail was written to), your own addresses (its From and Sender) and learned senders (a From address through the relay block its learned mail came by: LEARNED_SENDER)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "lint" -d 'Check the config file, the lists, the custom rules and the databases; print each problem as FILE:LINE: message and exit 1 if there is any'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "policy" -d 'Answer Postfix policy requests (check_policy_service) from what the filter learned'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "import-sa" -d 'Import a SpamAssassin user_prefs or local.cf into the config file and the allow and block lists; every line that was not imported is named as FILE:LINE (exit status 1)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "completions" -d 'Print the shell completion script for bash, zsh or fish'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and not __fish_seen_subcommand_from filter check train forget purge db eval rules list ip address lint policy import-sa completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "stats" -d 'Messages learned per class, tokens, file size, last update'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "dump" -d 'Write everything learned to stdout (or FILE) in the documented text format: token counts, the ledger, the reputation database (IP addresses, cached DNS answers, known correspondents) and the LR weights'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "load" -d 'Replace the databases with a dump read from FILE (\'-\' for stdin); a version 1 dump (tokens only) leaves the reputation database as it is. The whole dump is read first: one that is cut short (no end line, counts that do not match) is refused and nothing is changed'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "salvage" -d 'Rebuild a damaged token database from the records that still verify; the damaged file is kept beside it as tokens.db.corrupt-TIME'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "migrate" -d 'Copy the token counts, the ledger, the LR weights and the IP reputation to another store: a Redis server (--to redis://HOST:PORT/DB or unix:///PATH) or a database directory (--to-files DIR). Then point the config file\'s [store] at it. Cached DNS answers and the queue stay in the --db directory'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "expire" -d 'Drop rare tokens that have not been seen for a long time'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from list" -f -a "allow" -d 'The allow list: senders whose mail is always ham'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from list" -f -a "block" -d 'The block list: senders whose mail is always spam'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from ip" -f -a "show" -d 'Everything known about one address: for IPv6 its /64\'s reputation (2001:db8:1:2::/64) and the address\'s own cached DNS answers'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from ip" -f -a "list" -d 'One line per address (per /64 for IPv6): counts, last seen, spam weight'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from ip" -f -a "add" -d 'Mark addresses as spam sources by hand (until removed); an IPv6 address marks its /64'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from ip" -f -a "remove" -d 'Forget everything about addresses and lift the policy service\'s refusal of them; an IPv6 address removes its /64\'s'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from ip" -f -a "expire" -d 'Drop addresses with no spam within ip_expire_days (default 30), expired DNS answers, and learned senders with no ham and nothing learned within ip_expire_days; and the policy service\'s ended refusals, unknown-recipient counts older than harvest_window_minutes and honeypot traps left pending for more than a day'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from ip" -f -a "probe" -d 'Check whether an address is an open proxy (HTTP CONNECT, SOCKS 5, SOCKS 4) that relays to your own mail server; a confirmed one is marked as a spam source'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from address" -f -a "show" -d 'What is recorded about one mail address: as a known correspondent or your own address, and as a learned sender through each relay block (ham and spam learned, last learned, what LEARNED_SENDER gives it). Exit status 1 when nothing is'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from address" -f -a "list" -d 'One line per record: known correspondents, your own addresses and learned senders (one per address and relay block), sorted'
complete -c spamfilt -n "__fish_spamfilt_using_subcommand help; and __fish_seen_subcommand_from address" -f -a "remove" -d 'Remove every record of mail addresses: as known correspondents or your own addresses, and as learned senders through every relay block'
