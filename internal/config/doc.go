// Package config reads Mailroom's configuration file, mailroom.toml, and
// validates it once into typed values whose errors point at the file, line
// and key at fault; it never opens sockets, certificates or databases, and
// nothing else in Mailroom reads the file or the environment after start-up.
package config
