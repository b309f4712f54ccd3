package adminapi

import (
	"fmt"
	"net/http"
	"strconv"

	"mailroom/internal/activesync"
	"mailroom/internal/directory"
)

// listDevices lists every device, or one user's for users/{user}/devices.
func (a *API) listDevices(r *http.Request, _ directory.User) (int, any, error) {
	ds, err := a.c.Devices.ListDevices(r.Context(), r.PathValue("user"))
	if ds == nil {
		ds = []activesync.Device{}
	}
	return http.StatusOK, ds, err
}

func (a *API) showDevice(r *http.Request, _ directory.User) (int, any, error) {
	d, err := a.c.Devices.Device(r.Context(), r.PathValue("user"), r.PathValue("device"))
	return http.StatusOK, d, err
}

// setAccess answers the allow, block, quarantine and reset routes; reset ("") hands
// the decision back to the access rules.
func (a *API) setAccess(level activesync.Access) handler {
	return func(r *http.Request, admin directory.User) (int, any, error) {
		if err := a.c.Devices.SetAccess(r.Context(), r.PathValue("user"), r.PathValue("device"), level); err != nil {
			return 0, nil, err
		}
		return a.showDevice(r, admin)
	}
}

func (a *API) wipeDevice(r *http.Request, admin directory.User) (int, any, error) {
	var in struct {
		// AccountOnly removes only this account's data (protocol 16.1 devices).
		AccountOnly bool `json:"accountOnly"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	if err := a.c.Devices.Wipe(r.Context(), r.PathValue("user"), r.PathValue("device"), in.AccountOnly); err != nil {
		return 0, nil, inField("accountOnly", err)
	}
	_, d, err := a.showDevice(r, admin)
	return http.StatusAccepted, d, err
}

func (a *API) removeDevice(r *http.Request, _ directory.User) (int, any, error) {
	if err := a.c.Devices.RemoveDevice(r.Context(), r.PathValue("user"), r.PathValue("device")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// accessRules is the access rule set: rules in the order they apply, then the level
// of devices no rule matches.
type accessRules struct {
	Default activesync.Access       `json:"default"`
	Rules   []activesync.AccessRule `json:"rules"`
}

func (a *API) listRules(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	rules, err := a.c.Devices.AccessRules(ctx)
	if err != nil {
		return 0, nil, err
	}
	def, err := a.c.Devices.DefaultAccess(ctx)
	if err != nil {
		return 0, nil, err
	}
	if rules == nil {
		rules = []activesync.AccessRule{}
	}
	return http.StatusOK, accessRules{Default: def, Rules: rules}, nil
}

func (a *API) addRule(r *http.Request, _ directory.User) (int, any, error) {
	var in struct {
		Field   string            `json:"field"`
		Pattern string            `json:"pattern"`
		Access  activesync.Access `json:"access"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	rule, err := a.c.Devices.AddAccessRule(r.Context(), activesync.AccessRule{Field: in.Field, Pattern: in.Pattern, Access: in.Access})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, rule, nil
}

func (a *API) removeRule(r *http.Request, _ directory.User) (int, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, nil, notFound(fmt.Errorf("%q is not an access rule id", r.PathValue("id")))
	}
	if err := a.c.Devices.RemoveAccessRule(r.Context(), id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) setDefaultAccess(r *http.Request, admin directory.User) (int, any, error) {
	var in struct {
		Access activesync.Access `json:"access"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := a.c.Devices.SetDefaultAccess(r.Context(), in.Access); err != nil {
		return 0, nil, err
	}
	return a.listRules(r, admin)
}
