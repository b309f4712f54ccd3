package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/instance"
)

// withInstance parses a simple command's flags, opens the data directory and runs fn.
func withInstance(ctx context.Context, e *env, name, usage string, args []string, minArgs, maxArgs int,
	fn func(in *instance.Instance, pos []string, asJSON bool) error) error {
	f := newFlags(e, name, usage)
	pos, err := f.parse(args, minArgs, maxArgs)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error { return fn(in, pos, *f.json) })
}

func runAlias(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "alias", []sub{
		{"add", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "alias add", "USER|GROUP ALIAS", args, 2, 2, func(in *instance.Instance, pos []string, _ bool) error {
				if err := in.Directory.AddAlias(ctx, pos[0], pos[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s is now an alias of %s.\n", strings.ToLower(pos[1]), pos[0])
				return nil
			})
		}},
		{"remove", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "alias remove", "ALIAS", args, 1, 1, func(in *instance.Instance, pos []string, _ bool) error {
				if err := in.Directory.RemoveAlias(ctx, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed alias %s.\n", pos[0])
				return nil
			})
		}},
	}, args)
}

func runGroup(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "group", []sub{
		{"add", groupAdd},
		{"list", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "group list", "", args, 0, 0, func(in *instance.Instance, _ []string, asJSON bool) error {
				gs, err := in.Directory.Groups(ctx)
				if err != nil {
					return err
				}
				if gs == nil {
					gs = []directory.Group{}
				}
				return emit(e, asJSON, gs, func(w io.Writer) {
					fmt.Fprintln(w, "GROUP\tADDRESS\tMEMBERS")
					for _, g := range gs {
						fmt.Fprintf(w, "%s\t%s\t%d\n", g.Name, g.Address, len(g.Members))
					}
				})
			})
		}},
		{"show", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "group show", "GROUP", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
				g, err := in.Directory.Group(ctx, pos[0])
				if err != nil {
					return err
				}
				return emit(e, asJSON, g, func(w io.Writer) {
					fmt.Fprintf(w, "Group:\t%s\nAddress:\t%s\nDisplay name:\t%s\nAliases:\t%s\n", g.Name, g.Address, g.DisplayName, strings.Join(g.Aliases, ", "))
					for _, m := range g.Members {
						fmt.Fprintf(w, "Member:\t%s (%s)\n", m.Name, m.Kind)
					}
				})
			})
		}},
		{"remove", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "group remove", "GROUP", args, 1, 1, func(in *instance.Instance, pos []string, _ bool) error {
				if err := in.Directory.RemoveGroup(ctx, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed group %s.\n", pos[0])
				return nil
			})
		}},
		{"member", func(ctx context.Context, e *env, args []string) error {
			return dispatch(ctx, e, "group member", []sub{
				{"add", func(ctx context.Context, e *env, args []string) error {
					return withInstance(ctx, e, "group member add", "GROUP MEMBER", args, 2, 2, func(in *instance.Instance, pos []string, _ bool) error {
						if err := in.Directory.AddMember(ctx, pos[0], pos[1]); err != nil {
							return err
						}
						fmt.Fprintf(e.stdout, "Added %s to %s.\n", pos[1], pos[0])
						return nil
					})
				}},
				{"remove", func(ctx context.Context, e *env, args []string) error {
					return withInstance(ctx, e, "group member remove", "GROUP MEMBER", args, 2, 2, func(in *instance.Instance, pos []string, _ bool) error {
						if err := in.Directory.RemoveMember(ctx, pos[0], pos[1]); err != nil {
							return err
						}
						fmt.Fprintf(e.stdout, "Removed %s from %s.\n", pos[1], pos[0])
						return nil
					})
				}},
			}, args)
		}},
	}, args)
}

func groupAdd(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "group add", "[--address ADDRESS] [--display-name NAME] NAME")
	address := f.String("address", "", "address that makes the group a distribution list")
	display := f.String("display-name", "", "display name")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		g, err := in.Directory.AddGroup(ctx, pos[0], *address, *display)
		if err != nil {
			return err
		}
		return emit(e, *f.json, g, func(w io.Writer) { fmt.Fprintf(w, "Added group %s.\n", g.Name) })
	})
}

func runShared(ctx context.Context, e *env, args []string) error {
	grant := func(verb string, apply func(d *directory.Directory, mailbox, user string, r directory.Right) error) sub {
		return sub{verb, func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "shared "+verb, "MAILBOX USER FullAccess|SendAs", args, 3, 3, func(in *instance.Instance, pos []string, _ bool) error {
				if err := apply(in.Directory, pos[0], pos[1], directory.Right(pos[2])); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s %s: %s on %s.\n", strings.ToUpper(verb[:1])+verb[1:], pos[1], pos[2], pos[0])
				return nil
			})
		}}
	}
	return dispatch(ctx, e, "shared", []sub{
		{"add", func(ctx context.Context, e *env, args []string) error {
			return userAdd(ctx, e, append([]string{"--shared"}, args...))
		}},
		grant("grant", func(d *directory.Directory, mb, u string, r directory.Right) error { return d.Grant(ctx, mb, u, r) }),
		grant("revoke", func(d *directory.Directory, mb, u string, r directory.Right) error { return d.Revoke(ctx, mb, u, r) }),
		{"show", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "shared show", "MAILBOX", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
				gs, err := in.Directory.Grants(ctx, pos[0])
				if err != nil {
					return err
				}
				if gs == nil {
					gs = []directory.Grant{}
				}
				return emit(e, asJSON, gs, func(w io.Writer) {
					fmt.Fprintln(w, "USER\tRIGHTS")
					for _, g := range gs {
						fmt.Fprintf(w, "%s\t%v\n", g.User.Address, g.Rights)
					}
				})
			})
		}},
	}, args)
}
