package mailio

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// inboxName is the folder a Maildir++ root holds (RFC 3501 section 5.1:
// INBOX is case-insensitive).
const inboxName = "INBOX"

// MaildirFolder is one folder of a Maildir++ tree.
type MaildirFolder struct {
	Name string // IMAP-style name with "/" as hierarchy separator
	Dir  string // the Maildir holding its messages
}

// ListMaildirFolders returns the folders of a Maildir++ tree: root itself as
// INBOX, then each ".Sub.Folder" directory beside cur/ and new/ that is a
// Maildir, sorted by name. Names are decoded: "." separates levels (shown
// as "/"), each level is modified UTF-7 (RFC 3501 section 5.1.3), and the
// escapes "\2e" and "\5c" that [MaildirSubfolder] uses for "." and "\" are
// undone. A level that is not valid modified UTF-7 is kept as found, since
// some servers store UTF-8 names.
func ListMaildirFolders(root string) ([]MaildirFolder, error) {
	if !isMaildir(root) {
		return nil, fmt.Errorf("%w: %s", ErrNotMaildir, root)
	}
	des, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("mailio: listing Maildir folders: %w", err)
	}
	var subs []MaildirFolder
	for _, de := range des {
		name := de.Name()
		if len(name) < 2 || name[0] != '.' || name == ".." {
			continue
		}
		dir := filepath.Join(root, name)
		if !isMaildir(dir) {
			continue
		}
		subs = append(subs, MaildirFolder{Name: decodeFolderName(name[1:]), Dir: dir})
	}
	slices.SortFunc(subs, func(a, b MaildirFolder) int { return strings.Compare(a.Name, b.Name) })
	return append([]MaildirFolder{{Name: inboxName, Dir: root}}, subs...), nil
}

// MaildirSubfolder returns the directory of the Maildir++ folder name
// ("Archive/2024") under root: "." followed by its levels joined with ".",
// each level in modified UTF-7 (RFC 3501 section 5.1.3) with "\" and "."
// escaped as "\5c" and "\2e" (the escapes of Dovecot's listescape plugin),
// because "." separates levels and a level could otherwise be ".." or
// contain a path separator. INBOX (any case) and "" are root itself.
func MaildirSubfolder(root, name string) string {
	if name == "" || strings.EqualFold(name, inboxName) {
		return root
	}
	levels := strings.Split(name, "/")
	for i, l := range levels {
		levels[i] = strings.NewReplacer(`\`, `\5c`, ".", `\2e`).Replace(encodeMUTF7(l))
	}
	return filepath.Join(root, "."+strings.Join(levels, "."))
}

// decodeFolderName turns a Maildir++ directory name without its leading
// "." into a folder name.
func decodeFolderName(dirName string) string {
	levels := strings.Split(dirName, ".")
	for i, l := range levels {
		l = unescapeLevel(l)
		if dec, err := decodeMUTF7(l); err == nil {
			l = dec
		}
		levels[i] = l
	}
	return strings.Join(levels, "/")
}

// unescapeLevel undoes "\xx" hexadecimal escapes; other backslashes stay.
func unescapeLevel(l string) string {
	if !strings.Contains(l, `\`) {
		return l
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		if l[i] == '\\' && i+2 < len(l) {
			if n, err := strconv.ParseUint(l[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(l[i])
	}
	return b.String()
}
