package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"mailroom/internal/activesync"
	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// refreshSeconds is how often a page showing a pending operation reloads itself.
const refreshSeconds = 3

// deviceRow is a device with the address of its owner.
type deviceRow struct {
	activesync.Device
	User string
}

// WipePending says whether a wipe was asked for and the device has not acknowledged it.
func (d deviceRow) WipePending() bool {
	return d.Wipe == activesync.WipePending || d.Wipe == activesync.WipePendingAccountOnly
}

// owners maps account ids to addresses, for the device lists.
func (h *Handler) owners(ctx context.Context) (map[store.AccountID]string, error) {
	users, err := h.cfg.Directory.Users(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[store.AccountID]string, len(users))
	for _, u := range users {
		m[store.AccountID(u.ID)] = u.Address
	}
	return m, nil
}

func (h *Handler) devices(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	owners, err := h.owners(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	ds, err := h.cfg.Devices.ListDevices(ctx, r.URL.Query().Get("user"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	rows := make([]deviceRow, len(ds))
	for i, d := range ds {
		rows[i] = deviceRow{d, owners[d.Account]}
	}
	h.page(w, s, "devices", "Devices", "devices", rows)
}

// devicePage shows one device; while a wipe is pending it reloads itself until the
// device acknowledges, so the administrator (or the user) sees the wipe happen.
func (h *Handler) devicePage(w http.ResponseWriter, r *http.Request, s *session, user directory.User, deviceID, section string, admin bool) {
	d, err := h.cfg.Devices.Device(r.Context(), user.Address, deviceID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	row := deviceRow{d, user.Address}
	v := view{Title: "Device " + d.DeviceID, Section: section, User: s.user, CSRF: s.csrf,
		Data: struct {
			Device deviceRow
			Admin  bool
		}{row, admin}}
	if row.WipePending() {
		v.Refresh = refreshSeconds
	}
	h.render(w, http.StatusOK, "device", v)
}

func (h *Handler) adminDevice(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := h.cfg.Directory.User(r.Context(), r.PathValue("user"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.devicePage(w, r, s, u, r.PathValue("device"), "devices", true)
}

func adminDevicePath(r *http.Request) string {
	return "/admin/devices/" + url.PathEscape(r.PathValue("user")) + "/" + url.PathEscape(r.PathValue("device"))
}

// done redirects after an action on a device or fails with the error.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, s *session, err error, back string) {
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	redirect(w, r, back)
}

func (h *Handler) setAccess(w http.ResponseWriter, r *http.Request, s *session) {
	a := activesync.Access(r.PostFormValue("access"))
	var err error
	switch a {
	case activesync.AccessAllow, activesync.AccessBlock, activesync.AccessQuarantine, "":
		err = h.cfg.Devices.SetAccess(r.Context(), r.PathValue("user"), r.PathValue("device"), a)
	default:
		err = fmt.Errorf("%w: access %q is not allow, block or quarantine", errBadInput, a)
	}
	h.done(w, r, s, err, adminDevicePath(r))
}

func (h *Handler) adminWipe(w http.ResponseWriter, r *http.Request, s *session) {
	err := h.cfg.Devices.Wipe(r.Context(), r.PathValue("user"), r.PathValue("device"), r.PostFormValue("accountOnly") == "on")
	if err == nil {
		h.log.Info("console: wipe requested", "by", s.user.Address, "user", r.PathValue("user"), "device", r.PathValue("device"))
	}
	h.done(w, r, s, err, adminDevicePath(r))
}

func (h *Handler) adminRemoveDevice(w http.ResponseWriter, r *http.Request, s *session) {
	h.done(w, r, s, h.cfg.Devices.RemoveDevice(r.Context(), r.PathValue("user"), r.PathValue("device")), "/admin/devices")
}

// Queue.

func (h *Handler) queue(w http.ResponseWriter, r *http.Request, s *session) {
	entries, err := h.cfg.Queue.List(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.page(w, s, "queue", "Mail queue", "queue", entries)
}

func (h *Handler) queueAction(w http.ResponseWriter, r *http.Request, s *session, act func(context.Context, int64) error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, s, fmt.Errorf("%w: %q is not a queue id", errBadInput, r.PathValue("id")))
		return
	}
	if err := act(r.Context(), id); err != nil {
		h.fail(w, r, s, fmt.Errorf("queue entry %d: %w", id, err))
		return
	}
	redirect(w, r, "/admin/queue")
}

func (h *Handler) retryQueued(w http.ResponseWriter, r *http.Request, s *session) {
	h.queueAction(w, r, s, h.cfg.Queue.Retry)
}

func (h *Handler) dropQueued(w http.ResponseWriter, r *http.Request, s *session) {
	h.queueAction(w, r, s, h.cfg.Queue.Drop)
}

// Certificates.

func (h *Handler) certificates(w http.ResponseWriter, r *http.Request, s *session) {
	certs, err := h.cfg.CA.List(r.Context(), 0)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.page(w, s, "certificates", "Certificates", "certificates", certs)
}

func (h *Handler) revokeCertificate(w http.ResponseWriter, r *http.Request, s *session) {
	_, err := h.cfg.CA.Revoke(r.Context(), r.PathValue("serial"))
	if err == nil {
		h.log.Info("console: certificate revoked", "by", s.user.Address, "serial", r.PathValue("serial"))
	}
	h.done(w, r, s, err, "/admin/certificates")
}
