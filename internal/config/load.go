package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// file mirrors mailroom.toml. Pointers tell a key that is absent (keep the
// default) from one set to an empty value (an empty list disables a listener).
type file struct {
	Hostname *string    `toml:"hostname"`
	Log      *fileLog   `toml:"log"`
	Store    *fileStore `toml:"store"`
	TLS      *fileTLS   `toml:"tls"`
	SMTP     *fileSMTP  `toml:"smtp"`
	IMAP     *filePair  `toml:"imap"`
	POP3     *filePair  `toml:"pop3"`
	HTTP     *filePair  `toml:"http"`
	DNS      *fileDNS   `toml:"dns"`
	Queue    *fileQueue `toml:"queue"`
	Limits   *fileLimit `toml:"limits"`
}

type fileLog struct {
	Level  *string `toml:"level"`
	Format *string `toml:"format"`
}

type fileStore struct {
	Backend *string `toml:"backend"`
	Path    *string `toml:"path"`
	Blobs   *string `toml:"blobs"`
	DSN     *string `toml:"dsn"`
}

type fileTLS struct {
	Cert  *string         `toml:"cert"`
	Key   *string         `toml:"key"`
	Extra *[]fileCertPair `toml:"extra"`
}

type fileCertPair struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

type fileSMTP struct {
	Listen      *[]string `toml:"listen"`
	Submission  *[]string `toml:"submission"`
	Submissions *[]string `toml:"submissions"`
	// Either an integer or a string; the schema check has already ruled out
	// other kinds by the time this is read.
	MaxMessageSize any  `toml:"max_message_size"`
	RelayPort      *int `toml:"relay_port"`
}

type filePair struct {
	Listen    *[]string `toml:"listen"`
	TLSListen *[]string `toml:"tls_listen"`
}

type fileDNS struct {
	Resolver *string `toml:"resolver"`
}

type fileQueue struct {
	Timeout *string `toml:"timeout"`
}

type fileLimit struct {
	ShutdownTimeout *string `toml:"shutdown_timeout"`
}

// Load reads, decodes and validates the configuration file at path. Keys
// missing from the file keep their Default values; Dir is the file's
// directory, against which Path resolves relative paths. Configuration
// problems are *Error values (several are joined with errors.Join); a file
// that cannot be read is returned wrapped, so errors.Is(err, fs.ErrNotExist) works.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, errs := parse(data, filepath.Dir(path))
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		for _, e := range errs {
			e.File = path
		}
		return Config{}, joinErrors(errs)
	}
	return c, nil
}

// parse turns the document into a validated Config, or lists every problem
// it can find before the first one that stops it.
func parse(data []byte, dir string) (Config, []*Error) {
	var f file
	idx, err := indexDocument(data)
	if err != nil {
		// The decoder meets the same syntax error and positions it.
		if err := decode(data, &f); err != nil {
			return Config{}, decodeErrors(err)
		}
		return Config{}, []*Error{parserError(data, err)}
	}
	if errs := idx.typeErrors(); len(errs) > 0 {
		return Config{}, errs
	}
	if err := decode(data, &f); err != nil {
		return Config{}, decodeErrors(err)
	}
	c := Default(dir, "")
	errs := f.apply(&c)
	for _, e := range errs {
		e.Line = idx.lineOf(e.Key)
	}
	errs = append(errs, c.validate(idx.lineOf)...)
	return c, errs
}

// decode fills f in strict mode, so that a key Mailroom does not know, most
// often a misspelt one, is an error rather than silently ignored.
func decode(data []byte, f *file) error {
	return toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(f)
}

// decodeErrors converts the decoder's errors, which carry positions: syntax
// errors, unknown keys, and keys or tables defined twice.
func decodeErrors(err error) []*Error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]*Error, 0, len(strict.Errors))
		for i := range strict.Errors {
			line, _ := strict.Errors[i].Position()
			errs = append(errs, &Error{Line: line, Key: strings.Join(strict.Errors[i].Key(), "."), Msg: "unknown key", Err: ErrUnknownKey})
		}
		return errs
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return []*Error{{Line: line, Key: strings.Join(de.Key(), "."), Msg: strings.TrimPrefix(de.Error(), "toml: "), Err: ErrSyntax}}
	}
	return []*Error{{Msg: err.Error(), Err: ErrSyntax}}
}

// parserError locates a syntax error of go-toml's parser by its highlight,
// the slice of data it complains about, for the case where the decoder,
// which shares the parser, unexpectedly accepts the document.
func parserError(data []byte, err error) *Error {
	e := &Error{Msg: err.Error(), Err: ErrSyntax}
	var pe *unstable.ParserError
	if errors.As(err, &pe) {
		e.Msg = pe.Message
		if off := cap(data) - cap(pe.Highlight); pe.Highlight != nil && off >= 0 && off <= len(data) {
			e.Line = newLineTable(data).line(off)
		}
	}
	return e
}

// apply overlays the values present in the file on c, converting sizes and
// durations; problems carry their key, and parse adds the line.
func (f *file) apply(c *Config) []*Error {
	var errs []*Error
	setString(&c.Hostname, f.Hostname)
	if f.Log != nil {
		setString(&c.Log.Level, f.Log.Level)
		setString(&c.Log.Format, f.Log.Format)
	}
	if f.Store != nil {
		setString(&c.Store.Backend, f.Store.Backend)
		setString(&c.Store.Path, f.Store.Path)
		setString(&c.Store.Blobs, f.Store.Blobs)
		setString(&c.Store.DSN, f.Store.DSN)
	}
	if f.TLS != nil {
		setString(&c.TLS.Cert, f.TLS.Cert)
		setString(&c.TLS.Key, f.TLS.Key)
		if f.TLS.Extra != nil {
			c.TLS.Extra = nil
			for _, p := range *f.TLS.Extra {
				c.TLS.Extra = append(c.TLS.Extra, Pair(p))
			}
		}
	}
	if f.SMTP != nil {
		setList(&c.SMTP.Listen, f.SMTP.Listen)
		setList(&c.SMTP.Submission, f.SMTP.Submission)
		setList(&c.SMTP.Submissions, f.SMTP.Submissions)
		if err := setSize(&c.SMTP.MaxMessageSize, f.SMTP.MaxMessageSize); err != nil {
			errs = append(errs, err)
		}
		if f.SMTP.RelayPort != nil {
			c.SMTP.RelayPort = *f.SMTP.RelayPort
		}
	}
	for _, l := range []struct {
		from *filePair
		to   *Listeners
	}{{f.IMAP, &c.IMAP}, {f.POP3, &c.POP3}, {f.HTTP, (*Listeners)(&c.HTTP)}} {
		if l.from != nil {
			setList(&l.to.Listen, l.from.Listen)
			setList(&l.to.TLSListen, l.from.TLSListen)
		}
	}
	if f.DNS != nil {
		setString(&c.DNS.Resolver, f.DNS.Resolver)
	}
	if f.Queue != nil && f.Queue.Timeout != nil {
		d, err := time.ParseDuration(*f.Queue.Timeout)
		if err != nil {
			errs = append(errs, &Error{Key: "queue.timeout", Msg: fmt.Sprintf("%q is not a duration such as \"10m\" or \"30s\"", *f.Queue.Timeout), Err: ErrValue})
		} else {
			c.Queue.Timeout = d
		}
	}
	if f.Limits != nil && f.Limits.ShutdownTimeout != nil {
		d, err := time.ParseDuration(*f.Limits.ShutdownTimeout)
		if err != nil {
			errs = append(errs, &Error{Key: "limits.shutdown_timeout", Msg: fmt.Sprintf("%q is not a duration such as \"30s\" or \"1m30s\"", *f.Limits.ShutdownTimeout), Err: ErrValue})
		} else {
			c.Limits.ShutdownTimeout = d
		}
	}
	return errs
}

func setString(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// setList stores a present list; an empty one becomes nil, the one spelling
// of "disabled", so that a Config survives Render and Load unchanged.
func setList(dst *[]string, v *[]string) {
	if v == nil {
		return
	}
	*dst = nil
	if len(*v) > 0 {
		*dst = *v
	}
}

func setSize(dst *Size, v any) *Error {
	switch v := v.(type) {
	case nil:
		return nil
	case int64:
		*dst = Size(v)
		return nil
	case string:
		s, err := ParseSize(v)
		if err != nil {
			return &Error{Key: "smtp.max_message_size", Msg: fmt.Sprintf("%q is not a size such as \"50MB\" or \"1GiB\"", v), Err: ErrValue}
		}
		*dst = s
		return nil
	}
	return &Error{Key: "smtp.max_message_size", Msg: fmt.Sprintf("expected %s, found %T", shapeName(shapeSize), v), Err: ErrType}
}
