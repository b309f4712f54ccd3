package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"mailroom/internal/activesync"
	"mailroom/internal/directory"
	"mailroom/internal/profiles"
)

func (a *API) listProfiles(r *http.Request, _ directory.User) (int, any, error) {
	ps, err := a.c.Profiles.Profiles(r.Context())
	return http.StatusOK, ps, err
}

// dryRun reads ?dryRun=true: check the request and save nothing.
func dryRun(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("dryRun")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("dryRun", "dryRun=%q is neither true nor false", v)
	}
	return b, nil
}

// validation is the answer to a dry run that found nothing wrong.
type validation struct {
	Valid    bool              `json:"valid"`
	Name     string            `json:"name"`
	Settings profiles.Settings `json:"settings"`
}

// checkSettings validates settings as the profile service does before it saves them:
// every setting on its own, then that the VPN profile named exists.
func (a *API) checkSettings(ctx context.Context, st profiles.Settings) error {
	err := st.Validate(a.c.ProfileConfig)
	if st.VPN != "" {
		if _, verr := a.c.Profiles.VPN(ctx, st.VPN); errors.Is(verr, profiles.ErrNotFound) {
			err = errors.Join(err, &profiles.SettingError{Setting: profiles.SettingVPN,
				Problem: fmt.Sprintf("no VPN profile named %q is registered", st.VPN)})
		} else if verr != nil {
			return verr
		}
	}
	return err
}

func (a *API) createProfile(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	dry, err := dryRun(r)
	if err != nil {
		return 0, nil, err
	}
	// Settings left out take Intune's defaults.
	in := struct {
		Name     string            `json:"name"`
		Settings profiles.Settings `json:"settings"`
	}{Settings: profiles.DefaultSettings()}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if !dry {
		p, err := a.c.Profiles.Create(ctx, in.Name, in.Settings)
		if err != nil {
			return 0, nil, inField("name", err)
		}
		return http.StatusCreated, p, nil
	}
	if _, err := a.c.Profiles.Profile(ctx, in.Name); err == nil {
		return 0, nil, fmt.Errorf("%w: a profile named %q", profiles.ErrExists, in.Name)
	} else if !errors.Is(err, profiles.ErrNotFound) {
		return 0, nil, err
	}
	if err := a.checkSettings(ctx, in.Settings); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, validation{Valid: true, Name: in.Name, Settings: in.Settings}, nil
}

func (a *API) showProfile(r *http.Request, _ directory.User) (int, any, error) {
	p, err := a.c.Profiles.Profile(r.Context(), r.PathValue("profile"))
	return http.StatusOK, p, err
}

// updateProfile replaces the settings: those left out take Intune's defaults, as on
// create, so the body alone says what the new version is.
func (a *API) updateProfile(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	dry, err := dryRun(r)
	if err != nil {
		return 0, nil, err
	}
	in := struct {
		Settings profiles.Settings `json:"settings"`
	}{Settings: profiles.DefaultSettings()}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("profile")
	if !dry {
		p, err := a.c.Profiles.Update(ctx, name, in.Settings)
		return http.StatusOK, p, err
	}
	cur, err := a.c.Profiles.Profile(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	if err := a.checkSettings(ctx, in.Settings); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, validation{Valid: true, Name: cur.Name, Settings: in.Settings}, nil
}

func (a *API) removeProfile(r *http.Request, _ directory.User) (int, any, error) {
	if err := a.c.Profiles.Remove(r.Context(), r.PathValue("profile")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) profileVersions(r *http.Request, _ directory.User) (int, any, error) {
	vs, err := a.c.Profiles.Versions(r.Context(), r.PathValue("profile"))
	return http.StatusOK, vs, err
}

func (a *API) assignProfile(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	in := struct {
		Group string        `json:"group"`
		Mode  profiles.Mode `json:"mode"`
	}{Mode: profiles.Include}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("profile")
	if _, err := a.c.Profiles.Profile(ctx, name); err != nil {
		return 0, nil, err
	}
	if err := a.c.Profiles.Assign(ctx, name, in.Group, in.Mode); err != nil {
		// The profile exists, so a group that is not found is the body's mistake.
		if errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrInvalid) {
			err = &requestError{status: http.StatusBadRequest, field: "group", err: err}
		}
		return 0, nil, err
	}
	p, err := a.c.Profiles.Profile(ctx, name)
	return http.StatusCreated, p, err
}

func (a *API) unassignProfile(r *http.Request, _ directory.User) (int, any, error) {
	if err := a.c.Profiles.Unassign(r.Context(), r.PathValue("profile"), r.PathValue("group")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// statusRow is one user's state for a profile with the user's devices.
type statusRow struct {
	profiles.UserStatus
	Devices []deviceStatus `json:"devices"`
}

// deviceStatus is one ActiveSync device of the user: the profile policy it last
// provisioned under, and whether that is the profile's current version.
type deviceStatus struct {
	DeviceID      string    `json:"deviceId"`
	DeviceType    string    `json:"deviceType"`
	Model         string    `json:"model,omitempty"`
	LastSync      time.Time `json:"lastSync"`
	ProfilePolicy string    `json:"profilePolicy,omitempty"`
	Current       bool      `json:"current"`
}

func (a *API) profileStatus(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	want := profiles.State(r.URL.Query().Get("state"))
	states := []profiles.State{profiles.Succeeded, profiles.Pending, profiles.Error, profiles.Conflict, profiles.NotApplicable}
	if want != "" && !slices.Contains(states, want) {
		return 0, nil, badRequest("state", "state %q is not one of %v", want, states)
	}
	p, err := a.c.Profiles.Profile(ctx, r.PathValue("profile"))
	if err != nil {
		return 0, nil, err
	}
	sts, err := a.c.Profiles.Status(ctx, p.Name)
	if err != nil {
		return 0, nil, err
	}
	users, err := a.c.Directory.Users(ctx)
	if err != nil {
		return 0, nil, err
	}
	ids := make(map[string]int64, len(users))
	for _, u := range users {
		ids[u.Address] = u.ID
	}
	devices, err := a.c.Devices.ListDevices(ctx, "")
	if err != nil {
		return 0, nil, err
	}
	byUser := make(map[int64][]activesync.Device)
	for _, d := range devices {
		byUser[int64(d.Account)] = append(byUser[int64(d.Account)], d)
	}
	current := profiles.PolicyVersion(p.Name, p.Version)
	out := []statusRow{}
	for _, st := range sts {
		if want != "" && st.State != want {
			continue
		}
		row := statusRow{UserStatus: st, Devices: []deviceStatus{}}
		for _, d := range byUser[ids[st.User]] {
			row.Devices = append(row.Devices, deviceStatus{DeviceID: d.DeviceID, DeviceType: d.DeviceType, Model: d.Model,
				LastSync: d.LastSync, ProfilePolicy: d.ProfilePolicy, Current: d.ProfilePolicy == current})
		}
		out = append(out, row)
	}
	return http.StatusOK, out, nil
}
