// Package pgtest gives tests a throw-away PostgreSQL: a cluster made with Debian's
// initdb in a temporary directory, listening on 127.0.0.1 and a unix socket there, with
// fsync on, and a fresh database for each test that is dropped afterwards.
//
// A package that runs its whole suite against both engines calls Main from its
// TestMain: the suite runs once as usual (SQLite), then once more in a child process
// whose tests see Enabled() and get their databases from one cluster started for the
// package (MAILROOM_PGTEST_SKIP=1 leaves that pass out). Tests that need PostgreSQL
// only call Start.
//
// It never touches a cluster it did not make, and never the Debian service.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// envAdmin carries the admin DSN of the package's cluster to the child process that
// runs the suite against PostgreSQL.
const envAdmin = "MAILROOM_PGTEST_ADMIN"

// envSkip, set to "1", leaves out Main's second pass: for profiling or benchmarking
// the SQLite engine alone, whose profile the second pass would otherwise overwrite.
const envSkip = "MAILROOM_PGTEST_SKIP"

// Package is the Debian package that provides the server binaries.
const Package = "postgresql"

// Server is a running throw-away cluster.
type Server struct {
	dir   string // owned by the user the server runs as
	bin   string
	port  int
	asPG  bool // running as root: the server runs as the postgres OS user
	admin string
}

// binDir finds the newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install the Debian package %s (and postgresql-contrib for pg_trgm)", Package)
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Available reports why PostgreSQL tests cannot run here, or nil if they can.
func Available() error {
	_, err := binDir()
	return err
}

// StartServer makes and starts a cluster. The caller stops it with Stop.
func StartServer() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailroom-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, asPG: os.Geteuid() == 0}
	if s.asPG {
		// PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres OS user (from the Debian package %s): %w", Package, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if s.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=on -c max_connections=200", s.port, dir)
	if out, err := s.run("pg_ctl", "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "server.log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	s.admin = s.DSN("postgres")
	return s, nil
}

func (s *Server) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN is the connection string of database name on this server.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// Stop stops the cluster at once and removes its files.
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	if err != nil {
		err = fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}

// Database creates an empty database and returns its DSN; cleanup drops it.
func Database(t testing.TB, adminDSN string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Enabled reports whether this process is the PostgreSQL pass of a package's suite
// (see Main).
func Enabled() bool { return os.Getenv(envAdmin) != "" }

// Start returns the DSN of a fresh, empty database for this test. In the PostgreSQL
// pass of a suite it comes from the package's cluster; otherwise a cluster is started
// for this test alone. Without the server binaries the test is skipped.
func Start(t testing.TB) string {
	t.Helper()
	if admin := os.Getenv(envAdmin); admin != "" {
		return Database(t, admin)
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return Database(t, s.admin)
}

// Main runs a package's tests for TestMain: once as they are, then, when the server
// binaries are installed, once more in a child process with Enabled() true and one
// cluster for all its tests. It returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if Enabled() {
		return code
	}
	// A fuzzing run explores one parser; running it again on PostgreSQL adds nothing.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return code
	}
	if os.Getenv(envSkip) == "1" {
		fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL pass skipped: %s=1\n", envSkip)
		return code
	}
	if err := Available(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL pass skipped: %v\n", err)
		return code
	}
	s, err := StartServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	defer s.Stop()
	fmt.Println("== the same tests against PostgreSQL")
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), envAdmin+"="+s.admin)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL pass: %v\n", err)
		return 1
	}
	return code
}
