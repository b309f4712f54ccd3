package adminapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/queue"
)

// queueEntry is a queued message as the API shows it.
type queueEntry struct {
	ID         int64            `json:"id"`
	From       string           `json:"from"` // "" for a delivery status notification
	Size       int64            `json:"size"`
	Created    time.Time        `json:"created"`
	EnvID      string           `json:"envId,omitempty"`
	Recipients []queueRecipient `json:"recipients"`
}

type queueRecipient struct {
	Address       string       `json:"address"`
	Status        queue.Status `json:"status"`
	Attempts      int          `json:"attempts"`
	LastError     string       `json:"lastError,omitempty"`
	LastAttempt   time.Time    `json:"lastAttempt,omitzero"`
	NextAttempt   time.Time    `json:"nextAttempt,omitzero"`
	RemoteMTA     string       `json:"remoteMta,omitempty"`
	TLS           bool         `json:"tls"`
	NotifyPending bool         `json:"notifyPending"`
}

func viewEntry(e queue.Entry) queueEntry {
	out := queueEntry{ID: e.ID, From: e.From, Size: e.Size, Created: e.Created, EnvID: e.EnvID, Recipients: []queueRecipient{}}
	for _, r := range e.Recipients {
		rc := queueRecipient{Address: r.Address, Status: r.Status, Attempts: r.Attempts, LastError: r.LastError,
			NextAttempt: r.NextAttempt, RemoteMTA: r.RemoteMTA, TLS: r.TLS, NotifyPending: r.NotifyPending}
		if r.Attempts > 0 {
			rc.LastAttempt = r.LastAttempt
		}
		out.Recipients = append(out.Recipients, rc)
	}
	return out
}

func (a *API) listQueue(r *http.Request, _ directory.User) (int, any, error) {
	es, err := a.c.Queue.List(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]queueEntry, 0, len(es))
	for _, e := range es {
		out = append(out, viewEntry(e))
	}
	return http.StatusOK, out, nil
}

// queueID reads the {id} of a queue route.
func queueID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound(fmt.Errorf("%q is not a queue id", r.PathValue("id")))
	}
	return id, nil
}

func (a *API) showQueue(r *http.Request, _ directory.User) (int, any, error) {
	id, err := queueID(r)
	if err != nil {
		return 0, nil, err
	}
	e, err := a.c.Queue.Show(r.Context(), id)
	if err != nil {
		return 0, nil, fmt.Errorf("queue entry %d: %w", id, err)
	}
	return http.StatusOK, viewEntry(e), nil
}

func (a *API) retryQueue(r *http.Request, _ directory.User) (int, any, error) {
	id, err := queueID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.c.Queue.Retry(r.Context(), id); err != nil {
		return 0, nil, fmt.Errorf("queue entry %d: %w", id, err)
	}
	return a.showQueue(r, directory.User{})
}

func (a *API) dropQueue(r *http.Request, _ directory.User) (int, any, error) {
	id, err := queueID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.c.Queue.Drop(r.Context(), id); err != nil {
		return 0, nil, fmt.Errorf("queue entry %d: %w", id, err)
	}
	return http.StatusNoContent, nil, nil
}
