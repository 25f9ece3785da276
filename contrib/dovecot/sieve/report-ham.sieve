require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables", "ihave"];

# Runs when a message is copied or moved out of Junk (91-spamfilt-imapsieve.conf); the mailbox
# it went to is imap.mailbox.
if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}

# Deleting spam is not a verdict on it: a move into a trash folder learns nothing, nor does a
# move into another junk folder. Such a folder is told first by its special-use attribute
# (RFC 6154 \Trash or \Junk, given by `special_use = \Trash` in the namespace's mailbox block),
# whatever its name. This needs the special-use extension (RFC 8579; enabled in
# 91-spamfilt-imapsieve.conf; Debian 12's Pigeonhole 0.5.19 has it); without it only the names
# below count.
if ihave "special-use" {
  if specialuse_exists "${mailbox}" "\\Trash" {
    stop;
  }
  if specialuse_exists "${mailbox}" "\\Junk" {
    stop;
  }
}

# A trash folder without the attribute, by the names mail clients give it, at the top level or
# under INBOX (INBOX.Trash, INBOX/Trash); case does not matter.
if string :comparator "i;ascii-casemap" :matches "${mailbox}" [
    "Trash", "INBOX?Trash", "Deleted", "INBOX?Deleted",
    "Deleted Messages", "INBOX?Deleted Messages", "Deleted Items", "INBOX?Deleted Items",
    "Bin", "INBOX?Bin", "Trash Can", "INBOX?Trash Can",
    "Papierkorb", "INBOX?Papierkorb", "Gelöschte Elemente", "INBOX?Gelöschte Elemente",
    "Gelöschte Objekte", "INBOX?Gelöschte Objekte",
    "Corbeille", "INBOX?Corbeille", "Éléments supprimés", "INBOX?Éléments supprimés",
    "Prullenbak", "INBOX?Prullenbak", "Verwijderde items", "INBOX?Verwijderde items",
    "Papelera", "INBOX?Papelera", "Elementos eliminados", "INBOX?Elementos eliminados",
    "Cestino", "INBOX?Cestino", "Posta eliminata", "INBOX?Posta eliminata",
    "Lixeira", "INBOX?Lixeira", "Lixo", "INBOX?Lixo", "Itens excluídos", "INBOX?Itens excluídos",
    "Papperskorgen", "INBOX?Papperskorgen", "Papirkurv", "INBOX?Papirkurv",
    "Kosz", "INBOX?Kosz", "Roskakori", "INBOX?Roskakori", "Koš", "INBOX?Koš"] {
  stop;
}

pipe :copy "spamfilt-learn" ["ham"];
