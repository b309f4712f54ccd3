package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"mailroom/internal/autodiscover"
	"mailroom/internal/directory"
	"mailroom/internal/profiles"
)

func (h *Handler) profiles(w http.ResponseWriter, r *http.Request, s *session) {
	ps, err := h.cfg.Profiles.Profiles(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.page(w, s, "profiles", "E-mail profiles", "profiles", ps)
}

// profileForm is the data of the page that creates or edits a profile.
type profileForm struct {
	New         bool
	Name        string
	Version     int
	Groups      []groupView
	Assignments []profiles.Assignment
	AllGroups   []directory.Group
	Versions    []profiles.Version
	FormError   string // an error of no single setting
}

func (h *Handler) vpnNames(ctx context.Context) ([]string, error) {
	vpns, err := h.cfg.Profiles.VPNs(ctx)
	var names []string
	for _, v := range vpns {
		names = append(names, v.Name)
	}
	return names, err
}

// renderProfileForm shows the create (name == "") or edit form with form's values and
// errs next to the fields.
func (h *Handler) renderProfileForm(w http.ResponseWriter, r *http.Request, s *session, name string, form url.Values, errs map[string]string) {
	ctx := r.Context()
	vpns, err := h.vpnNames(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := profileForm{New: name == "", Name: name, Groups: settingsView(vpns, form, errs), FormError: errs[""]}
	title := "New e-mail profile"
	if name != "" {
		p, err := h.cfg.Profiles.Profile(ctx, name)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Version, d.Assignments = p.Version, p.Assignments
		if d.AllGroups, err = h.cfg.Directory.Groups(ctx); err != nil {
			h.fail(w, r, s, err)
			return
		}
		if d.Versions, err = h.cfg.Profiles.Versions(ctx, name); err != nil {
			h.fail(w, r, s, err)
			return
		}
		title = "E-mail profile " + name
	} else {
		d.Name = form.Get("name")
	}
	code := http.StatusOK
	if len(errs) > 0 {
		code = http.StatusUnprocessableEntity
	}
	h.render(w, code, "profile", view{Title: title, Section: "profiles", User: s.user, CSRF: s.csrf, Data: d, Form: form, Errors: errs})
}

func (h *Handler) newProfile(w http.ResponseWriter, r *http.Request, s *session) {
	st := profiles.DefaultSettings()
	st.Host = h.cfg.Hostname
	h.renderProfileForm(w, r, s, "", settingValues(st), nil)
}

func (h *Handler) profile(w http.ResponseWriter, r *http.Request, s *session) {
	p, err := h.cfg.Profiles.Profile(r.Context(), r.PathValue("profile"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.renderProfileForm(w, r, s, p.Name, settingValues(p.Settings), nil)
}

// saveProfile reads the settings form and creates or updates the profile; refused
// settings come back with each message next to its field and nothing stored.
func (h *Handler) saveProfile(w http.ResponseWriter, r *http.Request, s *session, name string, create bool) {
	ctx := r.Context()
	vpns, err := h.vpnNames(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	formName := name
	if create {
		formName = ""
	}
	st, errs := parseSettings(r.PostForm, vpns)
	if create && strings.TrimSpace(name) == "" {
		errs["name"] = "Give the profile a name."
	}
	if len(errs) > 0 {
		h.renderProfileForm(w, r, s, formName, r.PostForm, errs)
		return
	}
	if create {
		_, err = h.cfg.Profiles.Create(ctx, name, st)
	} else {
		_, err = h.cfg.Profiles.Update(ctx, name, st)
	}
	switch {
	case err == nil:
		redirect(w, r, "/admin/profiles/"+url.PathEscape(name))
	case errors.Is(err, profiles.ErrExists):
		h.renderProfileForm(w, r, s, formName, r.PostForm, map[string]string{"name": err.Error()})
	case errors.Is(err, profiles.ErrInvalid) || errors.Is(err, profiles.ErrNotFound) && !create:
		h.renderProfileForm(w, r, s, formName, r.PostForm, settingErrors(err))
	default:
		h.fail(w, r, s, err)
	}
}

func (h *Handler) createProfile(w http.ResponseWriter, r *http.Request, s *session) {
	h.saveProfile(w, r, s, strings.TrimSpace(r.PostFormValue("name")), true)
}

func (h *Handler) updateProfile(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := h.cfg.Profiles.Profile(r.Context(), r.PathValue("profile")); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.saveProfile(w, r, s, r.PathValue("profile"), false)
}

// assignmentAction assigns or unassigns a group, showing a refusal next to the group
// field of the form.
func (h *Handler) assignmentAction(w http.ResponseWriter, r *http.Request, s *session, act func(ctx context.Context, name, group string) error) {
	name := r.PathValue("profile")
	err := act(r.Context(), name, strings.TrimSpace(r.PostFormValue("group")))
	switch {
	case err == nil:
		redirect(w, r, "/admin/profiles/"+url.PathEscape(name))
	case isUserMistake(err) || errors.Is(err, directory.ErrNotFound):
		p, perr := h.cfg.Profiles.Profile(r.Context(), name)
		if perr != nil {
			h.fail(w, r, s, perr)
			return
		}
		h.renderProfileForm(w, r, s, name, settingValues(p.Settings), map[string]string{"group": err.Error()})
	default:
		h.fail(w, r, s, err)
	}
}

func (h *Handler) assign(w http.ResponseWriter, r *http.Request, s *session) {
	mode := profiles.Mode(r.PostFormValue("mode"))
	h.assignmentAction(w, r, s, func(ctx context.Context, name, group string) error {
		if mode != profiles.Include && mode != profiles.Exclude {
			return fmt.Errorf("%w: mode %q is neither include nor exclude", errBadInput, mode)
		}
		return h.cfg.Profiles.Assign(ctx, name, group, mode)
	})
}

func (h *Handler) unassign(w http.ResponseWriter, r *http.Request, s *session) {
	h.assignmentAction(w, r, s, h.cfg.Profiles.Unassign)
}

func (h *Handler) removeProfile(w http.ResponseWriter, r *http.Request, s *session) {
	h.done(w, r, s, h.cfg.Profiles.Remove(r.Context(), r.PathValue("profile")), "/admin/profiles")
}

// statusRow is one user's state for a profile, with the user's devices: the status
// is per user, and the devices show which policy version each one last synced under.
type statusRow struct {
	profiles.UserStatus
	Devices []deviceRow
}

// statusPage is the data of a profile's status table.
type statusPage struct {
	Profile string
	Version int
	Policy  string // the policy version devices report for the current version
	States  []profiles.State
	Counts  map[profiles.State]int
	State   string // the filter: one state or "" for all
	Query   string // the filter: part of the address
	Rows    []statusRow
}

func (h *Handler) profileStatus(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	name := r.PathValue("profile")
	p, err := h.cfg.Profiles.Profile(ctx, name)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	all, err := h.cfg.Profiles.Status(ctx, name)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	devs, err := h.cfg.Devices.ListDevices(ctx, "")
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	owners, err := h.owners(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	byUser := map[string][]deviceRow{}
	for _, d := range devs {
		byUser[owners[d.Account]] = append(byUser[owners[d.Account]], deviceRow{d, owners[d.Account]})
	}
	d := statusPage{Profile: p.Name, Version: p.Version, Policy: profiles.PolicyVersion(p.Name, p.Version),
		States: []profiles.State{profiles.Succeeded, profiles.Pending, profiles.Error, profiles.Conflict, profiles.NotApplicable},
		Counts: map[profiles.State]int{}, State: r.URL.Query().Get("state"), Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	for _, st := range all {
		d.Counts[st.State]++
		if d.State != "" && string(st.State) != d.State {
			continue
		}
		if d.Query != "" && !strings.Contains(strings.ToLower(st.User), strings.ToLower(d.Query)) {
			continue
		}
		d.Rows = append(d.Rows, statusRow{st, byUser[st.User]})
	}
	h.page(w, s, "status", "Status of "+p.Name, "profiles", d)
}

// Self-service.

// mePage is the data of a user's own page.
type mePage struct {
	Profile    profiles.Resolution
	Services   autodiscover.Services
	Devices    []deviceRow
	HasProfile bool
	Security   security
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request, s *session) {
	h.showMe(w, r, s, http.StatusOK, func(*mePage) {}, nil)
}

// showMe renders the self-service page with status code, after edit has adjusted its
// data, with errs next to their sections.
func (h *Handler) showMe(w http.ResponseWriter, r *http.Request, s *session, code int, edit func(*mePage), errs map[string]string) {
	ctx := r.Context()
	res, err := h.cfg.Profiles.Resolve(ctx, s.user.ID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	ds, err := h.cfg.Devices.ListDevices(ctx, s.user.Address)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := mePage{Profile: res, Services: h.cfg.Services, HasProfile: res.Profile != ""}
	for _, dev := range ds {
		d.Devices = append(d.Devices, deviceRow{dev, s.user.Address})
	}
	if d.Security, err = h.loadSecurity(ctx, s.user); err != nil {
		h.fail(w, r, s, err)
		return
	}
	edit(&d)
	h.render(w, code, "me", view{Title: "Your account", Section: "me", User: s.user, CSRF: s.csrf, Data: d, Form: r.PostForm, Errors: errs})
}

// downloadProfile delivers the signed profile that applies to the signed-in user and
// records the download, which the status table counts as delivered. A profile with a
// derived credential needs a second factor given in this session within
// profiles.MaxProofAge; without one the user is asked for it (pathVerify).
func (h *Handler) downloadProfile(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.cfg.Profiles.BuildProven(r.Context(), s.user.ID, false, h.proof(s))
	if errors.Is(err, profiles.ErrProofRequired) {
		h.log.Info("self-service: derived credential refused without a recent second factor", "user", s.user.Address)
		h.render(w, http.StatusForbidden, "proof", view{Title: "Two-step verification needed", Section: "me", User: s.user, CSRF: s.csrf,
			Data: err.Error()})
		return
	}
	if err == nil {
		err = h.cfg.Profiles.RecordDownload(r.Context(), d.Profile, d.Version, s.user.ID)
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="mailroom-email.mobileconfig"`)
	w.Write(d.Data)
}

func (h *Handler) myDevice(w http.ResponseWriter, r *http.Request, s *session) {
	h.devicePage(w, r, s, s.user, r.PathValue("device"), "me", false)
}

// Actions on one's own devices name the device only: the owner is always the
// signed-in user, so nobody reaches another user's device from here.

func (h *Handler) myWipe(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("device")
	err := h.cfg.Devices.Wipe(r.Context(), s.user.Address, id, r.PostFormValue("accountOnly") == "on")
	if err == nil {
		h.log.Info("self-service: wipe requested", "user", s.user.Address, "device", id)
	}
	h.done(w, r, s, err, "/me/devices/"+url.PathEscape(id))
}

func (h *Handler) myRemoveDevice(w http.ResponseWriter, r *http.Request, s *session) {
	h.done(w, r, s, h.cfg.Devices.RemoveDevice(r.Context(), s.user.Address, r.PathValue("device")), "/me/")
}
