package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"mailroom/internal/instance"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/server"
)

func runProfile(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "profile", []sub{
		{"create", func(ctx context.Context, e *env, args []string) error { return profileSave(ctx, e, "create", args) }},
		{"update", func(ctx context.Context, e *env, args []string) error { return profileSave(ctx, e, "update", args) }},
		{"show", profileShow},
		{"list", profileList},
		{"remove", func(ctx context.Context, e *env, args []string) error {
			return withProfiles(ctx, e, "profile remove", "NAME", args, 1, 1, func(svc *profiles.Service, _ *pki.CA, pos []string, _ bool) error {
				if err := svc.Remove(ctx, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed e-mail profile %s.\n", pos[0])
				return nil
			})
		}},
		{"assign", profileAssign},
		{"unassign", func(ctx context.Context, e *env, args []string) error {
			return withProfiles(ctx, e, "profile unassign", "NAME GROUP", args, 2, 2, func(svc *profiles.Service, _ *pki.CA, pos []string, _ bool) error {
				if err := svc.Unassign(ctx, pos[0], pos[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Unassigned %s from group %s.\n", pos[0], pos[1])
				return nil
			})
		}},
		{"render", profileRender},
		{"status", profileStatus},
		{"vpn", profileVPN},
		{"cert", runCert}, // the same as "mailroom cert" (cert.go)
	}, args)
}

// withProfiles is withInstance with the profile service and the CA opened too.
func withProfiles(ctx context.Context, e *env, name, usage string, args []string, minArgs, maxArgs int,
	fn func(svc *profiles.Service, ca *pki.CA, pos []string, asJSON bool) error) error {
	return withInstance(ctx, e, name, usage, args, minArgs, maxArgs, func(in *instance.Instance, pos []string, asJSON bool) error {
		svc, ca, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		return fn(svc, ca, pos, asJSON)
	})
}

// settingFlag is one --flag for a profile setting. Flags are applied after the
// defaults (create), the current version (update) and --from-json, so a flag given
// wins and one not given changes nothing.
type settingFlag struct {
	name, usage string
	isBool      bool
	set         func(s *profiles.Settings, v string)
	value       string
	seen        bool
}

func (f *settingFlag) String() string   { return f.value }
func (f *settingFlag) IsBoolFlag() bool { return f.isBool }
func (f *settingFlag) Set(v string) error {
	if f.isBool {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("want true or false")
		}
	}
	f.value, f.seen = v, true
	return nil
}

func enumFlag[T ~string](name, usage string, field func(*profiles.Settings) *T) *settingFlag {
	return &settingFlag{name: name, usage: usage, set: func(s *profiles.Settings, v string) { *field(s) = T(v) }}
}

func boolFlag(name, usage string, field func(*profiles.Settings) *bool) *settingFlag {
	return &settingFlag{name: name, usage: usage, isBool: true, set: func(s *profiles.Settings, v string) {
		*field(s), _ = strconv.ParseBool(v)
	}}
}

// settingFlags lists a flag for every setting, in the order of Intune's page.
func settingFlags() []*settingFlag {
	type S = profiles.Settings
	return []*settingFlag{
		enumFlag("host", "Email server: the ActiveSync host name", func(s *S) *string { return &s.Host }),
		enumFlag("account-name", "Account name shown on the device", func(s *S) *string { return &s.AccountName }),
		enumFlag("username", "Username attribute: upn, primary-smtp or sam", func(s *S) *profiles.UsernameSource { return &s.UsernameSource }),
		enumFlag("user-domain", "User domain name source for sam: full-domain, netbios or custom", func(s *S) *profiles.DomainSource { return &s.DomainSource }),
		enumFlag("custom-domain", "Custom domain name for --user-domain custom", func(s *S) *string { return &s.CustomDomain }),
		enumFlag("email-address", "Email address attribute: upn or primary-smtp", func(s *S) *profiles.EmailSource { return &s.EmailSource }),
		enumFlag("auth", "Authentication method: username-password, certificate or derived-credential", func(s *S) *profiles.AuthMethod { return &s.Auth }),
		enumFlag("client-certificate", "certificate source for --auth certificate: mailroom-ca (PKCS #12) or mailroom-scep (the device enrols)", func(s *S) *profiles.CertSource { return &s.ClientCertificate }),
		boolFlag("ssl", "SSL", func(s *S) *bool { return &s.SSL }),
		boolFlag("oauth", "OAuth", func(s *S) *bool { return &s.OAuth }),
		enumFlag("sync", "Exchange data to sync: all, email, calendar, calendar-contacts or contacts", func(s *S) *profiles.DataToSync { return &s.DataToSync }),
		boolFlag("allow-sync-changes", "Allow users to change sync settings", func(s *S) *bool { return &s.AllowSyncChanges }),
		boolFlag("smime", "S/MIME", func(s *S) *bool { return &s.SMIME }),
		boolFlag("smime-signing", "S/MIME signing enabled", func(s *S) *bool { return &s.SigningEnabled }),
		boolFlag("smime-signing-user-override", "allow the user to change signing", func(s *S) *bool { return &s.SigningUserOverride }),
		enumFlag("smime-signing-cert-type", "signing certificate type: not-configured, none, derived-credential or certificate", func(s *S) *profiles.CertType { return &s.SigningCertType }),
		enumFlag("smime-signing-cert", "signing certificate source for type certificate: mailroom-ca", func(s *S) *profiles.CertSource { return &s.SigningCertificate }),
		boolFlag("smime-signing-cert-user-override", "allow the user to change the signing certificate", func(s *S) *bool { return &s.SigningCertUserOverride }),
		boolFlag("smime-encrypt-by-default", "Encrypt by default", func(s *S) *bool { return &s.EncryptByDefault }),
		boolFlag("smime-encrypt-by-default-user-override", "allow the user to change encrypt by default", func(s *S) *bool { return &s.EncryptByDefaultOverride }),
		boolFlag("smime-per-message-switch", "Force per-message encryption (show the per-message switch)", func(s *S) *bool { return &s.PerMessageSwitch }),
		enumFlag("smime-encryption-cert-type", "encryption certificate type: not-configured, none, derived-credential or certificate", func(s *S) *profiles.CertType { return &s.EncryptionCertType }),
		enumFlag("smime-encryption-cert", "encryption certificate source for type certificate: mailroom-ca", func(s *S) *profiles.CertSource { return &s.EncryptionCertificate }),
		boolFlag("smime-encryption-cert-user-override", "allow the user to change the encryption certificate", func(s *S) *bool { return &s.EncryptionCertUserOverride }),
		enumFlag("mail-days", "Amount of email to synchronize: user-defined, 1, 3, 7, 14, 31 or unlimited", func(s *S) *profiles.MailDays { return &s.MailDays }),
		boolFlag("allow-move", "Allow messages to be moved to other email accounts", func(s *S) *bool { return &s.AllowMove }),
		boolFlag("allow-third-party-send", "Allow email to be sent from third-party applications", func(s *S) *bool { return &s.AllowThirdPartySend }),
		boolFlag("sync-recents", "Synchronize recently used email addresses", func(s *S) *bool { return &s.SyncRecents }),
		enumFlag("vpn", "VPN profile for per-account VPN (a name from 'profile vpn list'; empty for none)", func(s *S) *string { return &s.VPN }),
	}
}

// profileSave is create and update: settings from the defaults or the current
// version, then --from-json, then the flags given.
func profileSave(ctx context.Context, e *env, verb string, args []string) error {
	f := newFlags(e, "profile "+verb, "[--from-json FILE|-] [setting flags] NAME")
	fromJSON := f.String("from-json", "", "read settings as JSON from FILE, or standard input for -; flags given override them")
	flags := settingFlags()
	for _, sf := range flags {
		f.Var(sf, sf.name, sf.usage)
	}
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		svc, _, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		st := profiles.DefaultSettings()
		if verb == "update" {
			cur, err := svc.Profile(ctx, pos[0])
			if err != nil {
				return err
			}
			st = cur.Settings
		}
		if *fromJSON != "" {
			if err := readSettings(e, *fromJSON, &st); err != nil {
				return err
			}
		}
		for _, sf := range flags {
			if sf.seen {
				sf.set(&st, sf.value)
			}
		}
		var p profiles.Profile
		if verb == "create" {
			p, err = svc.Create(ctx, pos[0], st)
		} else {
			p, err = svc.Update(ctx, pos[0], st)
		}
		if err != nil {
			return err
		}
		return emit(e, *f.json, p, func(w io.Writer) {
			fmt.Fprintf(w, "E-mail profile %s is at version %d.\n", p.Name, p.Version)
		})
	})
}

// readSettings decodes JSON settings onto st; a key that is no setting is an error,
// so a typo does not pass silently.
func readSettings(e *env, file string, st *profiles.Settings) error {
	var r io.Reader = e.stdin
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(st); err != nil {
		return fmt.Errorf("settings from %s: %w", file, err)
	}
	return nil
}

func profileShow(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "profile show", "[--versions] NAME")
	versions := f.Bool("versions", false, "list every saved version instead")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		svc, _, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		if *versions {
			vs, err := svc.Versions(ctx, pos[0])
			if err != nil {
				return err
			}
			return emit(e, *f.json, vs, func(w io.Writer) {
				fmt.Fprintln(w, "VERSION\tSAVED\tHOST\tAUTH")
				for _, v := range vs {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", v.Version, v.Created.Format("2006-01-02 15:04:05"), v.Settings.Host, v.Settings.Auth)
				}
			})
		}
		p, err := svc.Profile(ctx, pos[0])
		if err != nil {
			return err
		}
		return emit(e, *f.json, p, func(w io.Writer) {
			fmt.Fprintf(w, "Profile:\t%s\nVersion:\t%d (saved %s)\n", p.Name, p.Version, p.Updated.Format("2006-01-02 15:04:05"))
			for _, a := range p.Assignments {
				fmt.Fprintf(w, "Assigned:\t%s %s\n", a.Mode, a.Group)
			}
			printSettings(w, p.Settings)
		})
	})
}

// printSettings lists the settings by their JSON names, the same names --from-json
// takes.
func printSettings(w io.Writer, s profiles.Settings) {
	b, _ := json.Marshal(s)
	var m map[string]any
	json.Unmarshal(b, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s:\t%v\n", k, m[k])
	}
}

func profileList(ctx context.Context, e *env, args []string) error {
	return withProfiles(ctx, e, "profile list", "", args, 0, 0, func(svc *profiles.Service, _ *pki.CA, _ []string, asJSON bool) error {
		ps, err := svc.Profiles(ctx)
		if err != nil {
			return err
		}
		return emit(e, asJSON, ps, func(w io.Writer) {
			fmt.Fprintln(w, "PROFILE\tVERSION\tHOST\tASSIGNED")
			for _, p := range ps {
				var as []string
				for _, a := range p.Assignments {
					as = append(as, string(a.Mode)+" "+a.Group)
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", p.Name, p.Version, p.Settings.Host, strings.Join(as, ", "))
			}
		})
	})
}

func profileAssign(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "profile assign", "[--exclude] NAME GROUP")
	exclude := f.Bool("exclude", false, "exclude the group's members (an exclusion wins over any inclusion)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		svc, _, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		mode := profiles.Include
		if *exclude {
			mode = profiles.Exclude
		}
		if err := svc.Assign(ctx, pos[0], pos[1], mode); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Profile %s: %s group %s.\n", pos[0], mode, pos[1])
		return nil
	})
}

// profileRender writes the profile that applies to a user. It is an export for the
// administrator, not a download: status does not count it as delivered.
func profileRender(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "profile render", "--user ADDRESS --out FILE [--unsigned]")
	user := f.String("user", "", "the user (address, UPN or DOMAIN\\sam)")
	out := f.String("out", "", "file to write the .mobileconfig to, - for standard output")
	unsigned := f.Bool("unsigned", false, "write the plain XML profile instead of the signed one")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *user == "" || *out == "" {
		return usageErr("--user and --out are required")
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		svc, _, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		u, err := in.Directory.User(ctx, *user)
		if err != nil {
			return err
		}
		d, err := svc.Build(ctx, u.ID, *unsigned)
		if err != nil {
			return err
		}
		if *out == "-" {
			_, err := e.stdout.Write(d.Data)
			return err
		}
		if err := os.WriteFile(*out, d.Data, 0o600); err != nil {
			return err
		}
		signed := "unsigned"
		if d.Signed {
			signed = "signed"
		}
		fmt.Fprintf(e.stderr, "Wrote %s e-mail profile %s version %d for %s to %s.\n", signed, d.Profile, d.Version, u.Address, *out)
		return nil
	})
}

func profileStatus(ctx context.Context, e *env, args []string) error {
	return withProfiles(ctx, e, "profile status", "NAME", args, 1, 1, func(svc *profiles.Service, _ *pki.CA, pos []string, asJSON bool) error {
		st, err := svc.Status(ctx, pos[0])
		if err != nil {
			return err
		}
		return emit(e, asJSON, st, func(w io.Writer) {
			fmt.Fprintln(w, "USER\tSTATE\tREASON")
			for _, s := range st {
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.User, s.State, s.Reason)
			}
		})
	})
}

func profileVPN(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "profile vpn", []sub{
		{"add", func(ctx context.Context, e *env, args []string) error {
			return withProfiles(ctx, e, "profile vpn add", "NAME FILE", args, 2, 2, func(svc *profiles.Service, _ *pki.CA, pos []string, asJSON bool) error {
				data, err := os.ReadFile(pos[1])
				if err != nil {
					return err
				}
				v, err := svc.AddVPN(ctx, pos[0], data)
				if err != nil {
					return err
				}
				return emit(e, asJSON, v, func(w io.Writer) {
					fmt.Fprintf(w, "Registered VPN profile %s (VPNUUID %s).\n", v.Name, v.VPNUUID)
				})
			})
		}},
		{"list", func(ctx context.Context, e *env, args []string) error {
			return withProfiles(ctx, e, "profile vpn list", "", args, 0, 0, func(svc *profiles.Service, _ *pki.CA, _ []string, asJSON bool) error {
				vs, err := svc.VPNs(ctx)
				if err != nil {
					return err
				}
				return emit(e, asJSON, vs, func(w io.Writer) {
					fmt.Fprintln(w, "VPN\tVPNUUID\tPAYLOAD UUID")
					for _, v := range vs {
						fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, v.VPNUUID, v.PayloadUUID)
					}
				})
			})
		}},
		{"remove", func(ctx context.Context, e *env, args []string) error {
			return withProfiles(ctx, e, "profile vpn remove", "NAME", args, 1, 1, func(svc *profiles.Service, _ *pki.CA, pos []string, _ bool) error {
				if err := svc.RemoveVPN(ctx, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed VPN profile %s.\n", pos[0])
				return nil
			})
		}},
	}, args)
}
