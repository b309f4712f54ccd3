package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"mailroom/internal/activesync"
	"mailroom/internal/instance"
	"mailroom/internal/server"
)

// withDevices opens the data directory and its ActiveSync device registry.
func withDevices(ctx context.Context, e *env, name, usage string, args []string, minArgs, maxArgs int,
	fn func(eas *activesync.Server, pos []string, asJSON bool) error) error {
	return withInstance(ctx, e, name, usage, args, minArgs, maxArgs, func(in *instance.Instance, pos []string, asJSON bool) error {
		eas, err := server.ActiveSync(ctx, in, logger(e, levelWarn))
		if err != nil {
			return err
		}
		return fn(eas, pos, asJSON)
	})
}

func runDevice(ctx context.Context, e *env, args []string) error {
	access := func(a activesync.Access, verb string) sub {
		return sub{verb, func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device "+verb, "USER DEVICEID", args, 2, 2, func(eas *activesync.Server, pos []string, _ bool) error {
				if err := eas.SetAccess(ctx, pos[0], pos[1], a); err != nil {
					return err
				}
				if a == "" {
					fmt.Fprintf(e.stdout, "Device %s of %s follows the access rules again.\n", pos[1], pos[0])
				} else {
					fmt.Fprintf(e.stdout, "Device %s of %s: %s.\n", pos[1], pos[0], a)
				}
				return nil
			})
		}}
	}
	return dispatch(ctx, e, "device", []sub{
		{"list", func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device list", "[USER]", args, 0, 1, func(eas *activesync.Server, pos []string, asJSON bool) error {
				user := ""
				if len(pos) == 1 {
					user = pos[0]
				}
				ds, err := eas.ListDevices(ctx, user)
				if err != nil {
					return err
				}
				if ds == nil {
					ds = []activesync.Device{}
				}
				return emit(e, asJSON, ds, func(w io.Writer) {
					fmt.Fprintln(w, "ACCOUNT\tDEVICE\tTYPE\tMODEL\tACCESS\tWIPE\tLAST SYNC")
					for _, d := range ds {
						fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Account, d.DeviceID, d.DeviceType, d.Model, d.Access, d.Wipe, d.LastSync.Format(time.DateTime))
					}
				})
			})
		}},
		{"show", func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device show", "USER DEVICEID", args, 2, 2, func(eas *activesync.Server, pos []string, asJSON bool) error {
				d, err := eas.Device(ctx, pos[0], pos[1])
				if err != nil {
					return err
				}
				return emit(e, asJSON, d, func(w io.Writer) {
					fmt.Fprintf(w, "Device:\t%s (%s)\nModel:\t%s\nOS:\t%s\nUser agent:\t%s\nProtocol:\t%s\n", d.DeviceID, d.DeviceType, d.Model, d.OS, d.UserAgent, d.Version)
					fmt.Fprintf(w, "First sync:\t%s\nLast sync:\t%s\nPolicy key:\t%d (status %d)\nAccess:\t%s (%s)\nWipe:\t%s\n",
						d.FirstSync.Format(time.DateTime), d.LastSync.Format(time.DateTime), d.PolicyKey, d.PolicyStatus, d.Access, d.AccessBy, d.Wipe)
				})
			})
		}},
		access(activesync.AccessAllow, "allow"),
		access(activesync.AccessBlock, "block"),
		access(activesync.AccessQuarantine, "quarantine"),
		access("", "reset"),
		{"wipe", func(ctx context.Context, e *env, args []string) error {
			f := newFlags(e, "device wipe", "[--account-only] USER DEVICEID")
			accountOnly := f.Bool("account-only", false, "remove only this account's data from the device (protocol 16.1)")
			pos, err := f.parse(args, 2, 2)
			if err != nil {
				return err
			}
			return f.with(ctx, e, func(in *instance.Instance) error {
				eas, err := server.ActiveSync(ctx, in, logger(e, levelWarn))
				if err != nil {
					return err
				}
				if err := eas.Wipe(ctx, pos[0], pos[1], *accountOnly); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Wipe of device %s of %s is pending: it happens when the device next connects.\n", pos[1], pos[0])
				return nil
			})
		}},
		{"remove", func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device remove", "USER DEVICEID", args, 2, 2, func(eas *activesync.Server, pos []string, _ bool) error {
				if err := eas.RemoveDevice(ctx, pos[0], pos[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed device %s of %s.\n", pos[1], pos[0])
				return nil
			})
		}},
		{"rule", runDeviceRule},
	}, args)
}

// runDeviceRule manages the allow/block/quarantine rules by device type or user agent
// (Exchange's ABQ) and the default access level.
func runDeviceRule(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "device rule", []sub{
		{"add", func(ctx context.Context, e *env, args []string) error {
			f := newFlags(e, "device rule add", "--field device-type|user-agent --pattern PATTERN --access allow|block|quarantine")
			field := f.String("field", "device-type", "what the pattern matches: device-type or user-agent")
			pattern := f.String("pattern", "", "case-insensitive pattern; a trailing * matches any rest")
			access := f.String("access", "", "allow, block or quarantine")
			if _, err := f.parse(args, 0, 0); err != nil {
				return err
			}
			return f.with(ctx, e, func(in *instance.Instance) error {
				eas, err := server.ActiveSync(ctx, in, logger(e, levelWarn))
				if err != nil {
					return err
				}
				r, err := eas.AddAccessRule(ctx, activesync.AccessRule{Field: *field, Pattern: *pattern, Access: activesync.Access(*access)})
				if err != nil {
					return err
				}
				return emit(e, *f.json, r, func(w io.Writer) { fmt.Fprintf(w, "Added rule %d.\n", r.ID) })
			})
		}},
		{"list", func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device rule list", "", args, 0, 0, func(eas *activesync.Server, _ []string, asJSON bool) error {
				rules, err := eas.AccessRules(ctx)
				if err != nil {
					return err
				}
				def, err := eas.DefaultAccess(ctx)
				if err != nil {
					return err
				}
				out := struct {
					Default activesync.Access       `json:"default"`
					Rules   []activesync.AccessRule `json:"rules"`
				}{def, rules}
				if out.Rules == nil {
					out.Rules = []activesync.AccessRule{}
				}
				return emit(e, asJSON, out, func(w io.Writer) {
					fmt.Fprintln(w, "ID\tFIELD\tPATTERN\tACCESS")
					for _, r := range rules {
						fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", r.ID, r.Field, r.Pattern, r.Access)
					}
					fmt.Fprintf(w, "default\t\t\t%s\n", def)
				})
			})
		}},
		{"remove", func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device rule remove", "ID", args, 1, 1, func(eas *activesync.Server, pos []string, _ bool) error {
				id, err := strconv.ParseInt(pos[0], 10, 64)
				if err != nil {
					return usageErr("%q is not a rule id (see 'mailroom device rule list')", pos[0])
				}
				if err := eas.RemoveAccessRule(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed rule %d.\n", id)
				return nil
			})
		}},
		{"default", func(ctx context.Context, e *env, args []string) error {
			return withDevices(ctx, e, "device rule default", "allow|block|quarantine", args, 1, 1, func(eas *activesync.Server, pos []string, _ bool) error {
				if err := eas.SetDefaultAccess(ctx, activesync.Access(pos[0])); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Devices no rule matches: %s.\n", pos[0])
				return nil
			})
		}},
	}, args)
}
