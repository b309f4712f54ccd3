package main

// A minimal Exchange ActiveSync client for the activesync-* scenarios: HTTPS with Basic
// authentication ([MS-ASHTTP] 2.2.1.1), WBXML bodies through Mailroom's codec, and the
// commands a mail device needs to provision ([MS-ASPROV] 3.1.5.1, both phases), learn
// its folders (FolderSync, [MS-ASCMD] 2.2.1.5), sync the Inbox (Sync, 2.2.1.21) and wait
// for changes (Ping, 2.2.1.13). HTTP/1.1 only, one connection per device at a time, as
// phones do: a held Ping is a held connection.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mailroom/internal/wbxml"
)

const contentTypeWBXML = "application/vnd.ms-sync.wbxml"

// maxSources bounds --sources: 127.0.0.1 to 127.0.0.N.
const maxSources = 64

// easSetup is where and as whom the scenarios connect.
type easSetup struct {
	addr    string // host:port, checked to be loopback
	user    string
	pass    string
	version string // MS-ASProtocolVersion
	sources int    // loopback source addresses to spread connections over
}

// commonEASFlags declares the flags every activesync scenario has and returns a
// function that checks them once parsed.
func commonEASFlags(fs *flag.FlagSet, s *easSetup) func() error {
	addr := fs.String("addr", "", "HTTPS server `host:port` serving /Microsoft-Server-ActiveSync; loopback only")
	fs.StringVar(&s.user, "user", "", "login `name` (the account whose Inbox is synced)")
	fs.StringVar(&s.pass, "password", "", "login `password`")
	fs.StringVar(&s.version, "protocol", "16.1", "ActiveSync protocol `version`: 14.1, 16.0 or 16.1")
	fs.IntVar(&s.sources, "sources", 1, "spread connections over this many loopback source addresses (127.0.0.1 to 127.0.0.N)")
	return func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments %q", fs.Args())
		}
		if *addr == "" {
			return errors.New("--addr is required")
		}
		var err error
		if s.addr, err = loopbackAddr(*addr); err != nil {
			return fmt.Errorf("--addr: %w", err)
		}
		if s.user == "" || s.pass == "" {
			return errors.New("--user and --password are required")
		}
		switch s.version {
		case "14.1", "16.0", "16.1":
		default:
			return fmt.Errorf("--protocol %q: want 14.1, 16.0 or 16.1", s.version)
		}
		if s.sources < 1 || s.sources > maxSources {
			return fmt.Errorf("--sources %d: want 1 to %d", s.sources, maxSources)
		}
		return nil
	}
}

// newEASTransport returns an HTTP/1.1 transport that keeps up to conns connections to
// the server, each dialled from the next of the setup's source addresses.
func newEASTransport(s easSetup, conns int) *http.Transport {
	var next atomic.Uint32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout, Control: checkSocket}
		if s.sources > 1 {
			i := next.Add(1) % uint32(s.sources)
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     clientTLS(),
		TLSHandshakeTimeout: dialTimeout,
		// A non-nil empty map keeps the client on HTTP/1.1: with HTTP/2 every device
		// would share one connection, which is not what phones do.
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     5 * time.Minute,
	}
}

// easDevice is one simulated device: its id, its policy key and its Inbox state.
type easDevice struct {
	setup     easSetup
	http      *http.Client
	id        string
	policyKey string
	inbox     string // the Inbox's CollectionId
	syncKey   string // the Inbox's current SyncKey
}

func newEASDevice(s easSetup, hc *http.Client, id string) *easDevice {
	return &easDevice{setup: s, http: hc, id: id}
}

// errHTTP is an answer other than 200.
type errHTTP struct {
	cmd    string
	status int
}

func (e *errHTTP) Error() string { return fmt.Sprintf("%s: HTTP %d", e.cmd, e.status) }

// do sends cmd with the XML form of its body ("" for none) and decodes the answer; a
// nil element means an empty body.
func (d *easDevice) do(ctx context.Context, cmd, body string) (*wbxml.Element, error) {
	var payload []byte
	if body != "" {
		el, err := wbxml.ParseXML([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("%s request: %w", cmd, err)
		}
		if payload, err = wbxml.Encode(el); err != nil {
			return nil, fmt.Errorf("%s request: %w", cmd, err)
		}
	}
	u := "https://" + d.setup.addr + "/Microsoft-Server-ActiveSync?Cmd=" + cmd + "&User=" + url.QueryEscape(d.setup.user) +
		"&DeviceId=" + d.id + "&DeviceType=MailBench"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	req.SetBasicAuth(d.setup.user, d.setup.pass)
	req.Header.Set("User-Agent", "mailbench/1")
	req.Header.Set("MS-ASProtocolVersion", d.setup.version)
	req.Header.Set("Content-Type", contentTypeWBXML)
	if d.policyKey != "" {
		req.Header.Set("X-MS-PolicyKey", d.policyKey)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read the answer: %w", cmd, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &errHTTP{cmd, resp.StatusCode}
	}
	if len(b) == 0 {
		return nil, nil
	}
	el, err := wbxml.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: decode the answer: %w", cmd, err)
	}
	return el, nil
}

// provision runs both phases of [MS-ASPROV] 3.1.5.1 and keeps the final policy key.
func (d *easDevice) provision(ctx context.Context) error {
	const policy = `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>`
	ns := wbxml.NSProvision
	key := func(r *wbxml.Element) string {
		return r.Child(ns, "Policies").Child(ns, "Policy").ChildText(ns, "PolicyKey")
	}
	d.policyKey = ""
	r, err := d.do(ctx, "Provision", policy+`</Policy></Policies></Provision>`)
	if err != nil {
		return err
	}
	temp := key(r)
	if temp == "" {
		return fmt.Errorf("provision: no policy key (status %s)", r.ChildText(ns, "Status"))
	}
	d.policyKey = temp
	r, err = d.do(ctx, "Provision", policy+`<PolicyKey>`+temp+`</PolicyKey><Status>1</Status></Policy></Policies></Provision>`)
	if err != nil {
		return err
	}
	if d.policyKey = key(r); d.policyKey == "" {
		return fmt.Errorf("provision: no final policy key (status %s)", r.ChildText(ns, "Status"))
	}
	return nil
}

// folderSync learns the folder list and keeps the Inbox's id (folder type 2).
func (d *easDevice) folderSync(ctx context.Context) error {
	ns := wbxml.NSFolderHierarchy
	r, err := d.do(ctx, "FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	if err != nil {
		return err
	}
	if st := r.ChildText(ns, "Status"); st != "1" {
		return fmt.Errorf("FolderSync: status %s", st)
	}
	for _, a := range r.Child(ns, "Changes").All(ns, "Add") {
		if a.ChildText(ns, "Type") == "2" {
			d.inbox = a.ChildText(ns, "ServerId")
			return nil
		}
	}
	return errors.New("FolderSync: no Inbox (folder type 2)")
}

// syncResult is what one Sync of the Inbox brought.
type syncResult struct {
	added int
	more  bool
	first string // ServerId of the first item added, if any
}

// syncInbox sends one Sync of the Inbox at the device's key (0 when it has none) and
// adopts the new key. Options go with the first two Syncs; the server remembers them.
func (d *easDevice) syncInbox(ctx context.Context, window int, commands string) (syncResult, error) {
	ns := wbxml.NSAirSync
	key, opts := d.syncKey, ""
	if key == "" {
		key = "0"
	}
	if key == "0" || commands != "" {
		opts = `<Options><FilterType>0</FilterType><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>` +
			`<airsyncbase:TruncationSize>32768</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>`
	}
	getChanges := ""
	if key != "0" {
		getChanges = `<GetChanges>1</GetChanges>`
	}
	r, err := d.do(ctx, "Sync", `<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:" xmlns:email="Email:"><Collections><Collection>`+
		`<SyncKey>`+key+`</SyncKey><CollectionId>`+d.inbox+`</CollectionId>`+getChanges+
		`<WindowSize>`+strconv.Itoa(window)+`</WindowSize>`+opts+commands+`</Collection></Collections></Sync>`)
	if err != nil {
		return syncResult{}, err
	}
	if r == nil {
		return syncResult{}, nil // no changes ([MS-ASCMD] 2.2.1.21: an empty answer)
	}
	if st := r.ChildText(ns, "Status"); st != "" && st != "1" {
		return syncResult{}, fmt.Errorf("sync: status %s", st)
	}
	c := r.Child(ns, "Collections").Child(ns, "Collection")
	if c == nil {
		return syncResult{}, fmt.Errorf("sync: no Collection in %.200s", r.XML())
	}
	if st := c.ChildText(ns, "Status"); st != "1" {
		return syncResult{}, fmt.Errorf("sync: collection status %s", st)
	}
	if k := c.ChildText(ns, "SyncKey"); k != "" {
		d.syncKey = k
	}
	var res syncResult
	res.more = c.Child(ns, "MoreAvailable") != nil
	adds := c.Child(ns, "Commands").All(ns, "Add")
	res.added = len(adds)
	if len(adds) > 0 {
		res.first = adds[0].ChildText(ns, "ServerId")
	}
	return res, nil
}

// fullSync takes the device from no key to holding every Inbox item, window items per
// round trip; it returns the items received and the round trips made.
func (d *easDevice) fullSync(ctx context.Context, window, maxRounds int) (items, rounds int, first string, err error) {
	d.syncKey = ""
	for rounds < maxRounds {
		res, err := d.syncInbox(ctx, window, "")
		rounds++
		if err != nil {
			return items, rounds, first, err
		}
		items += res.added
		if first == "" {
			first = res.first
		}
		if d.syncKey != "0" && d.syncKey != "" && rounds > 1 && !res.more {
			return items, rounds, first, nil
		}
	}
	return items, rounds, first, fmt.Errorf("sync: still more after %d round trips", maxRounds)
}

// setRead changes one item's Read flag: a store write every Ping on the Inbox sees.
func (d *easDevice) setRead(ctx context.Context, serverID string, read bool) error {
	v := "0"
	if read {
		v = "1"
	}
	_, err := d.syncInbox(ctx, 1, `<Commands><Change><ServerId>`+serverID+`</ServerId><ApplicationData>`+
		`<email:Read>`+v+`</email:Read></ApplicationData></Change></Commands>`)
	return err
}

// ping holds a Ping on the Inbox; it returns the Ping status.
func (d *easDevice) ping(ctx context.Context, heartbeat int) (string, error) {
	r, err := d.do(ctx, "Ping", `<Ping xmlns="Ping:"><HeartbeatInterval>`+strconv.Itoa(heartbeat)+`</HeartbeatInterval>`+
		`<Folders><Folder><Id>`+d.inbox+`</Id><Class>Email</Class></Folder></Folders></Ping>`)
	if err != nil {
		return "", err
	}
	if r == nil {
		return "", errors.New("ping: empty answer")
	}
	return strings.TrimSpace(r.ChildText(wbxml.NSPing, "Status")), nil
}
