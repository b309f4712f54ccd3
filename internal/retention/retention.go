// Package retention purges the messages a POP3 DELE moved to a mailbox's Deleted
// Items once they are older than their domain's retention period
// (directory.Domain.POP3RetentionDays). The POP3 server marks each message it moves
// there with DeletedAtProp; the purge expunges only messages carrying that mark.
//
// It must never touch a message it did not mark: mail the user deleted in IMAP,
// ActiveSync or any other way, and marked mail whose period has not run out, stays
// in Deleted Items until the user empties it.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// DeletedAtProp is the message property the POP3 server sets, in RFC 3339, on each
// message its DELE moved to Deleted Items: when it was moved, and that POP3 moved it.
const DeletedAtProp = "pop3:deleted-at"

// Store is what the purge needs of the mailbox store.
type Store interface {
	FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
	List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error)
	Messages(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error)
	Expunge(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.UID, error)
}

// Domains is what the purge needs of the directory, *directory.Directory being one:
// the mailboxes, and their domains' retention periods.
type Domains interface {
	Users(ctx context.Context) ([]directory.User, error)
	Domains(ctx context.Context) ([]directory.Domain, error)
}

// batch is how many messages Purge reads at once: Messages returns everything
// extracted at delivery, and a Deleted Items folder may hold many thousands.
const batch = 256

// Purge expunges, from the Deleted Items of every user and shared mailbox, the
// messages marked with DeletedAtProp longer ago than their domain's retention period
// at now. It returns how many it expunged. A mailbox that fails does not stop the
// others; their errors are returned together.
func Purge(ctx context.Context, st Store, dir Domains, now time.Time) (int, error) {
	doms, err := dir.Domains(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention purge: %w", err)
	}
	days := make(map[string]int, len(doms))
	for _, d := range doms {
		days[d.Name] = d.POP3RetentionDays
	}
	users, err := dir.Users(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention purge: %w", err)
	}
	total := 0
	var errs []error
	for _, u := range users {
		d, ok := days[u.Domain]
		if !ok || d < 1 {
			// No period to go by; the domain vanished meanwhile. Keep the mail.
			continue
		}
		n, err := purgeAccount(ctx, st, store.AccountID(u.ID), now.Add(-time.Duration(d)*24*time.Hour))
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("retention purge of %s: %w", u.Address, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return total, errors.Join(errs...)
}

// purgeAccount expunges the marked messages of one account's Deleted Items that were
// moved there before cutoff.
func purgeAccount(ctx context.Context, st Store, acct store.AccountID, cutoff time.Time) (int, error) {
	trash, err := st.FolderByRole(ctx, acct, store.RoleTrash)
	if errors.Is(err, store.ErrNotFound) {
		// No mailbox in the store yet, or no Deleted Items: POP3 moved nothing there.
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	infos, err := st.List(ctx, trash.ID)
	if err != nil {
		return 0, err
	}
	uids := make([]store.UID, len(infos))
	for i, m := range infos {
		uids[i] = m.UID
	}
	var expired []store.UID
	for start := 0; start < len(uids); start += batch {
		msgs, err := st.Messages(ctx, trash.ID, uids[start:min(start+batch, len(uids))])
		if err != nil {
			return 0, err
		}
		for _, m := range msgs {
			if expiredBefore(m.Props, cutoff) {
				expired = append(expired, m.UID)
			}
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}
	// UIDs are never reused in a folder, so one the user moved away meanwhile is
	// simply not there to expunge; nothing else can be hit.
	gone, err := st.Expunge(ctx, trash.ID, expired)
	return len(gone), err
}

// expiredBefore reports whether props carry a POP3 deletion mark older than cutoff.
// A mark that does not parse is not ours to act on.
func expiredBefore(props map[string]string, cutoff time.Time) bool {
	v, ok := props[DeletedAtProp]
	if !ok {
		return false
	}
	at, err := time.Parse(time.RFC3339, v)
	return err == nil && at.Before(cutoff)
}

// Run calls Purge at once and then every interval until ctx ends, logging what each
// run expunged and any error, and returns ctx's error. Purging at once means a server
// restarted more often than interval still purges. Interval must be positive.
func Run(ctx context.Context, interval time.Duration, st Store, dir Domains, log *slog.Logger) error {
	if interval <= 0 {
		return fmt.Errorf("retention: purge interval %v is not positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := Purge(ctx, st, dir, time.Now())
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			log.Error("retention purge failed", "expunged", n, "err", err)
		default:
			log.Info("retention purge", "expunged", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
